"""Frame sources for the offline runner: video file, image folder, webcam, rosbag2 (MCAP/sqlite3).

Every source yields `Frame`s with a BGR image and a stamp taken from the source itself: the
video's frame time, the bag's header stamp, the webcam's capture time, and for an image folder
(which has no time) index / fps. Problems a user can fix (missing file, unreadable video, empty
folder, no image topic) raise PoseRosError when the source is opened, before any output is
written. A single frame that cannot be decoded (a corrupt photo, a garbage message in a bag) is
yielded as a `BadFrame` naming it, so the caller skips it and goes on; a source that stops early
(a truncated video or bag) says so in `end_problem`.

Stills or a sequence: a folder of photos is processed as independent stills (`Source.stills`:
no tracking, smoothing or 3D history carried from one photo to the next) unless its files are
numbered frames, `<prefix><number>.<ext>` with one prefix and one extension for all (as ffmpeg
and camera drivers write them: frame_000001.png), which are a sequence, a video. `sequence=True`
/ `False` overrides the rule either way. Videos, webcams and bags are sequences.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.io.image_codec import image_file_to_bgr

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
BAG_SUFFIXES = (".mcap", ".db3", ".bag")
DEFAULT_FRAME_ID = "camera_optical_frame"


@dataclass
class Frame:
    """One source image with what came with it.

    Attributes:
        index: 0-based position in the source.
        stamp_ns: source time in integer nanoseconds (copied exactly into message headers).
        image_bgr: (H, W, 3) uint8, OpenCV channel order.
        frame_id: the camera optical frame the image was taken in.
        camera_info: a sensor_msgs/CameraInfo-like message from the source, or None.
        depth_m: (H, W) float32 metres aligned with the image, NaN where missing, or None.
    """

    index: int
    stamp_ns: int
    image_bgr: np.ndarray
    frame_id: str = DEFAULT_FRAME_ID
    camera_info: Any = None
    depth_m: np.ndarray | None = None

    @property
    def stamp_s(self) -> float:
        return self.stamp_ns * 1e-9


@dataclass
class BadFrame:
    """A source frame that could not be used; the runner skips it and names it in a warning.

    Attributes:
        index, stamp_ns: as for Frame (the stamp is the source's, or index / fps).
        where: what the frame is in the source ("file a.jpg", "message 12 on /camera/image").
        reason: why it could not be used, with the fix where there is one.
        width, height: its size where known, else 0.
    """

    index: int
    stamp_ns: int
    where: str
    reason: str
    width: int = 0
    height: int = 0

    @property
    def stamp_s(self) -> float:
        return self.stamp_ns * 1e-9


@contextmanager
def quiet_opencv():
    """Silence OpenCV's and FFmpeg's own messages while opening and decoding, so a bad input
    gives our one clear line instead of backend chatter (FFmpeg reads its level when first
    used). libpng and libjpeg print some warnings themselves; those cannot be silenced here."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    cv_log = getattr(getattr(cv2, "utils", None), "logging", None)  # absent in OpenCV 4.6
    if cv_log is None:
        yield
        return
    level = cv_log.getLogLevel()
    cv_log.setLogLevel(cv_log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv_log.setLogLevel(level)


class Source:
    """Base class: iterate for frames; `num_frames` is a hint for progress bars (None = unknown).

    `stills`: the frames are unrelated photos (no history between them); `end_problem`: set when
    the source stopped before its announced end, saying how far it got; `zero_start`: the stamps
    are the file's own timeline, which starts at 0 s (its first frame's zero stamp is no fault).
    """

    description: str = ""
    num_frames: int | None = None
    fps: float | None = None
    stills: bool = False
    zero_start: bool = False
    end_problem: str | None = None
    path: Path | None = None

    def __iter__(self) -> Iterator[Frame | BadFrame]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoSource(Source):
    """A video file read with OpenCV; stamps are the frames' presentation times."""

    zero_start = True

    def __init__(self, path: Path) -> None:
        self.path = path
        with quiet_opencv():
            self.capture = cv2.VideoCapture(str(path))
            ok, first = self.capture.read() if self.capture.isOpened() else (False, None)
        if not ok or first is None:
            self.capture.release()
            raise PoseRosError(
                f"cannot read video {path}: OpenCV could not decode a frame (not a video, "
                f"corrupt, or a codec OpenCV lacks; convert it with "
                f"`ffmpeg -i {path.name} -c:v libx264 out.mp4`)")
        self._first = (first, self._position_ms(0))
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or None
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.num_frames = count if count > 0 else None
        self.description = f"video {path} ({first.shape[1]}x{first.shape[0]}, {self.fps} fps)"

    def _position_ms(self, index: int) -> float:
        """Presentation time of the frame just read; index / fps where the container has none."""
        ms = self.capture.get(cv2.CAP_PROP_POS_MSEC)
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        if (ms <= 0 and index > 0) and fps > 0:
            ms = 1000.0 * index / fps
        return ms

    def __iter__(self) -> Iterator[Frame]:
        if self._first is None:
            raise RuntimeError("a VideoSource can be iterated once")
        image, ms = self._first
        self._first = None
        index, last_ns = 0, -1
        while image is not None:
            stamp_ns = max(int(round(ms * 1e6)), last_ns + 1)   # strictly increasing
            yield Frame(index=index, stamp_ns=stamp_ns, image_bgr=image)
            last_ns = stamp_ns
            with quiet_opencv():
                ok, image = self.capture.read()
            if not ok:
                break
            index += 1
            ms = self._position_ms(index)
        decoded = index + 1
        if self.num_frames is not None and decoded < self.num_frames:
            self.end_problem = (
                f"video {self.path} ended after decoding {decoded} of the {self.num_frames} "
                f"frames it announced (truncated or corrupt; re-encode it with `ffmpeg -i "
                f"{self.path.name} -c:v libx264 fixed.mp4` to see what ffmpeg can save)")

    def close(self) -> None:
        self.capture.release()


_NUMBERED = re.compile(r"(.*?)(\d+)")


def numbered_frames(paths: list[Path]) -> list[Path] | None:
    """The paths in frame order if they are numbered frames (one prefix, one extension, a
    number each: frame_0001.png ...), else None."""
    parts = [(_NUMBERED.fullmatch(p.stem), p.suffix.lower()) for p in paths]
    if len(paths) < 2 or any(m is None for m, _ in parts):
        return None
    if len({(m.group(1), ext) for m, ext in parts}) != 1:
        return None
    numbers = [int(m.group(2)) for m, _ in parts]
    if len(set(numbers)) != len(numbers):
        return None
    return [p for _, p in sorted(zip(numbers, paths, strict=True))]


class ImageFolderSource(Source):
    """Images of a folder (or one image file); stamp = index / fps.

    Stills (the default for unrelated photos) come in file-name order; numbered frames, a
    sequence, in number order (frame_9 before frame_10).
    """

    zero_start = True

    def __init__(self, paths: list[Path], fps: float = 30.0, description: str = "",
                 stills: bool = True) -> None:
        self.paths = paths
        self.fps = fps
        self.num_frames = len(paths)
        self.description = description
        self.stills = stills

    @classmethod
    def from_folder(cls, folder: Path, fps: float = 30.0,
                    sequence: bool | None = None) -> ImageFolderSource:
        paths = sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not paths:
            raise PoseRosError(
                f"no images in folder {folder} (looked for {', '.join(IMAGE_SUFFIXES)}): "
                f"pass a folder of images, a video file, a bag or a webcam index")
        numbered = numbered_frames(paths)
        if sequence is None:
            sequence = numbered is not None
            how = ("numbered frames: a sequence, tracked like a video (--stills to treat them as "
                   "unrelated photos)" if sequence else "unrelated photos: independent stills "
                   "(--sequence to track them like a video)")
        else:
            how = "a sequence (--sequence)" if sequence else "independent stills (--stills)"
        if sequence and numbered is not None:
            paths = numbered
        source = cls(paths, fps, f"{len(paths)} images in {folder}, {how}", stills=not sequence)
        source.path = folder
        return source

    def __iter__(self) -> Iterator[Frame | BadFrame]:
        for index, path in enumerate(self.paths):
            stamp_ns = int(round(index * 1e9 / self.fps))
            try:
                with quiet_opencv():
                    image = image_file_to_bgr(path.read_bytes(), "image")
            except (PoseRosError, OSError) as err:
                reason = str(err) if isinstance(err, PoseRosError) else \
                    f"cannot read it: {err.strerror or err}"
                yield BadFrame(index, stamp_ns, f"file {path.name}", reason)
                continue
            yield Frame(index=index, stamp_ns=stamp_ns, image_bgr=image)


class WebcamSource(Source):
    """A camera by OpenCV index; stamps are wall-clock capture times."""

    def __init__(self, index: int) -> None:
        with quiet_opencv():
            self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            raise PoseRosError(
                f"cannot open webcam {index}: no such camera, or it is busy (list cameras with "
                f"`v4l2-ctl --list-devices`)")
        self.fps = self.capture.get(cv2.CAP_PROP_FPS) or None
        self.description = f"webcam {index}"

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while True:
            ok, image = self.capture.read()
            stamp_ns = time.time_ns()
            if not ok:
                return
            yield Frame(index=index, stamp_ns=stamp_ns, image_bgr=image)
            index += 1

    def close(self) -> None:
        self.capture.release()


def good_frames(frames) -> Iterator[Frame]:
    """The frames that could be decoded (BadFrames dropped), for callers that only time."""
    return (f for f in frames if isinstance(f, Frame))


def open_source(spec: str | Path, *, topic: str | None = None, depth_topic: str | None = None,
                camera_info_topic: str | None = None, fps: float = 30.0,
                sequence: bool | None = None) -> Source:
    """Open what `spec` names: a webcam index ("0"), a bag (folder with metadata.yaml, .mcap,
    .db3), an image folder, an image file or a video file.

    topic / depth_topic / camera_info_topic apply to bags (None = choose automatically,
    "" = do not use); fps sets the stamps of image folders; sequence: an image folder's frames
    are a sequence (True), stills (False) or decided by their names (None).
    """
    path = Path(spec)
    if isinstance(spec, str) and spec.isdigit() and not path.exists():
        return WebcamSource(int(spec))
    if not path.exists():
        raise PoseRosError(f"no such file or folder: {spec}")
    if path.is_dir():
        if (path / "metadata.yaml").is_file() or any(
                p.suffix in BAG_SUFFIXES for p in path.iterdir()):
            from pose_ros.io.bag_source import BagSource
            return BagSource(path, topic=topic, depth_topic=depth_topic,
                             camera_info_topic=camera_info_topic)
        return ImageFolderSource.from_folder(path, fps, sequence)
    if path.suffix.lower() in BAG_SUFFIXES:
        from pose_ros.io.bag_source import BagSource
        return BagSource(path, topic=topic, depth_topic=depth_topic,
                         camera_info_topic=camera_info_topic)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        source = ImageFolderSource([path], fps, f"image {path}", stills=True)
        source.path = path
        return source
    return VideoSource(path)
