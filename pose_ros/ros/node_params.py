"""The node's parameters as data: names, defaults, descriptions, ranges, read-only flags.

The pipeline parameters are the PipelineConfig fields (same names, same defaults); the node adds
its own (topics' transport, QoS, depth, markers, TF, diagnostics). node.py turns each ParamSpec
into a declared ROS parameter with a descriptor; validation lives here so CI tests it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pose_ros.camera import DEFAULT_HFOV_DEG
from pose_ros.errors import PoseRosError
from pose_ros.models.backends import BACKENDS
from pose_ros.pipeline import PipelineConfig
from pose_ros.ros.markers import MarkerStyle


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: Any
    description: str
    read_only: bool = True
    min_value: float | None = None   # numeric range, inclusive
    max_value: float | None = None
    choices: tuple | None = None     # allowed values (strings, or ints such as receptive fields)


_PIPELINE_DOCS: dict[str, tuple[str, dict]] = {
    "device": ("'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:N'", {}),
    "precision": ("2D network precision; fp16 on CUDA only (refused on the CPU)",
                  {"choices": ("fp32", "fp16")}),
    "num_threads": ("torch CPU threads; 0 = the library default (1, robust on a busy CPU)",
                    {"min_value": 0, "max_value": 256}),
    "backend": ("where the 2D networks run: 'auto' (onnxruntime on CPU when installed, else "
                "torch), 'torch', 'onnxruntime' (providers follow the device: TensorRT, CUDA, "
                "CPU) or 'onnxruntime-cpu|cuda|tensorrt'", {"choices": BACKENDS}),
    "detector_model": ("BlazePose detector: model store name or a local .tflite path", {}),
    "landmark_model": ("BlazePose landmark model: model store name or a local .tflite path", {}),
    "lifter_model": ("3D lifter weights file; empty = the weights shipped in the package", {}),
    "allow_download": ("fetch missing BlazePose models from PyPI on first start", {}),
    "detection_threshold": ("minimum person-detector score", {"min_value": 0.0, "max_value": 1.0}),
    "presence_threshold": ("minimum pose presence for a person to be published",
                           {"min_value": 0.0, "max_value": 1.0}),
    "max_people": ("at most this many people per frame", {"min_value": 1, "max_value": 100}),
    "detect_every_n_frames": ("run the detector at least every N frames while people are "
                              "tracked (newcomers)", {"min_value": 1, "max_value": 10000}),
    "tile_levels": ("levels of overlapping square tiles the person detector also searches, "
                    "for people too small for it in the whole frame (level 1: tiles of the "
                    "image's short side, finds people down to ~0.3 x it; level 2: half that; "
                    "0: whole frame only)", {"min_value": 0, "max_value": 4}),
    "tile_every_n_frames": ("search one tile every N frames, round robin, skipping tiles "
                            "tracked people cover (all tiles on the first frame)",
                            {"min_value": 1, "max_value": 10000}),
    "body_proposals": ("also segment each searched tile (MediaPipe selfie segmentation) and "
                       "give the landmark model the person regions no one tracked or detected "
                       "holds: people the face-anchored detector misses", {}),
    "skeleton": ("published keypoint set", {"choices": ("coco17", "blazepose33")}),
    "enable_3d": ("lift to 3D and place people in the camera frame", {}),
    "pose3d": ("where each person's 3D comes from: 'world' (BlazePose world landmarks), "
               "'lifter' (temporal lifter on 2D) or 'fused' (a lifter fed both)",
               {"choices": ("world", "lifter", "fused")}),
    "lifter_receptive_field": ("frames of 2D history the lifter uses",
                               {"choices": (1, 9, 27, 81)}),
    "smoothing": ("One Euro smoothing of published keypoints", {}),
    "smoothing_min_cutoff_hz": ("One Euro minimum cutoff (lower = smoother when still)",
                                {"min_value": 1e-3, "max_value": 100.0}),
    "smoothing_beta": ("One Euro speed coefficient (higher = less lag when moving)",
                       {"min_value": 0.0, "max_value": 1e4}),
    "smoothing_d_cutoff_hz": ("One Euro cutoff of the speed estimate",
                              {"min_value": 1e-3, "max_value": 100.0}),
    "tracking_metric": ("similarity used to match people to tracks",
                        {"choices": ("oks", "iou")}),
    "tracking_min_similarity": ("association gate: lower similarity starts a new track",
                                {"min_value": 0.0, "max_value": 1.0}),
    "tracking_min_hits": ("matches before a new track is published",
                          {"min_value": 1, "max_value": 1000}),
    "tracking_max_age_frames": ("frames a lost track keeps its id",
                                {"min_value": 1, "max_value": 100000}),
    # hands and cues (issue 13)
    "enable_hands": ("21 keypoints per hand (MediaPipe Holistic's hand models), published in "
                     "~/cues", {}),
    "hands_raised_only": ("look only at hands whose forearm does not hang (hand cues need the "
                          "hand up); false: every visible hand", {}),
    "enable_cues": ("publish ~/cues: hand raised, waving, pointing, open palm, thumbs up, facing, "
                    "approaching, with start/stop events", {}),
    "camera_height_m": ("camera height above the floor, for pointing targets on the floor; "
                        "0 = unknown (rays only)", {"min_value": 0.0, "max_value": 20.0}),
    "camera_pitch_deg": ("camera tilt below the horizon, degrees (with camera_height_m)",
                         {"min_value": -90.0, "max_value": 90.0}),
    "cue_hold_s": (("how long a cue must hold before it starts (pointing twice this, hand_raised "
                    "0.1 s less, waving on its second reversal); cues stop 0.3 s after they are "
                    "gone (waving 0.6 s)"),
                   {"min_value": 0.0, "max_value": 10.0}),
}

_NODE_DOCS: dict[str, tuple[str, dict]] = {
    "image_transport": ("'raw': subscribe to image (sensor_msgs/Image); 'compressed': to "
                        "image/compressed (sensor_msgs/CompressedImage)",
                        {"choices": ("raw", "compressed")}),
    "reliability": ("QoS reliability of the image subscriptions (bag playback often needs "
                    "'reliable')", {"choices": ("best_effort", "reliable")}),
    "use_depth": ("subscribe to an aligned depth image (depth: 16UC1 mm or 32FC1 m), paired "
                  "with the colour image by stamp", {}),
    "depth_sync_slop_s": ("largest stamp difference between a paired colour and depth image",
                          {"min_value": 0.001, "max_value": 1.0}),
    "marker_lifetime_s": ("lifetime of the RViz markers, so departed people vanish",
                          {"read_only": False, "min_value": 0.0, "max_value": 60.0}),
    "publish_tf": ("broadcast a TF frame <tf_prefix><id> at each person's root (parent: the "
                   "image frame)", {"read_only": False}),
    "tf_prefix": ("prefix of the per-person TF frames; a leading '~/' stands for the node's "
                  "namespace and name, so two nodes never share a frame", {"read_only": False}),
    "diagnostics_period_s": ("period of /diagnostics", {"min_value": 0.1, "max_value": 60.0}),
    "max_latency_s": ("image-stamp-to-publish latency above which diagnostics warn",
                      {"read_only": False, "min_value": 0.001, "max_value": 60.0}),
    "error_after_s": ("diagnostics turn ERROR when every frame has failed for this long",
                      {"read_only": False, "min_value": 0.1, "max_value": 3600.0}),
    "assumed_hfov_deg": ("without usable camera_info: horizontal field of view (degrees, "
                         "10-170) that places people in 3D; 0: publish pelvis-relative 3D "
                         "(DEPTH_NONE) instead", {"min_value": 0.0, "max_value": 170.0}),
    "hri_output": ("also publish REP-155 (ROS4HRI) bodies: /humans/bodies/tracked, "
                   "/humans/bodies/<id>/roi and skeleton2d, TF body_<id> (needs hri_msgs)", {}),
}


@dataclass(frozen=True)
class NodeConfig:
    """All parameters of the node, checked: the pipeline's and the node's own."""

    pipeline: PipelineConfig
    image_transport: str = "raw"
    reliability: str = "best_effort"
    use_depth: bool = False
    depth_sync_slop_s: float = 0.05
    marker_lifetime_s: float = MarkerStyle.lifetime_s
    publish_tf: bool = False
    tf_prefix: str = "~/person_"
    diagnostics_period_s: float = 1.0
    max_latency_s: float = 0.5
    error_after_s: float = 5.0
    assumed_hfov_deg: float = DEFAULT_HFOV_DEG
    hri_output: bool = False


def _specs(cls: type, docs: dict[str, tuple[str, dict]]) -> tuple[ParamSpec, ...]:
    """One ParamSpec per dataclass field: defaults come from the dataclass, the rest from docs."""
    fields = [f for f in dataclasses.fields(cls) if f.name != "pipeline"]
    return tuple(ParamSpec(f.name, f.default, docs[f.name][0], **docs[f.name][1])
                 for f in fields)


def all_params() -> tuple[ParamSpec, ...]:
    """The pipeline's parameters, then the node's own."""
    return _specs(PipelineConfig, _PIPELINE_DOCS) + _specs(NodeConfig, _NODE_DOCS)


def check_value(spec: ParamSpec, value: Any) -> str | None:
    """Why `value` is not acceptable for `spec`, or None when it is."""
    expected = type(spec.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not expected:
        return f"{spec.name} must be a {expected.__name__}, got {value!r}"
    if spec.choices is not None and value not in spec.choices:
        return f"{spec.name} must be one of {list(spec.choices)}, got {value!r}"
    if spec.min_value is not None and value < spec.min_value:
        return f"{spec.name} must be >= {spec.min_value}, got {value!r}"
    if spec.max_value is not None and value > spec.max_value:
        return f"{spec.name} must be <= {spec.max_value}, got {value!r}"
    return None


def node_config(values: dict[str, Any]) -> NodeConfig:
    """Parameter values by name -> NodeConfig; every problem is named in one PoseRosError."""
    specs = {s.name: s for s in all_params()}
    problems = [f"unknown parameter {name!r}" for name in values if name not in specs]
    merged = {name: spec.default for name, spec in specs.items()}
    merged.update({k: v for k, v in values.items() if k in specs})
    problems += [p for s in specs.values() if (p := check_value(s, merged[s.name]))]
    hfov = merged["assumed_hfov_deg"]
    if isinstance(hfov, (int, float)) and 0 < hfov < 10:
        problems.append(f"assumed_hfov_deg must be 0 (no guess) or in [10, 170], got {hfov}")
    if problems:
        raise PoseRosError("invalid parameters: " + "; ".join(problems))
    pipeline_names = {f.name for f in dataclasses.fields(PipelineConfig)}
    merged = {k: float(v) if isinstance(specs[k].default, float) else v for k, v in merged.items()}
    pipeline = PipelineConfig(**{k: v for k, v in merged.items() if k in pipeline_names})
    return NodeConfig(pipeline=pipeline,
                      **{k: v for k, v in merged.items() if k not in pipeline_names})


def tf_child_frame(prefix: str, node_name: str, track_id: int) -> str:
    """The TF frame of a person: `prefix` + id, a leading '~/' replaced by the node's fully
    qualified name without its leading slash ('/front/pose_node' -> 'front/pose_node/')."""
    if prefix.startswith("~/"):
        prefix = node_name.strip("/") + "/" + prefix[2:]
    return f"{prefix.lstrip('/')}{track_id}"
