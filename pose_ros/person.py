"""The pipeline's data model: what every stage produces and every output consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class DepthSource(IntEnum):
    """Where a person's root position comes from (the Skeleton.msg DEPTH_* constants)."""

    NONE = 0        # root unknown: 3D keypoints are relative to the pelvis
    IMAGE = 1       # root from an aligned depth image
    MONOCULAR = 2   # root from intrinsics + reprojection of the lifted skeleton


@dataclass
class Hand:
    """One hand of a person from the hand model (enable_hands).

    Attributes:
        side: "left" or "right", the person's own (from the pose, not the hand model).
        score: the hand model's presence in [0, 1].
        keypoints_2d: (21, 3) x_px, y_px, score in skeleton.HAND21 order (score = presence:
            the hand model gives none per keypoint).
        world_m: (21, 3) metres around the hand's centre, camera axes (MediaPipe's hand world
            landmarks turned back by the crop's rotation).
    """

    side: str
    score: float
    keypoints_2d: np.ndarray
    world_m: np.ndarray


@dataclass
class Person:
    """One person in one frame.

    Attributes:
        track_id: stable while tracked, never reused within a run (0 before tracking assigns one).
        score: person confidence in [0, 1].
        bbox_px: (4,) x_min, y_min, x_max, y_max in source-image pixels.
        keypoints_2d: (K, 3) x_px, y_px, score in the published topology's order.
        keypoints_3d: (K, 4) x, y, z metres (camera optical frame, or pelvis-relative when
            depth_source is NONE), score; None when 3D is off.
        root_camera_m: (3,) pelvis position in the camera optical frame; None when unknown.
        depth_source: how root_camera_m was obtained.
        hands: the hands found by the hand model (enable_hands), at most one per side.
        cues: what the person shows (cues.engine.PersonCues), None when cues are off.
    """

    track_id: int
    score: float
    bbox_px: np.ndarray
    keypoints_2d: np.ndarray
    keypoints_3d: np.ndarray | None = None
    root_camera_m: np.ndarray | None = None
    depth_source: DepthSource = DepthSource.NONE
    hands: list[Hand] = field(default_factory=list)
    cues: object | None = None

    def __post_init__(self) -> None:
        self.bbox_px = np.asarray(self.bbox_px, dtype=np.float32).reshape(4)
        self.keypoints_2d = np.asarray(self.keypoints_2d, dtype=np.float32)
        assert self.keypoints_2d.ndim == 2 and self.keypoints_2d.shape[1] == 3, (
            f"keypoints_2d must be (K, 3), got {self.keypoints_2d.shape}")
        if self.keypoints_3d is not None:
            self.keypoints_3d = np.asarray(self.keypoints_3d, dtype=np.float32)
            assert self.keypoints_3d.shape == (len(self.keypoints_2d), 4), (
                f"keypoints_3d must be ({len(self.keypoints_2d)}, 4), "
                f"got {self.keypoints_3d.shape}")
        if self.root_camera_m is not None:
            self.root_camera_m = np.asarray(self.root_camera_m, dtype=np.float64).reshape(3)
        self.depth_source = DepthSource(self.depth_source)


@dataclass
class FramePoses:
    """Everything published for one source image.

    The stamp is kept as integer nanoseconds so a ROS header is copied exactly (float seconds
    lose sub-microsecond digits at epoch times).
    """

    stamp_ns: int
    frame_id: str
    width: int
    height: int
    skeleton: str
    keypoint_names: tuple[str, ...]
    people: list[Person] = field(default_factory=list)

    @property
    def stamp_s(self) -> float:
        return self.stamp_ns * 1e-9
