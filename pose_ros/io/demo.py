"""A demo clip rendered from a real photograph that scikit-image ships (the astronaut, NASA).

`pose-ros run --demo` and the tests use it, so the main job runs right after installation
(`pip install pose_ros[demo]`) without downloading any video: the photograph slides across a
wider canvas, so the person moves and the tracker, lifter and smoothing have work to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from pose_ros.errors import PoseRosError


def astronaut_bgr() -> np.ndarray:
    """skimage.data.astronaut() (512 x 512, Eileen Collins, public domain) as BGR uint8."""
    try:
        from skimage import data
    except ImportError:
        raise PoseRosError(
            "the demo needs scikit-image (it ships the photograph): "
            "pip install 'pose_ros[demo]' or pip install scikit-image") from None
    return np.ascontiguousarray(data.astronaut()[..., ::-1])


def demo_frames(num_frames: int = 60, width: int = 640, height: int = 360,
                photo_px: int = 300) -> Iterator[np.ndarray]:
    """BGR frames: the photograph (photo_px square) moving left to right on a grey canvas."""
    photo = cv2.resize(astronaut_bgr(), (photo_px, photo_px), interpolation=cv2.INTER_AREA)
    top = (height - photo_px) // 2
    travel = width - photo_px
    for i in range(num_frames):
        canvas = np.full((height, width, 3), 96, np.uint8)
        left = int(round(travel * i / max(num_frames - 1, 1)))
        canvas[top:top + photo_px, left:left + photo_px] = photo
        yield canvas


def write_demo_video(path: Path, num_frames: int = 60, fps: float = 30.0, **kwargs) -> Path:
    """Write the demo clip as an mp4 (OpenCV mp4v) and return its path."""
    frames = list(demo_frames(num_frames, **kwargs))
    height, width = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise PoseRosError(f"OpenCV cannot write {path} (no mp4v encoder?)")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path
