"""The offline runner behind `pose-ros run`: source -> PoseEstimator -> sinks, as a generator.

`process()` is the library loop (yields one FrameResult per frame, so a caller can show progress
or stop early); `RunStats` gathers the summary; `add_arguments()` / `run()` are the CLI glue.
Everything that can be wrong with the arguments or the input (a bad value, an output path that
cannot be written, a missing file, an unreadable video, an empty folder, a bag without image
topics, a first frame that cannot be decoded or has an unsupported size) is found before any
model loads or output file is created, and existing outputs are left alone unless --force.

During the run a frame that cannot be used is skipped with a warning naming it, counted in the
summary and written to poses.jsonl with its reason (`--strict` stops at the first instead).
Stills (a folder of unrelated photos) are processed one by one with no history: the estimator is
reset before each, so a photo gives the same result alone and inside the folder; their people get
ids that are still unique within the run. SIGINT and SIGTERM stop after the frame in hand and
close every output (stopping.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from pose_ros import checks
from pose_ros.draw import draw_people
from pose_ros.errors import PoseRosError
from pose_ros.input_policy import InputPolicy
from pose_ros.io.image_codec import check_frame_size
from pose_ros.io.sinks import MCAP_IMAGES, Sinks, output_paths, prepare_outputs
from pose_ros.io.sources import BadFrame, Frame, Source, open_source
from pose_ros.person import FramePoses
from pose_ros.pipeline import (
    PipelineConfig,
    PoseEstimator,
    add_detection_arguments,
    add_runtime_arguments,
)
from pose_ros.stage3d import POSE3D_SOURCES
from pose_ros.stopping import STOP

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


# ----------------------------------------------------------------------------- CLI glue

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pose-ros run`; dispatch with run(args)."""
    parser.add_argument("source", nargs="?", help="video file, image folder or image, webcam "
                        "index (e.g. 0), or rosbag2 recording (folder, .mcap, .db3)")
    parser.add_argument("--demo", action="store_true", help="run on a 2 s clip rendered from "
                        "scikit-image's astronaut photograph (pip install 'pose_ros[demo]')")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="output folder (default: ./out)")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs "
                        "(never an input: a source inside an output is refused)")
    parser.add_argument("--jsonl", action=argparse.BooleanOptionalAction, default=True,
                        help="write poses.jsonl (default: on)")
    parser.add_argument("--video", action=argparse.BooleanOptionalAction, default=True,
                        help="write annotated.mp4 (default: on)")
    parser.add_argument("--mcap", action=argparse.BooleanOptionalAction, default=True,
                        help="write the rosbag2 MCAP folder poses/ (default: on)")
    parser.add_argument("--mcap-images", choices=MCAP_IMAGES, default="jpeg",
                        help="the annotated image in poses/: jpeg (CompressedImage, default), "
                        "raw (Image, about 10x larger) or none")
    parser.add_argument("--topic", help="bag: image topic (default: the only colour one)")
    parser.add_argument("--depth-topic", help="bag: aligned depth topic (default: found by "
                        "name; '' for none)")
    parser.add_argument("--camera-info-topic", help="bag: CameraInfo topic (default: the image "
                        "topic's namespace; '' for none)")
    parser.add_argument("--fps", type=checks.frame_rate, default=30.0,
                        help="image folders: frame rate that sets the stamps (default 30)")
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--sequence", dest="sequence", action="store_true", default=None,
                       help="image folder: the images are frames of one video (tracked, "
                       "smoothed); default for numbered frames like frame_0001.png")
    order.add_argument("--stills", dest="sequence", action="store_false",
                       help="image folder: the images are unrelated photos, each processed "
                       "alone; default unless the names are numbered frames")
    parser.add_argument("--max-frames", type=checks.count(1), help="stop after this many frames")
    parser.add_argument("--strict", action="store_true", help="stop at the first frame that "
                        "cannot be used (default: skip it with a warning)")
    add_runtime_arguments(parser)
    parser.add_argument("--assumed-hfov", type=float, default=InputPolicy().assumed_hfov_deg,
                        metavar="DEG", help="without camera_info: place people in 3D with this "
                        "horizontal field of view (default %(default)s); 0: pelvis-relative 3D")
    parser.add_argument("--no-3d", dest="enable_3d", action="store_false",
                        help="2D only: no lifter, no placement in the camera")
    parser.add_argument("--pose3d", choices=POSE3D_SOURCES, default=PipelineConfig.pose3d,
                        help="3D source: lifter (2D history), world (BlazePose world landmarks), "
                        "fused (both; needs fused weights)")
    parser.add_argument("--skeleton", choices=("coco17", "blazepose33"), default="coco17",
                        help="published keypoint set (default coco17)")
    parser.add_argument("--max-people", type=checks.count(1), default=PipelineConfig.max_people)
    parser.add_argument("--detection-threshold", type=float,
                        default=PipelineConfig.detection_threshold)
    parser.add_argument("--detect-every", type=checks.count(1), dest="detect_every_n_frames",
                        default=PipelineConfig.detect_every_n_frames,
                        help="run the person detector at least every N frames")
    add_detection_arguments(parser)
    parser.add_argument("--no-smoothing", dest="smoothing", action="store_false")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """PipelineConfig fields that the arguments name; every other field keeps its default."""
    names = {f.name for f in fields(PipelineConfig)}
    return PipelineConfig(**{k: v for k, v in vars(args).items() if k in names})


def _open(args: argparse.Namespace) -> Source:
    if args.demo == bool(args.source):
        raise PoseRosError("give a SOURCE or --demo (not both)")
    if args.demo:
        from pose_ros.io.demo import write_demo_video
        clip = args.out / "demo_input.mp4"
        if not clip.exists():
            write_demo_video(clip)
        return open_source(clip)
    return open_source(args.source, topic=args.topic, depth_topic=args.depth_topic,
                       camera_info_topic=args.camera_info_topic, fps=args.fps,
                       sequence=getattr(args, "sequence", None))


def _check_source_is_not_an_output(args: argparse.Namespace, paths: dict[str, Path]) -> None:
    if not args.demo and args.source and Path(args.source).exists():
        checks.input_inside_outputs(Path(args.source), paths)


def execute(args: argparse.Namespace, out=sys.stdout,
            estimator: PoseEstimator | None = None) -> RunStats:
    """The whole `pose-ros run`; raises PoseRosError on bad input. Returns the statistics.

    `estimator`: reuse an already built one (reset first; its config wins over the args').
    SIGINT/SIGTERM (with stopping.STOP installed) end the loop after the frame in hand; the
    outputs are closed and then Interrupted is raised.
    """
    from tqdm import tqdm

    config = config_from_args(args)
    policy = InputPolicy(assumed_hfov_deg=args.assumed_hfov)
    checks.check_output_folder(args.out)
    paths = output_paths(args.out, jsonl=args.jsonl, video=args.video, mcap=args.mcap)
    _check_source_is_not_an_output(args, paths)
    if not args.force:
        prepare_outputs(paths, force=False)           # fail fast, touching nothing
    strict = getattr(args, "strict", False)
    stats = RunStats()
    writing = False
    try:
        with _open(args) as source:
            first, frames = first_frame(source, strict)
            if estimator is None:
                estimator = PoseEstimator(config)
            estimator.reset()
            prepare_outputs(paths, force=args.force)
            if args.max_frames is not None:
                frames = itertools.islice(frames, args.max_frames)
            total = source.num_frames
            if total is not None and args.max_frames is not None:
                total = min(total, args.max_frames)
            print(f"source: {source.description}", file=out)
            topology = estimator.topology
            with STOP.deferred(), Sinks(paths, fps=source.fps, mcap_images=args.mcap_images,
                                        skeleton=topology.name,
                                        keypoint_names=topology.keypoint_names) as sinks:
                writing = True
                results = process(frames, estimator, sinks, stats, policy=policy,
                                  fps=source.fps, stills=source.stills, strict=strict)
                for _ in tqdm(results, total=total, unit="frame", disable=args.quiet,
                              dynamic_ncols=True):
                    if STOP.requested is not None:
                        break
            stats.end_problem = source.end_problem
        if stats.end_problem:
            log.warning("%s", stats.end_problem)
        for line in stats.summary_lines():
            print(line, file=out)
        for path in paths.values():
            print(f"wrote {path}", file=out)
        STOP.raise_if_requested()
    except KeyboardInterrupt as exc:       # SIGINT / SIGTERM (stopping.Interrupted)
        exc.outputs_written = writing
        exc.frames_done = stats.frames
        raise
    return stats


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"pose-ros run: {record.levelname.lower()}: {record.getMessage()}"


def run(args: argparse.Namespace) -> int:
    """Entry point for the CLI: one clear line and a non-zero status for every failure; the
    library's warnings (skipped frames) as one line each, above the progress bar."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    package_log = logging.getLogger("pose_ros")
    package_log.addHandler(handler)
    package_log.setLevel(logging.WARNING)
    try:
        with logging_redirect_tqdm(loggers=[package_log]):
            for h in package_log.handlers:
                h.setFormatter(_OneLine())
            execute(args)
    except PoseRosError as exc:  # bad input, model files (ModelStoreError)
        print(f"pose-ros run: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:      # the disk filled up, a folder vanished: name it, no traceback
        print(f"pose-ros run: error: cannot write or read {exc.filename or 'a file'}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", "SIGINT")
        if getattr(exc, "outputs_written", False):
            print(f"pose-ros run: stopped by {name} after {exc.frames_done} frames; the outputs "
                  f"are closed and hold them", file=sys.stderr)
        else:
            print(f"pose-ros run: stopped by {name} during start-up; no output was written",
                  file=sys.stderr)
        return getattr(exc, "exit_status", 130)
    finally:
        package_log.removeHandler(handler)
    return 0
