"""The offline runner behind `pose-ros run`: source -> PoseEstimator -> sinks, as a generator.

`process()` is the library loop (yields one FrameResult per frame, so a caller can show progress
or stop early); `RunStats` gathers the summary; `add_arguments()` / `run()` are the CLI glue.
Everything that can be wrong with the input (missing file, unreadable video, empty folder, bag
without image topics, unsupported encoding of the first image) is found before any output file
is created, and existing outputs are left alone unless --force.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from pose_ros.draw import draw_people
from pose_ros.errors import PoseRosError
from pose_ros.input_policy import InputPolicy
from pose_ros.io.sinks import Sinks, output_paths, prepare_outputs
from pose_ros.io.sources import Frame, Source, open_source
from pose_ros.person import FramePoses
from pose_ros.pipeline import (
    PipelineConfig,
    PoseEstimator,
    add_detection_arguments,
    add_runtime_arguments,
)
from pose_ros.stage3d import POSE3D_SOURCES


@dataclass
class FrameResult:
    frame: Frame
    poses: FramePoses
    annotated_bgr: np.ndarray | None


@dataclass
class RunStats:
    """What the final summary reports."""

    frames: int = 0
    people_per_frame: list[int] = field(default_factory=list)
    track_ids: set[int] = field(default_factory=set)
    wall_s: float = 0.0
    stages_ms: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, poses: FramePoses) -> None:
        self.frames += 1
        self.people_per_frame.append(len(poses.people))
        self.track_ids.update(p.track_id for p in poses.people)

    def summary_lines(self) -> list[str]:
        counts = np.array(self.people_per_frame or [0])
        fps = self.frames / self.wall_s if self.wall_s > 0 else float("nan")
        lines = [
            f"frames: {self.frames}  with people: {int((counts > 0).sum())}  "
            f"people: {int(counts.sum())} (mean {counts.mean():.2f}, peak {int(counts.max())})  "
            f"track ids: {len(self.track_ids)}",
            f"throughput: {fps:.1f} fps over {self.wall_s:.1f} s (decode, inference and "
            f"writing)",
            "stage          p50 ms   p95 ms   frames",
        ]
        for stage, t in self.stages_ms.items():
            lines.append(f"{stage:<12} {t['p50_ms']:8.2f} {t['p95_ms']:8.2f} {int(t['count']):8d}")
        return lines


def frame_poses(frame: Frame, people, estimator: PoseEstimator) -> FramePoses:
    height, width = frame.image_bgr.shape[:2]
    return FramePoses(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, width=width,
                      height=height, skeleton=estimator.topology.name,
                      keypoint_names=estimator.topology.keypoint_names, people=people)


def process(frames: Iterable[Frame], estimator: PoseEstimator, sinks: Sinks | None = None,
            stats: RunStats | None = None, draw_min_score: float = 0.3,
            policy: InputPolicy | None = None, fps: float | None = None
            ) -> Iterator[FrameResult]:
    """Run the estimator on every frame, write each result to the sinks, and yield it.

    Stamps, camera_info and depth go through the same InputPolicy as in the ROS node; a
    frame's "arrival time" offline is its place in the source at `fps` (default 30).
    """
    start = time.perf_counter()
    policy = policy or InputPolicy()
    period_ns = 1e9 / (fps if fps and fps > 0 else 30.0)
    for frame in frames:
        people = policy.estimate(estimator, frame.image_bgr, stamp_ns=frame.stamp_ns,
                                 arrival_ns=round(frame.index * period_ns),
                                 camera_info=frame.camera_info, depth_m=frame.depth_m)
        poses = frame_poses(frame, people, estimator)
        annotated = None
        if sinks is not None and sinks.needs_annotated:
            annotated = draw_people(frame.image_bgr, people, estimator.topology, draw_min_score)
        if sinks is not None:
            sinks.write(frame.index, poses, annotated)
        if stats is not None:
            stats.add(poses)
            stats.wall_s = time.perf_counter() - start
            stats.stages_ms = estimator.timing_summary()
        yield FrameResult(frame=frame, poses=poses, annotated_bgr=annotated)


def first_frame(source: Source) -> tuple[Frame, Iterator[Frame]]:
    """Decode the first frame now (so bad input fails before outputs exist); all frames after."""
    frames = iter(source)
    first = next(frames, None)
    if first is None:
        raise PoseRosError(f"{source.description or 'the source'} has no frames")
    return first, itertools.chain([first], frames)


# ----------------------------------------------------------------------------- CLI glue

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pose-ros run`; dispatch with run(args)."""
    parser.add_argument("source", nargs="?", help="video file, image folder or image, webcam "
                        "index (e.g. 0), or rosbag2 recording (folder, .mcap, .db3)")
    parser.add_argument("--demo", action="store_true", help="run on a 2 s clip rendered from "
                        "scikit-image's astronaut photograph (pip install 'pose_ros[demo]')")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="output folder (default: ./out)")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--jsonl", action=argparse.BooleanOptionalAction, default=True,
                        help="write poses.jsonl (default: on)")
    parser.add_argument("--video", action=argparse.BooleanOptionalAction, default=True,
                        help="write annotated.mp4 (default: on)")
    parser.add_argument("--mcap", action=argparse.BooleanOptionalAction, default=True,
                        help="write the rosbag2 MCAP folder poses/ (default: on)")
    parser.add_argument("--topic", help="bag: image topic (default: the only colour one)")
    parser.add_argument("--depth-topic", help="bag: aligned depth topic (default: found by "
                        "name; '' for none)")
    parser.add_argument("--camera-info-topic", help="bag: CameraInfo topic (default: the image "
                        "topic's namespace; '' for none)")
    parser.add_argument("--fps", type=float, default=30.0,
                        help="image folders: frame rate that sets the stamps (default 30)")
    parser.add_argument("--max-frames", type=int, help="stop after this many frames")
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
    parser.add_argument("--max-people", type=int, default=PipelineConfig.max_people)
    parser.add_argument("--detection-threshold", type=float,
                        default=PipelineConfig.detection_threshold)
    parser.add_argument("--detect-every", type=int, dest="detect_every_n_frames",
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
                       camera_info_topic=args.camera_info_topic, fps=args.fps)


def execute(args: argparse.Namespace, out=sys.stdout,
            estimator: PoseEstimator | None = None) -> RunStats:
    """The whole `pose-ros run`; raises PoseRosError on bad input. Returns the statistics.

    `estimator`: reuse an already built one (reset first; its config wins over the args').
    """
    from tqdm import tqdm

    config = config_from_args(args)
    policy = InputPolicy(assumed_hfov_deg=args.assumed_hfov)
    paths = output_paths(args.out, jsonl=args.jsonl, video=args.video, mcap=args.mcap)
    if not args.force:
        prepare_outputs(paths, force=False)           # fail fast, touching nothing
    with _open(args) as source:
        first, frames = first_frame(source)
        if estimator is None:
            estimator = PoseEstimator(config)
        estimator.reset()
        prepare_outputs(paths, force=args.force)
        if args.max_frames is not None:
            frames = itertools.islice(frames, args.max_frames)
        total = source.num_frames
        if total is not None and args.max_frames is not None:
            total = min(total, args.max_frames)
        stats = RunStats()
        print(f"source: {source.description}", file=out)
        with Sinks(paths, fps=source.fps) as sinks:
            results = process(frames, estimator, sinks, stats, policy=policy, fps=source.fps)
            for _ in tqdm(results, total=total, unit="frame", disable=args.quiet,
                          dynamic_ncols=True):
                pass
    for line in stats.summary_lines():
        print(line, file=out)
    for path in paths.values():
        print(f"wrote {path}", file=out)
    return stats


def run(args: argparse.Namespace) -> int:
    """Entry point for the CLI: one clear error line and exit status 1 on bad input."""
    try:
        execute(args)
    except PoseRosError as exc:  # bad input, model files (ModelStoreError)
        print(f"pose-ros run: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pose-ros run: interrupted; outputs hold the frames processed so far",
              file=sys.stderr)
        return 130
    return 0
