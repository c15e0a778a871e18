"""The annotated video: H.264 in fragmented MP4 (PyAV), playable even when the run is killed.

A plain MP4 writes its index (the moov box) at the end, so a killed writer leaves an unplayable
file ("moov atom not found"). Fragmented MP4 writes an empty index first and then self-contained
fragments (moof + mdat), each starting at a keyframe; a fragment is written when the next
keyframe arrives, so a keyframe is forced at least every `fragment_every_s` of wall time and a
kill loses at most that much. H.264 (libx264 in PyAV's wheels) plays in browsers and every
player; frames are padded to even sizes, which 4:2:0 chroma needs.

`trim_mp4` is the repair for the rare kill in the middle of a fragment's header: it cuts the
file back to the last complete top-level box (an incomplete media box is kept; decoders read
what it holds).
"""

from __future__ import annotations

import struct
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from pose_ros.errors import PoseRosError

MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}
X264_OPTIONS = {"preset": "veryfast", "tune": "zerolatency", "crf": "23", "forced-idr": "1"}


class FragmentedMp4Writer:
    """BGR frames -> H.264 fragmented MP4 at a constant frame rate; size from the first frame."""

    def __init__(self, path: Path, fps: float | None, fragment_every_s: float = 0.5) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps if fps and fps > 0 else 30.0).limit_denominator(1001)
        self.fragment_every_s = fragment_every_s
        self.frames = 0
        self._container = None
        self._stream = None
        self._size: tuple[int, int] | None = None
        self._last_key = 0.0

    def _open(self, width: int, height: int) -> None:
        import av

        self._size = (width + width % 2, height + height % 2)
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4",
                                      options=MP4_OPTIONS)
            stream = self._container.add_stream("libx264", rate=self.fps)
            stream.width, stream.height = self._size
            stream.pix_fmt = "yuv420p"
            stream.options = dict(X264_OPTIONS)
            self._stream = stream
        except (av.FFmpegError, ValueError) as exc:
            raise PoseRosError(f"cannot write video {self.path}: {exc}") from None

    def write(self, image_bgr: np.ndarray) -> None:
        import av

        height, width = image_bgr.shape[:2]
        if self._container is None:
            self._open(width, height)
        if (width + width % 2, height + height % 2) == self._size:
            if (width, height) != self._size:        # odd size: pad one black column/row
                image_bgr = np.pad(image_bgr, ((0, height % 2), (0, width % 2), (0, 0)))
        else:                                        # another size than the first frame's
            import cv2
            image_bgr = cv2.resize(image_bgr, self._size)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image_bgr), format="bgr24")
        frame.pts = self.frames
        now = time.monotonic()
        if now - self._last_key >= self.fragment_every_s:
            frame.pict_type = av.video.frame.PictureType.I   # a keyframe starts a fragment
            self._last_key = now
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        if self._container is None:
            return
        container, self._container = self._container, None
        try:
            for packet in self._stream.encode():
                container.mux(packet)
        finally:
            container.close()


def _top_level_boxes(data: bytes):
    """(offset, size, type) of each top-level MP4 box; size None when the header is cut."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            yield offset, None, b""
            return
        size, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if size == 1:
            if len(data) - offset < 16:
                yield offset, None, kind
                return
            size = struct.unpack(">Q", data[offset + 8:offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        if size < 8:
            yield offset, None, kind
            return
        yield offset, size, kind
        offset += size


def trim_mp4(path: Path) -> int | None:
    """Cut a killed fragmented MP4 back to its last complete box; returns the bytes removed, or
    None when nothing needed cutting."""
    path = Path(path)
    data = path.read_bytes()
    for offset, size, kind in _top_level_boxes(data):
        if size is None or offset + size > len(data):
            if kind == b"mdat" and size is not None:
                return None        # a cut media box: decoders read the frames it holds
            with path.open("r+b") as f:
                f.truncate(offset)
            return len(data) - offset
    return None


def count_frames(path: Path) -> int:
    """Frames OpenCV decodes from a video file (0 if it cannot open it)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = 0
    try:
        while capture.isOpened() and capture.grab():
            frames += 1
    finally:
        capture.release()
    return frames
