"""MediaPipe's own BlazePose (`mp.solutions.pose`, mediapipe 0.10.14), the reference that
`pose-ros bench --reference mediapipe` runs on the same frames, interleaved frame by frame.

mediapipe is an optional extra (`pip install .[reference]`): it needs protobuf < 5 and pulls
in jax and opencv-contrib-python, while onnx (export, onnxruntime backend) needs protobuf >= 6,
so it normally lives in its own virtual environment. Then `--reference-python VENV/bin/python`
runs it there (MediaPipeProcess: reference_worker.py, frames through shared memory, its own
process() time measured in the worker); without that option it runs in this process
(MediaPipePose). Both time process() alone and leave it in `last_ms` (wall clock) and
`last_cpu_ms` (CPU time of the process that ran it, all threads).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

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
            f"({type(exc).__name__}: {exc}): pip install '.[reference]' in a separate virtual "
            f"environment (python3 -m venv ref && ref/bin/pip install "
            f"mediapipe=={REFERENCE_VERSION}) and pass --reference-python ref/bin/python; it "
            "needs protobuf < 5, the ONNX tools >= 6") from None
    return mp


class MediaPipePose:
    """mp.solutions.pose.Pose in video mode: RGB frame -> (33, 3) x_px, y_px, visibility or
    None when it finds no one (it tracks at most one person)."""

    def __init__(self, **options) -> None:
        self.mp = import_mediapipe()
        self.version = getattr(self.mp, "__version__", "unknown")
        self.options = {**SOLUTION_OPTIONS, **options}
        self.pose = self.mp.solutions.pose.Pose(**self.options)
        self.last_ms = self.last_cpu_ms = 0.0

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray | None:
        start, cpu = time.perf_counter(), time.process_time()
        result = self.pose.process(image_rgb)
        self.last_ms = (time.perf_counter() - start) * 1e3
        self.last_cpu_ms = (time.process_time() - cpu) * 1e3
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


class MediaPipeProcess:
    """MediaPipePose in another Python (another venv): same interface, via reference_worker.py.

    The parent waits while the worker runs, so the two never compete for the CPU; `last_ms`
    is the worker's own process() time (the frame hand-over is not counted).
    """

    def __init__(self, python: str, **options) -> None:
        self.options = {**SOLUTION_OPTIONS, **options}
        folder = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
        fd, self._shared_path = tempfile.mkstemp(prefix="pose_ros_ref_", suffix=".rgb",
                                                 dir=folder)
        os.close(fd)
        self._shared, self._shape = None, None
        worker = Path(__file__).with_name("reference_worker.py")
        try:
            self._proc = subprocess.Popen(
                [python, str(worker), self._shared_path, json.dumps(self.options)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                env={**os.environ, "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"})
        except OSError as exc:
            self._cleanup()
            raise PoseRosError(f"--reference-python {python}: cannot start it ({exc})") from None
        hello = self._read()
        if "error" in hello:
            self.close()
            raise PoseRosError(
                f"--reference-python {python} has no usable mediapipe {REFERENCE_VERSION} "
                f"({hello['error']}): in that environment pip install "
                f"mediapipe=={REFERENCE_VERSION}")
        self.version, self.python = hello["version"], hello["python"]
        self.last_ms = self.last_cpu_ms = 0.0

    def _read(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            raise PoseRosError(f"the mediapipe reference worker stopped (exit status {code}); "
                               "its error is printed above")
        return json.loads(line)

    def _send(self, request: dict) -> dict:
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        return self._read()

    def __call__(self, image_rgb: np.ndarray) -> np.ndarray | None:
        height, width = image_rgb.shape[:2]
        if self._shape != (height, width):
            self._shared = np.memmap(self._shared_path, dtype=np.uint8, mode="w+",
                                     shape=(height, width, 3))
            self._shape = (height, width)
        self._shared[...] = image_rgb
        answer = self._send({"frame": [height, width]})
        self.last_ms, self.last_cpu_ms = answer["ms"], answer["cpu_ms"]
        return None if answer["keypoints"] is None else np.asarray(answer["keypoints"],
                                                                   np.float64)

    def reset(self) -> None:
        self._send({"reset": True})

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._cleanup()

    def _cleanup(self) -> None:
        self._shared = None
        Path(self._shared_path).unlink(missing_ok=True)


def open_reference(python: str | None, **options):
    """MediaPipe in this process (python None) or in the given interpreter's environment."""
    return MediaPipeProcess(python, **options) if python else MediaPipePose(**options)


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
