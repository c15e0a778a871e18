"""The offline runner's loop: frames -> InputPolicy + PoseEstimator -> sinks, as a generator.

`process()` yields one FrameResult per frame (so a caller can show progress or stop early);
`RunStats` gathers the summary; `first_frame()` decodes up to the first usable frame before
anything is written. `pose-ros run` (run_command.py) and the tools (soak, recording sizes) call
it.

During the run a frame that cannot be used is skipped with a warning naming it, counted in the
summary and written to poses.jsonl with its reason (`--strict` stops at the first instead).
Stills (a folder of unrelated photos) are processed one by one with no history: the estimator is
reset before each, so a photo gives the same result alone and inside the folder; their people get
ids that are still unique within the run. SIGINT and SIGTERM stop after the frame in hand and
close every output (stopping.py).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from pose_ros.draw import draw_people
from pose_ros.errors import PoseRosError
from pose_ros.input_policy import InputPolicy
from pose_ros.io.image_codec import check_frame_size
from pose_ros.io.sinks import Sinks
from pose_ros.io.sources import BadFrame, Frame, Source
from pose_ros.person import FramePoses
from pose_ros.pipeline import PoseEstimator

log = logging.getLogger(__name__)
WARN_SKIPPED = 10          # skipped frames named one by one; later ones only counted
TIMING_WINDOW = 10_000     # per-stage samples kept for the summary (memory stays flat)


@dataclass
class FrameResult:
    """One source frame's outcome; `poses` is None for a skipped frame (then `frame` is a
    BadFrame saying why)."""

    frame: Frame | BadFrame
    poses: FramePoses | None
    annotated_bgr: np.ndarray | None


@dataclass
class RunStats:
    """What the final summary reports."""

    frames: int = 0
    frames_with_people: int = 0
    people: int = 0
    peak_people: int = 0
    track_ids: set[int] = field(default_factory=set)
    wall_s: float = 0.0
    stage_samples: dict[str, deque] = field(default_factory=dict)
    skipped: int = 0
    first_skipped: list[str] = field(default_factory=list)
    end_problem: str | None = None

    def add(self, poses: FramePoses, timings_ms: dict[str, float]) -> None:
        self.frames += 1
        count = len(poses.people)
        self.frames_with_people += count > 0
        self.people += count
        self.peak_people = max(self.peak_people, count)
        self.track_ids.update(p.track_id for p in poses.people)
        for stage, ms in timings_ms.items():
            self.stage_samples.setdefault(stage, deque(maxlen=TIMING_WINDOW)).append(ms)

    def add_skipped(self, bad: BadFrame) -> None:
        self.skipped += 1
        if len(self.first_skipped) < 3:
            self.first_skipped.append(describe(bad))

    @property
    def stages_ms(self) -> dict[str, dict[str, float]]:
        out = {}
        for stage, samples in self.stage_samples.items():
            a = np.fromiter(samples, dtype=np.float64)
            out[stage] = {"p50_ms": float(np.percentile(a, 50)),
                          "p95_ms": float(np.percentile(a, 95)), "count": float(len(a))}
        return out

    def summary_lines(self) -> list[str]:
        fps = self.frames / self.wall_s if self.wall_s > 0 else float("nan")
        mean = self.people / self.frames if self.frames else 0.0
        lines = [
            f"frames: {self.frames}  with people: {self.frames_with_people}  "
            f"people: {self.people} (mean {mean:.2f}, peak {self.peak_people})  "
            f"track ids: {len(self.track_ids)}",
        ]
        if self.skipped:
            lines.append(f"skipped: {self.skipped} frames that could not be used (marked "
                         f"'skipped' in poses.jsonl); first: {'; '.join(self.first_skipped)}")
        if self.end_problem:
            lines.append(f"source ended early: {self.end_problem}")
        lines += [
            f"throughput: {fps:.1f} fps over {self.wall_s:.1f} s (decode, inference and "
            f"writing)",
            "stage          p50 ms   p95 ms   frames",
        ]
        for stage, t in self.stages_ms.items():
            lines.append(f"{stage:<12} {t['p50_ms']:8.2f} {t['p95_ms']:8.2f} {int(t['count']):8d}")
        return lines


def describe(bad: BadFrame) -> str:
    return f"frame {bad.index} ({bad.where}): {bad.reason}"


def frame_poses(frame: Frame, people, estimator: PoseEstimator) -> FramePoses:
    height, width = frame.image_bgr.shape[:2]
    return FramePoses(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, width=width,
                      height=height, skeleton=estimator.topology.name,
                      keypoint_names=estimator.topology.keypoint_names, people=people)


def unusable(frame: Frame | BadFrame) -> BadFrame | None:
    """The frame as a BadFrame if it cannot go through the pipeline, else None."""
    if isinstance(frame, BadFrame):
        return frame
    image = frame.image_bgr
    height, width = image.shape[:2]
    try:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise PoseRosError(f"not an 8-bit colour image ({image.shape} {image.dtype})")
        check_frame_size(width, height)
    except PoseRosError as err:
        return BadFrame(frame.index, frame.stamp_ns, f"stamp {frame.stamp_s:.6f} s", str(err),
                        width, height)
    return None


def process(frames: Iterable[Frame | BadFrame], estimator: PoseEstimator,
            sinks: Sinks | None = None, stats: RunStats | None = None,
            draw_min_score: float = 0.3, policy: InputPolicy | None = None,
            fps: float | None = None, *, stills: bool = False,
            strict: bool = False) -> Iterator[FrameResult]:
    """Run the estimator on every frame, write each result to the sinks, and yield it.

    Stamps, camera_info and depth go through the same InputPolicy as in the ROS node; a
    frame's "arrival time" offline is its place in the source at `fps` (default 30).
    stills: every frame is an unrelated photo (the estimator is reset before each; ids stay
    unique). strict: a frame that cannot be used raises PoseRosError instead of being skipped.
    """
    start = time.perf_counter()
    policy = policy or InputPolicy()
    period_ns = 1e9 / (fps if fps and fps > 0 else 30.0)
    id_offset = 0
    for frame in frames:
        bad = unusable(frame)
        if bad is not None:
            if strict:
                raise PoseRosError(f"{describe(bad)} (--strict stops here; without it the frame "
                                   f"is skipped)")
            if stats is None or stats.skipped < WARN_SKIPPED:
                log.warning("skipped %s", describe(bad))
                if stats is not None and stats.skipped == WARN_SKIPPED - 1:
                    log.warning("further skipped frames are only counted in the summary")
            if sinks is not None:
                sinks.write_skipped(bad)
            if stats is not None:
                stats.add_skipped(bad)
            yield FrameResult(frame=bad, poses=None, annotated_bgr=None)
            continue
        if stills:
            estimator.reset()
        people = policy.estimate(estimator, frame.image_bgr, stamp_ns=frame.stamp_ns,
                                 arrival_ns=round(frame.index * period_ns),
                                 camera_info=frame.camera_info, depth_m=frame.depth_m)
        if stills:
            people = [dataclasses.replace(p, track_id=p.track_id + id_offset) for p in people]
            id_offset = max([id_offset] + [p.track_id for p in people])
        poses = frame_poses(frame, people, estimator)
        annotated = None
        if sinks is not None and sinks.needs_annotated:
            annotated = draw_people(frame.image_bgr, people, estimator.topology, draw_min_score)
        if sinks is not None:
            sinks.write(frame.index, poses, annotated)
        if stats is not None:
            stats.add(poses, estimator.last_timings_ms)
            stats.wall_s = time.perf_counter() - start
        yield FrameResult(frame=frame, poses=poses, annotated_bgr=annotated)


def first_frame(source: Source, strict: bool = False) -> tuple[Frame, Iterator[Frame | BadFrame]]:
    """Decode up to the first usable frame now (so bad input fails before outputs exist and
    models load); returns it and all frames from the source's first, bad ones included."""
    frames = iter(source)
    before: list[BadFrame] = []
    for frame in frames:
        bad = unusable(frame)
        if bad is None:
            return frame, itertools.chain(before, [frame], frames)
        # a decoded frame of an unsupported size: all of a video's or bag's frames will be
        every_frame = not source.stills and not isinstance(frame, BadFrame)
        if strict or every_frame or len(before) >= 100:
            raise PoseRosError(f"{source.description or 'the source'}: {describe(bad)}")
        before.append(bad)
    what = source.description or "the source"
    if before:
        raise PoseRosError(f"{what} has no frame that can be used; {describe(before[0])}")
    raise PoseRosError(f"{what} has no frames" + (f" ({source.end_problem})"
                                                   if source.end_problem else ""))
