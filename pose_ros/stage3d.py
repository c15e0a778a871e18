"""The pipeline's 3D stage: each person's root-relative 3D, from one of three sources, placed in
the camera.

Sources (`pose3d`):
  lifter  the temporal lifter on the person's 2D history (models/lifter.py);
  world   BlazePose's world landmarks of this frame (metres, hip-centred), mapped to the lifter's
          17 joints (skeleton.lifter_world_from_blazepose33), turned from the person's viewing
          ray into the camera's axes (`world_along_ray`), and smoothed over time (WORLD_POSE_FILTER,
          when `smoothing` is on);
  fused   a temporal lifter fed both the 2D history and the world landmarks (weights trained
          with simulated world-landmark errors; `Lifter.uses_world`).
Every source gives the same 17 joints (skeleton.H36M17), pelvis-relative, in the camera axes,
and goes through the same placement: an aligned depth image (DEPTH_IMAGE) when given and valid
around the person, else the camera intrinsics (from the CameraInfo when given, else guessed from
the image size) and the reprojection of the 3D skeleton onto the 2D keypoints (DEPTH_MONOCULAR).
Smoothing of the placed result is the pipeline's (One Euro per joint), the same for all sources.
All people of a frame are handled in one batched call.
"""

from __future__ import annotations

import logging

import numpy as np

from pose_ros import camera as cam
from pose_ros.errors import PoseRosError
from pose_ros.filters import OneEuroFilter, OneEuroParams
from pose_ros.person import DepthSource
from pose_ros.person_state import PersonState
from pose_ros.skeleton import (
    BLAZEPOSE33_TO_COCO17,
    H36M17,
    lifter_inputs_from_coco17,
    lifter_world_from_blazepose33,
)

log = logging.getLogger(__name__)

POSE3D_SOURCES = ("lifter", "world", "fused")
# One Euro filter on the `world` source's pelvis-relative pose (per person, metres/s speeds).
# BlazePose's world landmarks are per-frame estimates; the lifter's temporal window smooths its
# own. Chosen on the clips of ../shared/data/video (validation; bench/README.md, 3D sources):
# on tracks of >= 30 frames it halves the pose jitter (69 -> 35 mm/frame^2; the lifter: 24)
# while the reprojection error rises from 2.3 to 2.8 % of the box (the lifter: 4.5). 0.3 Hz /
# beta 2 nearly reached the lifter's jitter at 3.4 %, but its cutoff at 1 m/s (2.3 Hz, against
# 5.5) would damp a waving hand.
WORLD_POSE_FILTER = OneEuroParams(min_cutoff_hz=0.5, beta=5.0, d_cutoff_hz=1.0)


def load_lifter(config, device: str):
    """The lifter the 3D source needs (None for `world`), checked against the source."""
    from pose_ros.models import lifter as lifter_module

    if config.pose3d == "world":
        return None
    fused = config.pose3d == "fused"
    path = config.lifter_model or None
    if fused and path is None:
        shipped = lifter_module.SHIPPED_FUSED.get(config.lifter_receptive_field)
        if shipped is None or not shipped.exists():
            raise PoseRosError(
                f"pose3d 'fused': no fused lifter weights are installed for receptive field "
                f"{config.lifter_receptive_field}: set lifter_model to a file trained with world "
                f"landmarks, or use pose3d 'lifter' or 'world'")
        path = shipped
    lifter = lifter_module.Lifter.load(path, device=device,
                                       receptive_field=config.lifter_receptive_field,
                                       kind="fused" if fused else "2d")
    uses_world = lifter.uses_world
    if uses_world != fused:
        kind = "fused (2D + world landmarks)" if uses_world else "2D-only"
        raise PoseRosError(
            f"lifter_model {path} holds a {kind} lifter, which pose3d {config.pose3d!r} cannot "
            f"use: set pose3d to {'fused' if uses_world else 'lifter'}, or point lifter_model "
            f"at {'2D-only' if uses_world else 'fused'} weights")
    return lifter


class Stage3D:
    """3D source + placement. Each person's temporal history is its PersonState.lifter_stream
    (a fresh one when the state has none: a new track, or one back after a gap)."""

    def __init__(self, config, device: str) -> None:
        if config.pose3d not in POSE3D_SOURCES:
            raise PoseRosError(f"pose3d {config.pose3d!r}: use one of {list(POSE3D_SOURCES)}")
        self.source = config.pose3d
        self.lifter = load_lifter(config, device)
        # BlazePose sees a crop around the person, so its world landmarks are the body as seen
        # along the ray through the crop (the pelvis): rotated onto the camera's axes, the
        # placed world skeleton reprojects onto the 2D keypoints with 46 % less error on the
        # clip whose people stand about 22 degrees off-axis (2.6 vs 4.8 % of the box), and
        # about the same on centred ones (bench/README.md, 3D sources). False keeps
        # BlazePose's axes, for that comparison.
        self.world_along_ray = True
        # the world pose filter (None: off); follows `smoothing`
        self.world_pose_filter = WORLD_POSE_FILTER if config.smoothing else None
        self._warned_camera = False

    def weights_digest(self) -> str | None:
        """sha256 of the lifter weights in use; None when the source needs none (world)."""
        return self.lifter.digest if self.lifter is not None else None

    def intrinsics(self, camera, shape) -> cam.CameraIntrinsics:
        """CameraIntrinsics from a CameraInfo-like message, an intrinsics object, or a guess.

        An uncalibrated CameraInfo (K all zeros) falls back to the guess, with one warning.
        """
        height, width = shape[:2]
        if isinstance(camera, cam.CameraIntrinsics):
            return camera
        if camera is not None:
            try:
                return cam.CameraIntrinsics.from_camera_info(camera)
            except ValueError as exc:
                if not self._warned_camera:
                    self._warned_camera = True
                    log.warning("%s; using a guessed field of view of %.0f degrees", exc,
                                cam.DEFAULT_HFOV_DEG)
        return cam.CameraIntrinsics.guess(width, height)

    def relative(self, people: list[PersonState], keypoints: np.ndarray,
                 intrinsics: cam.CameraIntrinsics) -> np.ndarray:
        """(N, 17, 3) pelvis-relative metres in the camera axes, from the configured source
        (the world pose before its filter).

        keypoints: (N, 17, 3) the lifter joints' x_px, y_px, score (from the 2D keypoints).
        """
        world = None
        if self.source != "lifter":
            world = lifter_world_from_blazepose33(
                np.stack([p.landmarks.world_m for p in people])).astype(np.float64)
        if self.source == "world":
            if self.world_along_ray:   # the same turn as the fused lifter's input
                from pose_ros.models.lifter import normalize_world
                pelvis = intrinsics.normalized(keypoints[:, H36M17.index("pelvis"), :2])
                world = normalize_world(world, pelvis).astype(np.float64)
            return world
        # the fused lifter takes the world landmarks in BlazePose's axes (Lifter.normalize)
        for person in people:
            if person.lifter_stream is None:
                person.lifter_stream = self.lifter.stream()
        inputs = (self.lifter.normalize(keypoints, intrinsics) if world is None
                  else self.lifter.normalize(keypoints, intrinsics, world_m=world))
        return self.lifter.step([p.lifter_stream for p in people], inputs)

    def __call__(self, people: list[PersonState], shape, stamp_s: float, camera, depth_m, stage):
        """Per person: (17 lifter joints (17, 3) camera metres, scores (17,), root (3,), source)."""
        intrinsics = self.intrinsics(camera, shape)
        with stage("lift"):
            keypoints = np.stack([lifter_inputs_from_coco17(
                p.landmarks.keypoints_px[BLAZEPOSE33_TO_COCO17]) for p in people])
            relative_m = self.relative(people, keypoints, intrinsics)
        with stage("place"):
            out = []
            for person, rel, kp in zip(people, relative_m, keypoints, strict=True):
                root, source = None, DepthSource.MONOCULAR
                if depth_m is not None:
                    root = cam.root_from_depth(rel, kp, depth_m, intrinsics)
                    source = DepthSource.IMAGE
                if root is None:
                    root = cam.solve_root(rel, kp, intrinsics)
                    source = DepthSource.MONOCULAR
                out.append((self._smoothed_pose(person, rel, stamp_s) + root, kp[:, 2],
                            np.asarray(root, np.float64), source))
        return out

    def _smoothed_pose(self, person: PersonState, relative_m: np.ndarray,
                       stamp_s: float) -> np.ndarray:
        """The `world` pose through the person's pose filter (other sources: unchanged). The
        root was placed with the unfiltered pose, which fits this frame's 2D: placed with the
        filtered one, it would take up the filter's lag (root jitter 99 -> 124 mm/frame^2 on
        the long tracks of the clips, bench/README.md)."""
        if self.source != "world" or self.world_pose_filter is None:
            return relative_m
        if person.pose_filter is None:
            person.pose_filter = OneEuroFilter(self.world_pose_filter)
        return person.pose_filter(relative_m, stamp_s)
