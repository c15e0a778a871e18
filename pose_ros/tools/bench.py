"""`pose-ros bench`: how fast the whole pipeline runs here, stage by stage, next to MediaPipe.

Per frame the source is decoded, the PoseEstimator runs (detect, landmarks, tracking, lift,
placement, smoothing: its own timings), and the frame's ROS messages are built (SkeletonArray +
MarkerArray, rosbags classes from our msg/ files). Each stage's p50/p95 latency is over the
frames it ran on (the detector runs only on some); end-to-end = decode + pipeline + messages.
With `--reference mediapipe`, mediapipe's own `mp.solutions.pose` runs on the same frames,
interleaved frame by frame so a busy phase of a shared machine slows both alike; its frames per
second count decode + its `process()`. Before timing, both run `--warmup` times on the first
frame and are then reset (tracks, filters; a fresh MediaPipe graph).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from pose_ros import checks
from pose_ros.errors import PoseRosError
from pose_ros.eval.report import environment, table_stages, write_json
from pose_ros.io.sources import Frame, Source, good_frames, open_source
from pose_ros.pipeline import (
    PipelineConfig,
    PoseEstimator,
    add_detection_arguments,
    add_runtime_arguments,
)
from pose_ros.stage3d import POSE3D_SOURCES

STAGES = ("decode", "detect", "proposals", "landmarks", "tracking", "lift", "placement",
          "hands", "smoothing", "cues", "messages", "pipeline", "end_to_end")
FROM_PIPELINE = {"detect": "detect", "proposals": "proposals", "landmarks": "landmarks",
                 "track": "tracking", "lift": "lift", "place": "placement", "hands": "hands",
                 "smooth": "smoothing", "cues": "cues", "total": "pipeline"}


def looped(open_fn: Callable[[], Source], num_frames: int | None) -> Iterator[Frame]:
    """The source's frames, reopened until num_frames (None: once); stamps keep increasing.
    Opening is lazy, so the time a caller measures for a frame includes (re)opening."""
    count, offset_ns = 0, 0
    while True:
        last = None
        with open_fn() as source:
            for frame in good_frames(source):     # undecodable frames are not timed
                if num_frames is not None and count >= num_frames:
                    return
                last = frame
                yield dataclasses.replace(frame, index=count, stamp_ns=frame.stamp_ns + offset_ns)
                count += 1
        if num_frames is None or last is None or count >= num_frames:
            return
        offset_ns += last.stamp_ns + int(1e9 / (source.fps or 30.0))


def summarize_ms(samples: list[float]) -> dict[str, float]:
    a = np.asarray(samples, dtype=np.float64)
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "mean_ms": float(a.mean()), "count": int(len(a))}


class MessageBuilder:
    """What the node publishes per frame, built with rosbags' classes for our msg/ types."""

    def __init__(self) -> None:
        from pose_ros.ros.messages import RosbagsFactory
        from pose_ros.ros.msgdefs import typestore

        self.factory = RosbagsFactory(typestore())

    def __call__(self, poses) -> tuple:
        from pose_ros.ros.markers import marker_array_msg
        from pose_ros.ros.messages import skeleton_array_msg

        return skeleton_array_msg(self.factory, poses), marker_array_msg(self.factory, poses)


def timed(frames: Iterator[Frame]) -> Iterator[tuple[Frame, float, float]]:
    """(frame, wall-clock ms it took to get it, CPU ms of this process meanwhile)."""
    while True:
        start, cpu = time.perf_counter(), time.process_time()
        frame = next(frames, None)
        if frame is None:
            return
        yield frame, (time.perf_counter() - start) * 1e3, (time.process_time() - cpu) * 1e3


class _Run:
    """One estimator's samples in a benchmark (several run side by side, frame by frame)."""

    def __init__(self, estimator: PoseEstimator) -> None:
        self.estimator = estimator
        self.samples: dict[str, list[float]] = {s: [] for s in STAGES}
        self.people: list[int] = []
        self.track_ids: set[int] = set()
        self.hands: list[int] = []
        self.cpu_ms: list[float] = []

    def frame(self, frame: Frame, decode_ms: float, decode_cpu_ms: float,
              messages: MessageBuilder):
        from pose_ros.tools.runner import frame_poses

        cpu = time.process_time()
        people_now = self.estimator(frame.image_bgr, frame.stamp_s, camera=frame.camera_info,
                                    depth=frame.depth_m)
        t0 = time.perf_counter()
        messages(frame_poses(frame, people_now, self.estimator))
        messages_ms = (time.perf_counter() - t0) * 1e3
        timings = self.estimator.last_timings_ms
        self.samples["decode"].append(decode_ms)
        self.samples["messages"].append(messages_ms)
        for name, ms in timings.items():
            self.samples[FROM_PIPELINE[name]].append(ms)
        self.samples["end_to_end"].append(decode_ms + timings["total"] + messages_ms)
        self.people.append(len(people_now))
        self.track_ids.update(p.track_id for p in people_now)
        self.hands.append(sum(len(p.hands) for p in people_now))
        self.cpu_ms.append(decode_cpu_ms + (time.process_time() - cpu) * 1e3)
        return people_now


def benchmark(frames: Iterator[Frame], estimator: PoseEstimator | list[PoseEstimator],
              reference=None, warmup: int = 3, profile: str | None = None,
              total: int | None = None, progress: bool = False) -> dict:
    """Time every stage on every frame; see the module docstring. Returns the report dict.

    estimator: one, or several (e.g. one per backend): each frame goes through each in turn,
    so a busy phase of the machine slows all alike; the report's top level is the first one's,
    `backends` has every one's. reference: a bench_reference.MediaPipePose/MediaPipeProcess or
    None. total: frame count for the progress bar.
    """
    from tqdm import tqdm

    from pose_ros.tools.bench_reference import keypoint_differences
    from pose_ros.tools.runner import frame_poses

    runs = [_Run(e) for e in (estimator if isinstance(estimator, list) else [estimator])]
    messages = MessageBuilder()
    ref_ms, ref_cpu_ms, ref_found, diffs, rel_diffs = [], [], [], [], []
    stream = timed(frames)
    first = next(stream, None)
    if first is None:
        raise PoseRosError("the source has no frames")
    for i in range(warmup):
        frame = first[0]
        stamp_s = frame.stamp_s - (warmup - i) / 30.0    # increasing, before the first frame
        for run in runs:
            messages(frame_poses(frame, run.estimator(frame.image_bgr, stamp_s), run.estimator))
        if reference is not None:
            reference(frame.image_bgr[..., ::-1].copy())
    for run in runs:
        run.estimator.reset()
    if reference is not None:
        reference.reset()
    with _profiler(profile, runs[0].estimator.device) as prof:
        for frame, decode_ms, decode_cpu_ms in tqdm(
                _chain_first(first, stream), total=total, disable=not progress, unit="frame",
                dynamic_ncols=True):
            people_now = [run.frame(frame, decode_ms, decode_cpu_ms, messages)
                          for run in runs][0]
            if reference is not None:
                found = reference(frame.image_bgr[..., ::-1].copy())
                ref_ms.append(decode_ms + reference.last_ms)
                ref_cpu_ms.append(decode_cpu_ms + reference.last_cpu_ms)
                ref_found.append(found is not None)
                if found is not None:
                    dist, size_px = keypoint_differences(
                        found, [p.keypoints_2d for p in people_now], runs[0].estimator.topology)
                    diffs.append(dist)
                    rel_diffs.append(dist / max(size_px, 1.0))
    if prof is not None:
        prof.export_chrome_trace(profile)
    reports = [_report(run.samples, run.people, run.hands, run.cpu_ms, reference, ref_ms,
                       ref_cpu_ms, ref_found, diffs, rel_diffs) for run in runs]
    for run, r in zip(runs, reports, strict=True):
        r["track_ids"] = len(run.track_ids)
    report = dict(reports[0])
    report["backends"] = {_label(run.estimator): r for run, r in zip(runs, reports)}
    return report


def _label(estimator: PoseEstimator) -> str:
    net = estimator.blazepose.landmark_net
    return f"{estimator.backend} {estimator.config.precision}" + (
        f" ({net.provider})" if hasattr(net, "provider") else "") + (
        f" tiles {estimator.config.tile_levels}")


def _chain_first(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


@contextlib.contextmanager
def _profiler(path: str | None, device: str):
    if path is None:
        yield None
        return
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device != "cpu" else [])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with profile(activities=activities) as prof:
        yield prof


def _report(samples, people, hands, cpu_ms, reference, ref_ms, ref_cpu_ms, ref_found, diffs,
            rel_diffs) -> dict:
    stages = {name: summarize_ms(s) for name, s in samples.items() if s}
    frames = len(people)
    counts = np.asarray(people)
    end_to_end = np.asarray(samples["end_to_end"])
    report = {
        "fps": 1e3 * frames / sum(samples["end_to_end"]),
        "pipeline_fps": 1e3 * frames / sum(samples["pipeline"]),
        "frames": frames,
        "people_per_frame": {"mean": float(counts.mean()), "max": int(counts.max()),
                             "frames_with_people": int(np.count_nonzero(counts))},
        "stages": stages,
        # CPU time of this process per frame (decode + pipeline + messages, all threads): on a
        # shared machine it varies less than wall-clock time with what else runs
        "cpu_ms_per_frame": summarize_ms(cpu_ms),
        # what each extra person costs: end-to-end p50 over the frames with that many people
        "end_to_end_by_people": {str(n): summarize_ms(end_to_end[counts == n])
                                 for n in np.unique(counts)},
        "hands": None,
        "reference": None,
    }
    if samples["hands"]:
        # the hand stage's time over the hands it found (a hand it looked for and did not find
        # costs the same; their share is in frames_with_hand_stage vs hands)
        report["hands"] = {"hands": int(sum(hands)), "hands_per_frame": float(np.mean(hands)),
                           "frames_with_hand_stage": len(samples["hands"]),
                           "ms_per_hand": float(sum(samples["hands"]) / max(sum(hands), 1)),
                           "share_of_pipeline": float(sum(samples["hands"])
                                                      / sum(samples["pipeline"]))}
    if reference is not None:
        all_diffs = np.concatenate(diffs) if diffs else np.zeros(0)
        all_rel = np.concatenate(rel_diffs) if rel_diffs else np.zeros(0)
        both = int(np.sum(np.asarray(ref_found) & (counts > 0)))
        ref_fps = 1e3 * frames / sum(ref_ms)
        report["reference"] = {
            "name": "mediapipe", "version": reference.version, "options": reference.options,
            "python": getattr(reference, "python", "this process"),
            "fps": ref_fps, "end_to_end": summarize_ms(ref_ms),
            "cpu_ms_per_frame": summarize_ms(ref_cpu_ms),
            "cpu_time_ratio": float(np.sum(ref_cpu_ms) / np.sum(cpu_ms)),
            "frames_with_pose": int(np.sum(ref_found)),
            "throughput_ratio": report["fps"] / ref_fps,
            "frames_both_found": both,
            "median_keypoint_difference_px": float(np.median(all_diffs)) if all_diffs.size
            else None,
            "median_keypoint_difference_of_person_size": float(np.median(all_rel))
            if all_rel.size else None,
            "keypoints_compared": int(all_diffs.size),
        }
    return report


# ----------------------------------------------------------------------------- CLI glue

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pose-ros bench`; dispatch with run(args)."""
    parser.add_argument("source", nargs="?", help="video file or image folder (or a bag)")
    parser.add_argument("--demo", action="store_true", help="bench on the 2 s clip rendered "
                        "from scikit-image's astronaut photograph")
    parser.add_argument("--loop", type=checks.count(1), metavar="N", help="run exactly N "
                        "frames, looping the source as often as needed (default: the source "
                        "once)")
    parser.add_argument("--warmup", type=checks.count(0), default=3, help="untimed runs on the "
                        "first frame before timing (default 3)")
    parser.add_argument("--reference", choices=("mediapipe",), help="also run mediapipe "
                        "0.10.14's mp.solutions.pose on the same frames (pip install "
                        "'.[reference]', or see --reference-python)")
    parser.add_argument("--reference-python", metavar="PYTHON", help="run the reference in "
                        "this interpreter's environment (a venv with mediapipe==0.10.14; it "
                        "needs protobuf < 5, the ONNX tools >= 6) instead of in this process")
    parser.add_argument("--profile", metavar="TRACE.json", help="write a torch profiler trace "
                        "(chrome://tracing, Perfetto); timings are slower while profiling")
    parser.add_argument("--json", metavar="FILE", help="write every figure; top level 'fps' "
                        "(end to end), reference figures under 'reference'")
    add_runtime_arguments(parser, compare_backends=True)
    parser.add_argument("--no-3d", dest="enable_3d", action="store_false",
                        help="2D only: no lifter, no placement")
    parser.add_argument("--no-smoothing", dest="smoothing", action="store_false")
    parser.add_argument("--pose3d", choices=POSE3D_SOURCES, default=PipelineConfig.pose3d,
                        help="3D source: lifter (2D history), world (BlazePose world landmarks), "
                        "fused (both; needs fused weights)")
    parser.add_argument("--skeleton", choices=("coco17", "blazepose33"), default="coco17")
    parser.add_argument("--hands", dest="enable_hands", action="store_true",
                        help="also run the hand models (hands with the forearm up)")
    parser.add_argument("--all-hands", dest="hands_raised_only", action="store_false",
                        help="with --hands: every visible hand, hanging ones too")
    parser.add_argument("--max-people", type=checks.count(1), default=PipelineConfig.max_people)
    parser.add_argument("--detect-every", type=checks.count(1), dest="detect_every_n_frames",
                        default=PipelineConfig.detect_every_n_frames)
    add_detection_arguments(parser, compare=True)
    parser.add_argument("--fps", type=checks.frame_rate, default=30.0, help="image folders: "
                        "frame rate that sets the stamps (default 30)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _source_opener(args: argparse.Namespace) -> Callable[[], Source]:
    if args.demo == bool(args.source):
        raise PoseRosError("give a SOURCE or --demo (not both)")
    if args.demo:
        import tempfile

        from pose_ros.io.demo import write_demo_video

        clip = Path(tempfile.mkdtemp(prefix="pose_ros_bench_")) / "demo.mp4"
        write_demo_video(clip)
        return lambda: open_source(clip)
    return lambda: open_source(args.source, fps=args.fps)


def execute(args: argparse.Namespace, out=None) -> dict:
    """The whole `pose-ros bench`; raises PoseRosError on bad input. Returns the report."""
    from pose_ros.tools.run_command import config_from_args

    out = out or sys.stdout

    if args.loop is not None and args.loop < 1:
        raise PoseRosError(f"--loop {args.loop}: give a number of frames >= 1")
    # output files are checked now: a results file that cannot be written must not cost a run
    if args.json:
        checks.check_output_file(Path(args.json), "--json")
    if args.profile:
        checks.check_output_file(Path(args.profile), "--profile")
    reference = None
    if args.reference == "mediapipe":
        from pose_ros.tools.bench_reference import open_reference
        # fails first, with the install hint; smoothing follows ours so keypoints compare
        reference = open_reference(args.reference_python, smooth_landmarks=args.smoothing)
    try:
        opener = _source_opener(args)
        with opener() as source:                # bad input fails here, before the models load
            description, total = source.description, source.num_frames
        backends = list(dict.fromkeys(args.backend))
        configs = [config_from_args(argparse.Namespace(**{**vars(args), "backend": b,
                                                          "tile_levels": t}))
                   for b in backends for t in dict.fromkeys(args.tile_levels)]
        estimators = [PoseEstimator(c) for c in configs]
        report = benchmark(looped(opener, args.loop), estimators, reference,
                           warmup=args.warmup, profile=args.profile,
                           total=args.loop or total, progress=not args.quiet)
    finally:
        if reference is not None:
            reference.close()
    estimator = estimators[0]
    report["settings"] = {"source": description, "loop": args.loop, "warmup": args.warmup,
                          "pipeline": dataclasses.asdict(configs[0]),
                          "backends": [_label(e) for e in estimators],
                          "device": estimator.device,
                          "torch_threads": _torch_threads(), "profiled": bool(args.profile),
                          "models_sha256": estimator.model_digests()}
    report["environment"] = environment()
    _print(report, description, out)
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}", file=out)
    if args.profile:
        print(f"wrote {args.profile} (torch profiler trace)", file=out)
    return report


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _print(report: dict, description: str, out) -> None:
    people = report["people_per_frame"]
    print(f"source: {description}", file=out)
    print(f"frames: {report['frames']}  people per frame: mean {people['mean']:.2f}, max "
          f"{people['max']}, frames with people {people['frames_with_people']}", file=out)
    for name, run in report["backends"].items():
        if len(report["backends"]) > 1:
            print(f"--- backend {name}", file=out)
        print(f"frames with people {run['people_per_frame']['frames_with_people']}, track ids "
              f"{run['track_ids']}, people per frame {run['people_per_frame']['mean']:.2f}",
              file=out)
        for line in table_stages(run["stages"], list(STAGES)):
            print(line, file=out)
        by_people = ", ".join(f"{n}: {t['p50_ms']:.1f} ms" for n, t in
                              run["end_to_end_by_people"].items())
        ratio = (f"; ratio to mediapipe {run['reference']['throughput_ratio']:.2f} (CPU time "
                 f"{run['reference']['cpu_time_ratio']:.2f})" if run["reference"] else "")
        if run.get("hands"):
            h = run["hands"]
            print(f"hands: {h['hands']} hands ({h['hands_per_frame']:.2f} per frame), "
                  f"{h['ms_per_hand']:.1f} ms per hand, {100 * h['share_of_pipeline']:.0f} % of "
                  f"the pipeline's time", file=out)
        print(f"end to end: {run['fps']:.1f} fps (decode + pipeline + messages); pipeline "
              f"alone: {run['pipeline_fps']:.1f} fps{ratio}; p50 by people in the frame: "
              f"{by_people}", file=out)
    ref = report["reference"]
    if ref is not None:
        diff = ref["median_keypoint_difference_px"]
        print(f"mediapipe {ref['version']} ({ref['python']}): {ref['fps']:.1f} fps (decode + "
              f"process), pose in "
              f"{ref['frames_with_pose']} frames (ours: {people['frames_with_people']}); "
              f"throughput ratio ours/mediapipe {ref['throughput_ratio']:.2f}; median keypoint "
              f"difference {'-' if diff is None else f'{diff:.2f} px'} over "
              f"{ref['keypoints_compared']} keypoints in {ref['frames_both_found']} frames",
              file=out)


def run(args: argparse.Namespace) -> int:
    """Entry point for the CLI: one clear error line and exit status 1 on bad input."""
    try:
        execute(args)
    except PoseRosError as exc:
        print(f"pose-ros bench: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:      # e.g. the disk filled up while writing --json
        print(f"pose-ros bench: error: cannot write or read {exc.filename or 'a file'}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0
