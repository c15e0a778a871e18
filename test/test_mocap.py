"""BVH read by the format: units and up axis from the motion, position channels, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import synthetic_bvh as synth

from pose_ros.errors import PoseRosError
from pose_ros.skeleton import H36M17
from pose_ros.train import bvh, mocap

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mocap"
UNITS = {"mm": 0.001, "cm": 0.01, "m": 1.0, "inch": 0.0254}
_BVH_OF = {"left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
           "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot",
           "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
           "right_shoulder": "RightArm", "right_elbow": "RightForeArm",
           "right_wrist": "RightHand", "head": "Head"}


@pytest.fixture(scope="module")
def take():
    return synth.motion()


def expected_joints(rot, root, fps=30.0):
    """The lifter's 17 joints of the synthetic body, metres, y up, resampled like the reader."""
    pos = synth.expected(rot, root)
    found = {k: synth.NAMES.index(v) for k, v in _BVH_OF.items()}
    return mocap.resample(bvh.lifter_joints(pos, found), 1 / 30, fps)


def read(tmp_path, text: str, name: str = "take.bvh", units=None) -> mocap.Take:
    path = tmp_path / name
    path.write_text(text)
    return mocap.read_take(path, units)


@pytest.mark.parametrize("unit", list(UNITS))
def test_units_come_from_the_body(tmp_path, take, unit):
    got = read(tmp_path, synth.write(*take, units_m=UNITS[unit]))
    assert got.units == unit and got.up_axis == "+y"
    np.testing.assert_allclose(got.joints_m, expected_joints(*take), atol=2e-4)
    assert got.body.stature_m == pytest.approx(synth.HEAD_HEIGHT_M / 0.9, abs=0.02)
    assert got.body.thigh_m == pytest.approx(0.43, abs=1e-3)


def test_six_channel_joints_read_like_three_channel_joints(tmp_path, take):
    three = read(tmp_path, synth.write(*take), "three.bvh")
    six = read(tmp_path, synth.write(*take, six=True), "six.bvh")  # OFFSETs are decoys
    np.testing.assert_allclose(six.joints_m, three.joints_m, atol=1e-5)
    assert six.units == three.units == "cm"


def test_a_zero_pose_lying_along_x_changes_nothing(tmp_path, take):
    lying = read(tmp_path, synth.write(*take, along_x=True))
    np.testing.assert_allclose(lying.joints_m, expected_joints(*take), atol=2e-4)
    assert lying.units == "cm"


def test_a_z_up_file_comes_out_y_up(tmp_path, take):
    z_up = read(tmp_path, synth.write(*take, z_up=True, units_m=0.0254))
    assert z_up.up_axis == "+z" and z_up.units == "inch"
    np.testing.assert_allclose(z_up.joints_m, expected_joints(*take), atol=2e-4)


def test_a_t_pose_first_frame_does_not_fool_the_units(tmp_path):
    rot, root = synth.motion(t_pose_first=True)
    got = read(tmp_path, synth.write(rot, root, units_m=0.001))
    assert got.units == "mm"
    first = got.joints_m[0]
    arm = first[H36M17.index("left_wrist")] - first[H36M17.index("left_shoulder")]
    assert abs(arm[1]) < 0.02 and arm[0] > 0.5  # arms out to the side in frame 0
    np.testing.assert_allclose(got.joints_m, expected_joints(rot, root), atol=2e-4)


def test_a_body_implausible_in_the_given_unit_is_refused_in_one_line(tmp_path, take):
    path = tmp_path / "tiny.bvh"
    path.write_text(synth.write(*take, units_m=1.0))
    assert mocap.read_take(path).units == "m"
    with pytest.raises(PoseRosError) as err:
        mocap.read_take(path, units="cm")  # a 1.8 cm person
    message = str(err.value)
    assert "\n" not in message and "tiny.bvh" in message and "0.02 m" in message


def test_no_unit_fits_names_the_file_and_the_height(tmp_path, take):
    text = synth.write(*take, units_m=0.004)  # 1 unit = 4 mm: between mm and cm
    with pytest.raises(PoseRosError, match=r"odd\.bvh: implausible body.* 4\.\d\d m in the "
                       r"nearest unit \(cm\)"):
        read(tmp_path, text, "odd.bvh")
    got = read(tmp_path, text, "odd2.bvh", units=0.004)  # --units as metres per unit
    np.testing.assert_allclose(got.joints_m, expected_joints(*take), atol=2e-4)


@pytest.mark.parametrize("text, reason", [
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n", "no MOTION"),
    ("not a bvh", "HIERARCHY"),
])
def test_broken_files_give_one_line_errors(tmp_path, text, reason):
    with pytest.raises(PoseRosError, match=reason) as err:
        read(tmp_path, text, "broken.bvh")
    assert "broken.bvh" in str(err.value) and "\n" not in str(err.value)


def test_a_truncated_motion_is_named(tmp_path, take):
    text = synth.write(*take)
    with pytest.raises(PoseRosError, match="truncated"):
        read(tmp_path, text[:-200], "cut.bvh")


# One take of each conversion in ../shared/data/mocap (CMU cgspeed, Daz-style cm, iClone cm,
# MotionBuilder names, Daz-style scaled by 0.782 into "metres").
SAMPLES = ["cmu/02_01.bvh", "cmu/35_01.bvh", "cmu/143_32.bvh", "cmu_extra/001_08.bvh",
           "cmu_extra/05_06.bvh", "cmu_extra/131_01.bvh"]


@pytest.mark.parametrize("name", SAMPLES)
def test_every_conversion_reads_to_adult_proportions(name):
    if not (DATA / name).exists():
        pytest.skip("../shared/data/mocap is absent")
    body = mocap.read_take(DATA / name).body
    assert 1.3 <= body.stature_m <= 2.1
    assert 0.33 <= body.thigh_m <= 0.5 and 0.36 <= body.shin_m <= 0.52
    assert 0.2 <= body.shoulder_width_m <= 0.45 and 0.12 <= body.hip_width_m <= 0.36


def test_the_rescaled_daz_takes_are_refused_unless_their_unit_is_given():
    path = DATA / "cmu_extra" / "60_02_scaled.bvh"
    if not path.exists():
        pytest.skip("../shared/data/mocap/cmu_extra is absent")
    with pytest.raises(PoseRosError, match=r"60_02_scaled.bvh: implausible body.*1\.2\d m"):
        mocap.read_take(path)
    body = mocap.read_take(path, 1.279).body  # the Daz figure of the cm takes (0.782 x)
    daz = mocap.read_take(DATA / "cmu" / "02_01.bvh").body
    assert body.thigh_m == pytest.approx(daz.thigh_m, rel=0.01)
