"""The pipeline's 3D stage: per-track lifter history -> root-relative 3D -> placed in the camera.

All tracks of a frame are lifted in one batched call. Placement uses, in order: an aligned depth
image (DEPTH_IMAGE) when given and valid around the person, else the camera intrinsics (from the
CameraInfo when given, else guessed from the image size) and the reprojection of the lifted
skeleton onto the 2D keypoints (DEPTH_MONOCULAR).
"""

from __future__ import annotations

import logging

import numpy as np

from pose_ros import camera as cam
from pose_ros.person import DepthSource
from pose_ros.person_state import PersonState
from pose_ros.skeleton import BLAZEPOSE33_TO_COCO17, lifter_inputs_from_coco17

log = logging.getLogger(__name__)


class Stage3D:
    """Lifter + placement. Each person's lifter history is its PersonState.lifter_stream (a
    fresh one when the state has none: a new track, or one back after a gap)."""

    def __init__(self, config, device: str) -> None:
        from pose_ros.models.lifter import Lifter

        self.lifter = Lifter.load(config.lifter_model or None, device=device,
                                  receptive_field=config.lifter_receptive_field)
        self._warned_camera = False

    def weights_digest(self) -> str:
        return self.lifter.digest

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

    def __call__(self, people: list[PersonState], shape, camera, depth_m, stage):
        """Per person: (17 lifter joints (17, 3) camera metres, scores (17,), root (3,), source)."""
        intrinsics = self.intrinsics(camera, shape)
        with stage("lift"):
            inputs = np.stack([lifter_inputs_from_coco17(
                p.landmarks.keypoints_px[BLAZEPOSE33_TO_COCO17]) for p in people])
            for person in people:
                if person.lifter_stream is None:
                    person.lifter_stream = self.lifter.stream()
            relative_m = self.lifter.step([p.lifter_stream for p in people],
                                          self.lifter.normalize(inputs, intrinsics))
        with stage("place"):
            out = []
            for rel, kp in zip(relative_m, inputs, strict=True):
                root, source = None, DepthSource.MONOCULAR
                if depth_m is not None:
                    root = cam.root_from_depth(rel, kp, depth_m, intrinsics)
                    source = DepthSource.IMAGE
                if root is None:
                    root = cam.solve_root(rel, kp, intrinsics)
                    source = DepthSource.MONOCULAR
                out.append((rel + root, kp[:, 2], np.asarray(root, np.float64), source))
        return out
