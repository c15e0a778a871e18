"""MediaPipe's own BlazePose (`mp.solutions.pose`, mediapipe 0.10.14), the reference that
`pose-ros bench --reference mediapipe` runs on the same frames in the same process.

mediapipe is an optional extra (`pip install .[reference]`): it pulls in jax and
opencv-contrib-python, so keep it in a separate environment from the one that runs the robot.
"""

from __future__ import annotations

import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.skeleton import BLAZEPOSE33_TO_COCO17, COCO17, Topology

REFERENCE_VERSION = "0.10.14"
# MediaPipe's video-mode defaults: what a MediaPipe user gets, tracking and smoothing on.
SOLUTION_OPTIONS = {"static_image_mode": False, "model_complexity": 1, "smooth_landmarks": True,
                    "enable_segmentation": False, "min_detection_confidence": 0.5,
                    "min_tracking_confidence": 0.5}
MIN_VISIBILITY = 0.5   # joints compared: visible in both results


def import_mediapipe():
    try:
        import mediapipe as mp
        mp.solutions.pose  # noqa: B018  (the solution API is what we compare against)
    except (ImportError, AttributeError) as exc:
        raise PoseRosError(
            f"--reference mediapipe needs mediapipe {REFERENCE_VERSION} with its solutions API "
            f"({type(exc).__name__}: {exc}): pip install '.[reference]' (or pip install "
            f"mediapipe=={REFERENCE_VERSION}), preferably in a separate virtual environment, "
            "since it pulls in jax and opencv-contrib-python") from None
    return mp


class MediaPipePose:
    """mp.solutions.pose.Pose in video mode: RGB frame -> (33, 3) x_px, y_px, visibility or
    None when it finds no one (it tracks at most one person)."""

    def __init__(self, **options) -> None:
        self.mp = import_mediapipe()
        self.version = getattr(self.mp, "__version__", "unknown")
        self.options = {**SOLUTION_OPTIONS, **options}
        self.pose = self.mp.solutions.pose.Pose(**self.options)

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray | None:
        result = self.pose.process(image_rgb)
        if result.pose_landmarks is None:
            return None
        height, width = image_rgb.shape[:2]
        lm = result.pose_landmarks.landmark
        return np.array([[p.x * width, p.y * height, p.visibility] for p in lm], np.float64)

    def reset(self) -> None:
        """A fresh graph: no tracked person, no smoothing history."""
        self.pose.close()
        self.pose = self.mp.solutions.pose.Pose(**self.options)

    def close(self) -> None:
        self.pose.close()


def keypoint_differences(reference_33: np.ndarray, people_2d: list[np.ndarray],
                         topology: Topology) -> tuple[np.ndarray, float]:
    """Pixel distances, COCO-17 joints visible in both, between MediaPipe's person and ours
    closest to it (people_2d: (K, 3) arrays in `topology`; none found: empty), and the size of
    MediaPipe's person (longer side of its keypoints' box, px) to put them in proportion."""
    size_px = float(np.ptp(reference_33[:, :2], axis=0).max())
    if not people_2d:
        return np.zeros(0), size_px
    ref = reference_33[BLAZEPOSE33_TO_COCO17]
    ours = np.stack(people_2d)
    if topology is not COCO17:
        ours = ours[:, BLAZEPOSE33_TO_COCO17]
    dist = np.linalg.norm(ours[:, :, :2] - ref[None, :, :2], axis=-1)       # (P, 17)
    best = int(np.argmin(np.median(dist, axis=1)))
    visible = (ref[:, 2] >= MIN_VISIBILITY) & (ours[best, :, 2] >= MIN_VISIBILITY)
    return dist[best, visible], size_px
