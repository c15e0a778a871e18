"""`pose-ros run`: arguments, early checks, the run with progress and summary, one-line errors.

Everything that can be wrong with the arguments or the input (a bad value, an output path that
cannot be written, a missing file, an unreadable video, an empty folder, a bag without image
topics, a first frame that cannot be decoded or has an unsupported size) is found before any
model loads or output file is created, and existing outputs are left alone unless --force; an
input inside an output is never replaced. SIGINT and SIGTERM stop after the frame in hand and
close every output (stopping.py). The loop itself is runner.process().
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from dataclasses import fields
from pathlib import Path

from pose_ros import checks
from pose_ros.errors import PoseRosError
from pose_ros.input_policy import InputPolicy
from pose_ros.io.sinks import MCAP_IMAGES, Sinks, output_paths, prepare_outputs
from pose_ros.io.sources import Source, open_source
from pose_ros.pipeline import (
    PipelineConfig,
    PoseEstimator,
    add_detection_arguments,
    add_runtime_arguments,
)
from pose_ros.stage3d import POSE3D_SOURCES
from pose_ros.stopping import STOP
from pose_ros.tools.runner import RunStats, first_frame, process

log = logging.getLogger(__name__)


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
    checks.check_output_folder(args.out)
    paths = output_paths(args.out, jsonl=args.jsonl, video=args.video, mcap=args.mcap)
    _check_source_is_not_an_output(args, paths)
    if not args.force:
        prepare_outputs(paths, force=False)           # fail fast, touching nothing
    strict = getattr(args, "strict", False)
    stats = RunStats()
    writing = False
    try:
        with STOP.deferred(), _open(args) as source:    # start-up too: stopping.py says why
            policy = InputPolicy(assumed_hfov_deg=args.assumed_hfov,
                                 zero_start=source.zero_start)
            first, frames = first_frame(source, strict)
            if estimator is None:
                estimator = PoseEstimator(config)
            estimator.reset()
            STOP.raise_if_requested()           # before --force moves earlier outputs aside
            prepare_outputs(paths, force=args.force)
            if args.max_frames is not None:
                frames = itertools.islice(frames, args.max_frames)
            total = source.num_frames
            if total is not None and args.max_frames is not None:
                total = min(total, args.max_frames)
            print(f"source: {source.description}", file=out)
            topology = estimator.topology
            with Sinks(paths, fps=source.fps, mcap_images=args.mcap_images,
                       skeleton=topology.name, keypoint_names=topology.keypoint_names,
                       cues=estimator.config.enable_cues) as sinks:
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
