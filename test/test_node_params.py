"""The node's parameter layer, without ROS: specs, validation, and config/pose.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pose_ros.errors import PoseRosError
from pose_ros.ros.node_params import all_params, check_value, node_config, tf_child_frame

ROOT = Path(__file__).resolve().parents[1]


def test_every_parameter_has_a_description_and_a_valid_default():
    specs = all_params()
    assert len({s.name for s in specs}) == len(specs)
    for spec in specs:
        assert len(spec.description) > 10, spec.name
        assert check_value(spec, spec.default) is None, spec.name


def test_pose_yaml_lists_every_parameter_with_its_default():
    params = yaml.safe_load((ROOT / "config" / "pose.yaml").read_text())["/**"]["ros__parameters"]
    specs = {s.name: s for s in all_params()}
    assert set(params) == set(specs)
    for name, value in params.items():
        assert value == specs[name].default, name
    assert node_config(params) == node_config({})


def test_defaults_build_a_pipeline_config():
    cfg = node_config({})
    assert cfg.pipeline.skeleton == "coco17" and cfg.image_transport == "raw"


@pytest.mark.parametrize("name, value, reason", [
    ("detection_threshold", 1.5, "<= 1.0"),
    ("max_people", 0, ">= 1"),
    ("skeleton", "openpose", "one of"),
    ("lifter_receptive_field", 10, "one of"),
    ("image_transport", "theora", "one of"),
    ("enable_3d", "yes", "must be a bool"),
])
def test_invalid_values_are_rejected_with_a_reason(name, value, reason):
    spec = next(s for s in all_params() if s.name == name)
    assert reason in check_value(spec, value)
    with pytest.raises(PoseRosError, match=name):
        node_config({name: value})


def test_integers_are_accepted_for_float_parameters():
    assert node_config({"smoothing_beta": 5}).pipeline.smoothing_beta == 5.0


def test_unknown_parameters_are_named():
    with pytest.raises(PoseRosError, match="unknown parameter 'detection_treshold'"):
        node_config({"detection_treshold": 0.4})


def test_device_is_checked_by_the_pipeline_config():
    with pytest.raises(PoseRosError, match="device"):
        node_config({"device": "gpu"})


def test_assumed_field_of_view_is_zero_or_plausible():
    assert node_config({"assumed_hfov_deg": 0.0}).assumed_hfov_deg == 0.0
    assert node_config({"assumed_hfov_deg": 90}).assumed_hfov_deg == 90.0
    with pytest.raises(PoseRosError, match=r"0 \(no guess\) or in \[10, 170\]"):
        node_config({"assumed_hfov_deg": 5.0})


@pytest.mark.parametrize("prefix, node, frame", [
    ("~/person_", "/front/pose_node", "front/pose_node/person_7"),
    ("~/person_", "/pose_node", "pose_node/person_7"),
    ("person_", "/front/pose_node", "person_7"),
    ("/people/p", "/pose_node", "people/p7")])       # tf2 frame ids have no leading slash
def test_tf_child_frames_are_unique_per_node(prefix, node, frame):
    assert tf_child_frame(prefix, node, 7) == frame
