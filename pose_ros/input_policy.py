"""One input policy for the ROS node and `pose-ros run`: what a frame's stamp, camera_info and
depth mean before the pipeline sees them.

Both front ends hand every frame to `InputPolicy.estimate()`, so a bag played into the node and
the same bag read by `pose-ros run` give the same people. The rules:

- Time. The pipeline (tracking, One Euro smoothing, the ROI filter) needs a time that moves
  forward. A stamp that is zero, repeats the previous one, or goes backwards is replaced by the
  previous pipeline time plus the arrival-time gap (the node: when the message arrived; the
  runner: the frame's place in the source at its frame rate), with a throttled warning.
  Published headers still carry the image's own stamp, so outputs pair with their input.
- Intrinsics. camera_info is read per sensor_msgs/CameraInfo (binning, ROI); one for another
  resolution of the same aspect ratio is scaled to the image, one of another aspect ratio is
  refused. Without usable intrinsics (none, K all zeros, refused) 3D is placed with a guessed
  horizontal field of view (`assumed_hfov_deg`, 69 degrees: DEPTH_MONOCULAR with a warning and
  a diagnostics condition) or, with assumed_hfov_deg 0, published pelvis-relative (DEPTH_NONE).
- Distortion. plumb_bob, rational_polynomial and equidistant are undone on the keypoints before
  3D placement (camera.py); another model's coefficients are ignored with a warning.
- Depth. A depth image whose size differs from the colour image is dropped (warning); the frame
  is placed without it.

Warnings go to the `pose_ros.input_policy` logger (the node forwards it to its ROS logger; the
CLI prints it): persistent states when they change, per-frame events at most once per
`warn_period_s` with a count of the ones in between. `conditions()` lists the current problems
for /diagnostics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pose_ros.camera import DEFAULT_HFOV_DEG, CameraIntrinsics
from pose_ros.errors import PoseRosError
from pose_ros.person import DepthSource, Person

log = logging.getLogger(__name__)

MIN_STEP_NS = 1_000_000   # pipeline time always advances by at least 1 ms a frame


class Throttle:
    """At most one log line per key per period; the lines in between are counted."""

    def __init__(self, period_s: float, clock: Callable[[], float] = time.monotonic,
                 logger: logging.Logger = log) -> None:
        self.period_s = period_s
        self._clock = clock
        self._log = logger
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warn(self, key: str, message: str) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.period_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        more = self._suppressed.pop(key, 0)
        self._last[key] = now
        self._log.warning("%s%s", message,
                          f" ({more} more since the last warning)" if more else "")
        return True


class StampClock:
    """Image stamps -> a pipeline time that always moves forward (see the module docstring).

    `zero_start`: the stamps are a file's own timeline, which starts at 0 s (a video file, an
    image folder), so a zero stamp on the first frame is that start, not a missing stamp.
    """

    def __init__(self, zero_start: bool = False) -> None:
        self.zero_start = zero_start
        self.reset()

    def reset(self) -> None:
        self._anchor: tuple[int, int] | None = None   # (source stamp, pipeline time) last good
        self._last_out_ns = 0
        self._last_arrival_ns = 0
        self.replaced = 0

    def __call__(self, stamp_ns: int, arrival_ns: int) -> tuple[int, str | None]:
        """(pipeline time ns, why the stamp was not used or None)."""
        stamp_ns, arrival_ns = int(stamp_ns), int(arrival_ns)
        reason = None
        first = self._anchor is None and not self._last_out_ns
        if stamp_ns < 0 or (stamp_ns == 0 and not (self.zero_start and first)):
            reason = "is zero"
        elif self._anchor is not None and stamp_ns == self._anchor[0]:
            reason = f"repeats the previous frame's ({stamp_ns * 1e-9:.6f} s)"
        elif self._anchor is not None and stamp_ns < self._anchor[0]:
            reason = (f"went back {(self._anchor[0] - stamp_ns) * 1e-9:.3f} s (a bag loop or a "
                      f"clock reset)")
        if reason is None and self._anchor is not None:
            out = max(self._anchor[1] + stamp_ns - self._anchor[0],
                      self._last_out_ns + MIN_STEP_NS)
        elif not self._last_out_ns:                       # the first frame
            out = stamp_ns if reason is None else max(arrival_ns, MIN_STEP_NS)
        else:                                             # advance by the arrival-time gap
            out = self._last_out_ns + max(arrival_ns - self._last_arrival_ns, MIN_STEP_NS)
        if reason is None or (stamp_ns > 0 and (self._anchor is None
                                                or stamp_ns < self._anchor[0])):
            self._anchor = (stamp_ns, out)   # a backward jump starts a new run of stamps
        self._last_out_ns, self._last_arrival_ns = out, arrival_ns
        self.replaced += reason is not None
        return out, reason


@dataclass(frozen=True)
class PreparedInput:
    """What the pipeline gets for one frame."""

    stamp_s: float                        # pipeline time (monotonic), not the published stamp
    camera: CameraIntrinsics | None       # None: no metric placement (pelvis-relative 3D)
    depth_m: np.ndarray | None
    intrinsics: str                       # where the intrinsics came from, for diagnostics


def pelvis_relative(people: list[Person]) -> list[Person]:
    """3D relative to the pelvis, root unknown (DEPTH_NONE): placement without intrinsics."""
    return [replace(p, keypoints_3d=np.concatenate(
                [p.keypoints_3d[:, :3] - np.asarray(p.root_camera_m, np.float32),
                 p.keypoints_3d[:, 3:]], axis=1).astype(p.keypoints_3d.dtype),
                root_camera_m=None, depth_source=DepthSource.NONE)
            if p.keypoints_3d is not None and p.root_camera_m is not None else p
            for p in people]


class InputPolicy:
    """Stamps, intrinsics and depth of each frame, checked the same way for node and runner."""

    def __init__(self, *, assumed_hfov_deg: float = DEFAULT_HFOV_DEG,
                 warn_period_s: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 logger: logging.Logger | None = None, zero_start: bool = False) -> None:
        """`logger`: where warnings go (default `pose_ros.input_policy`; the node passes its own
        so that two nodes in one process do not log each other's input problems).
        `zero_start`: stamps are a file's timeline starting at 0 s (see StampClock)."""
        if not (assumed_hfov_deg == 0 or 10.0 <= assumed_hfov_deg <= 170.0):
            raise PoseRosError(f"assumed_hfov_deg must be 0 (no guess) or in [10, 170], got "
                             f"{assumed_hfov_deg}")
        self.assumed_hfov_deg = assumed_hfov_deg
        self.warn_period_s = warn_period_s
        self._clock = clock
        self._log = logger or log
        self.throttle = Throttle(warn_period_s, clock, self._log)
        self.stamps = StampClock(zero_start)
        self.reset()

    def reset(self) -> None:
        """A new run: stamps start afresh, states are reported again, counts restart."""
        self.stamps.reset()
        self.counts: dict[str, int] = {"stamps_replaced": 0, "depth_dropped": 0}
        self._last_event: dict[str, tuple[float, str]] = {}
        self._state: dict[str, tuple[str, bool] | None] = {}
        self.intrinsics_source = "none yet"

    def event(self, key: str, message: str) -> None:
        """A per-frame input problem: counted, logged at most once per warn_period_s, and listed
        in conditions() for warn_period_s. The node reports unpaired depth through it too."""
        self.counts[key] = self.counts.get(key, 0) + 1
        self._last_event[key] = (self._clock(), message)
        self.throttle.warn(key, message)

    # ------------------------------------------------------------------ per frame
    def prepare(self, *, stamp_ns: int, arrival_ns: int, width: int, height: int,
                camera_info=None, depth_m: np.ndarray | None = None) -> PreparedInput:
        out_ns, why = self.stamps(stamp_ns, arrival_ns)
        if why:
            self.event("stamps_replaced", f"image stamp {why}: tracking and smoothing use the "
                               f"arrival time instead (fix the camera driver's stamps, or play "
                               f"bags with --clock and use_sim_time)")
        camera, self.intrinsics_source = self._intrinsics(camera_info, width, height)
        if depth_m is not None and tuple(depth_m.shape[:2]) != (height, width):
            self.event("depth_dropped", f"depth image is {depth_m.shape[1]}x{depth_m.shape[0]}, "
                               f"the colour image {width}x{height}: depth dropped (use a depth "
                               f"topic aligned to the colour image, e.g. aligned_depth_to_color)")
            depth_m = None
        return PreparedInput(out_ns * 1e-9, camera, depth_m, self.intrinsics_source)

    def estimate(self, estimator, image_bgr: np.ndarray, *, stamp_ns: int, arrival_ns: int,
                 camera_info=None, depth_m: np.ndarray | None = None) -> list[Person]:
        """prepare() + the estimator + pelvis-relative 3D without intrinsics: the one call that
        node and runner make per frame."""
        height, width = image_bgr.shape[:2]
        prepared = self.prepare(stamp_ns=stamp_ns, arrival_ns=arrival_ns, width=width,
                                height=height, camera_info=camera_info, depth_m=depth_m)
        people = estimator(image_bgr, prepared.stamp_s, camera=prepared.camera,
                           depth=prepared.depth_m)
        return people if prepared.camera is not None else pelvis_relative(people)

    # ------------------------------------------------------------------ intrinsics
    def _intrinsics(self, camera_info, width: int, height: int):
        """(intrinsics or None, description); logs when the description changes."""
        problem = None
        camera = None
        if isinstance(camera_info, CameraIntrinsics):
            camera, source = camera_info, "given"
        elif camera_info is not None:
            try:
                camera, source = CameraIntrinsics.from_camera_info(camera_info), "camera_info"
            except ValueError as exc:
                problem = (f"{exc}: calibrate the camera (e.g. camera_calibration) and "
                           f"publish its camera_info")
            except (TypeError, AttributeError, KeyError, OverflowError) as exc:
                problem = f"camera_info unreadable ({exc!r})"
        if camera is not None and (camera.width, camera.height) != (width, height):
            try:
                camera_from = f"{camera.width}x{camera.height}"
                camera = camera.scaled_to(width, height)
                source = f"camera_info scaled from {camera_from}"
            except ValueError as exc:
                camera, problem = None, (f"{exc}: camera_info refused (publish the camera_info "
                                         f"of this image stream)")
        if camera is not None:
            self._report("intrinsics", f"intrinsics: {source} ({width}x{height}, fx "
                         f"{camera.fx:.1f} px)", warning=False)
            self._report("distortion", camera.distortion_problem(), warning=True)
            return camera, source
        problem = problem or "no camera_info"
        self._report("distortion", None, warning=True)
        if self.assumed_hfov_deg:
            self._report("intrinsics", f"{problem}; distances assume a "
                         f"{self.assumed_hfov_deg:.0f} degree horizontal field of view "
                         f"(assumed_hfov_deg; 0 publishes pelvis-relative 3D instead)",
                         warning=True)
            return (CameraIntrinsics.guess(width, height, self.assumed_hfov_deg),
                    f"assumed {self.assumed_hfov_deg:.0f} deg field of view ({problem})")
        self._report("intrinsics", f"{problem}; 3D is published pelvis-relative (depth_source "
                     f"NONE) because assumed_hfov_deg is 0", warning=True)
        return None, f"none ({problem})"

    def _report(self, key: str, message: str | None, *, warning: bool) -> None:
        """Log a state once when it changes (a warning state stays listed in conditions())."""
        state = (message, warning) if message else None
        if state == self._state.get(key):
            return
        self._state[key] = state
        if message:
            (self._log.warning if warning else self._log.info)("%s", message)

    def conditions(self) -> list[str]:
        """Current input problems for /diagnostics: warning states, and events of the last
        warn_period_s. Empty when the input is as it should be."""
        out = [state[0] for state in self._state.values() if state and state[1]]
        now = self._clock()
        for key, (when, message) in self._last_event.items():
            if now - when < self.warn_period_s:
                out.append(f"{message} [{self.counts[key]} frames so far]")
        return out
