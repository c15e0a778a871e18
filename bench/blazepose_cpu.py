"""BlazePose on CPU: our torch executor against LiteRT and MediaPipe, same frames, same process.

Not a test: timings depend on the machine and on what else runs on it. Every comparison is
made inside one process on the same inputs, runtimes interleaved call by call, so slow phases of
a shared machine hit all of them alike; report ratios, and the load average printed with them.

    # per model (detector, landmark), batch 1 and 4: torch eager / fx / jit-frozen, onnxruntime
    # (the backends' own objects) vs LiteRT
    .venv/bin/python bench/blazepose_cpu.py models --threads 1 2
    # tracking mode on the clips (decode excluded), ours and MediaPipe's own graph frame by frame
    # in turn in this process; mediapipe comes from a separate venv (never installed here)
    .venv/bin/python bench/blazepose_cpu.py track --runtimes torch torch-mp mediapipe \
        --mediapipe-site /tmp/mpvenv/lib/python3.11/site-packages --threads 1 2 --load 0 1 2
    # or MediaPipe alone, in its own venv (separate invocation)
    /tmp/mpvenv/bin/python bench/blazepose_cpu.py track --runtimes mediapipe

Each run prints a markdown table and, with --json, writes its numbers for bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

VIDEO_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
CLIPS = ("test_video_structuralize.mp4", "single_person_demo.mp4", "multi_person_demo.mp4")


def read_frames(path: Path, limit: int) -> list[np.ndarray]:
    """RGB frames, decoded up front so decoding is not timed."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    if not frames:
        raise SystemExit(f"no frames in {path}")
    return frames


def busy(stop: multiprocessing.Event) -> None:
    while not stop.is_set():
        pass


class Load:
    """N competing processes that each keep one core busy (the 'other software' on a robot)."""

    def __init__(self, n: int) -> None:
        self.stop = multiprocessing.Event()
        self.procs = [multiprocessing.Process(target=busy, args=(self.stop,), daemon=True)
                      for _ in range(n)]

    def __enter__(self) -> Load:
        for p in self.procs:
            p.start()
        time.sleep(0.5 if self.procs else 0)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for p in self.procs:
            p.join()


def stats_ms(samples_s: list[float]) -> dict:
    a = np.asarray(samples_s) * 1e3
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "n": len(a)}


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "load_avg_1min": round(os.getloadavg()[0], 2),
            "date": time.strftime("%Y-%m-%d %H:%M")}


# --------------------------------------------------------------------------- models
def model_inputs(frames: list[np.ndarray], pose, count: int) -> dict[str, np.ndarray]:
    """Real network inputs: letterboxed frames for the detector, person crops for landmarks."""
    import torch

    from pose_ros.models import blazepose_detector as det
    from pose_ros.models.roi import letterbox_roi, rois_to_array

    det_in, lm_in = [], []
    for frame in frames[:: max(1, len(frames) // count)][:count]:
        h, w = frame.shape[:2]
        prepared = pose.prepare(frame)
        det_in.append(pose._crops(prepared, letterbox_roi(w, h), det.INPUT_SIZE, "zero", -1, 1))
        rois = pose.detect(frame) or [pose.detect(frames[0])[0]]
        lm_in.append(pose._crops(prepared, rois_to_array(rois[:1]), 256, "replicate", 0, 1))
    return {"pose_detection": torch.cat(det_in).numpy(),
            "pose_landmark_full": torch.cat(lm_in).numpy()}


def bench_models(args) -> dict:
    import torch
    from ai_edge_litert.interpreter import Interpreter

    from pose_ros.models import store
    from pose_ros.models.blazepose import LANDMARK_OUTPUTS, BlazePose
    from pose_ros.models.tflite_graph import TFLiteGraph

    frames = read_frames(VIDEO_DIR / CLIPS[0], 300)
    paths = store.fetch_models()
    results = {"machine": machine(), "kind": "models", "rows": []}
    for threads in args.threads:
        torch.set_num_threads(threads)
        pose = BlazePose(num_threads=threads, backend="torch")
        ort_pose = BlazePose(num_threads=threads, backend="onnxruntime")
        inputs = model_inputs(frames, pose, 16)
        for name, x_all in inputs.items():
            outs = LANDMARK_OUTPUTS if name == "pose_landmark_full" else None
            eager = TFLiteGraph(paths[name], outputs=outs).eval()
            landmarks = name == "pose_landmark_full"
            fx = pose.landmark_net if landmarks else pose.detector_net
            ort_net = ort_pose.landmark_net if landmarks else ort_pose.detector_net
            with warnings.catch_warnings():   # the deprecated path, measured for the record
                warnings.simplefilter("ignore", DeprecationWarning)
                frozen = torch.jit.freeze(torch.jit.trace(
                    eager, torch.from_numpy(x_all[:1])).eval())
            interp = Interpreter(model_path=str(paths[name]), num_threads=threads)
            interp.allocate_tensors()
            inp = interp.get_input_details()[0]["index"]

            def litert(x, interp=interp, inp=inp):
                for one in x:  # the file's batch is 1: people one after the other
                    interp.set_tensor(inp, one[None])
                    interp.invoke()

            for batch in (1, 4):
                runtimes = {"torch eager": lambda x, m=eager: m(torch.from_numpy(x)),
                            "torch fx (backend torch)": lambda x, m=fx: m(torch.from_numpy(x)),
                            "torch jit frozen (deprecated)":
                                lambda x, m=frozen: m(torch.from_numpy(x)),
                            "onnxruntime (backend onnxruntime)":
                                lambda x, m=ort_net: m(torch.from_numpy(x)),
                            "LiteRT": litert}
                times = {k: [] for k in runtimes}
                with torch.no_grad():
                    for rep in range(args.reps + 3):
                        i = (rep * batch) % (len(x_all) - batch + 1)
                        x = np.ascontiguousarray(x_all[i:i + batch])
                        for label, run in runtimes.items():  # interleaved
                            start = time.perf_counter()
                            run(x)
                            if rep >= 3:
                                times[label].append(time.perf_counter() - start)
                ref = stats_ms(times["LiteRT"])
                for label, samples in times.items():
                    s = stats_ms(samples)
                    results["rows"].append({
                        "model": name, "threads": threads, "batch": batch, "runtime": label,
                        **s, "per_image_ms": s["p50_ms"] / batch,
                        "vs_litert_p50": s["p50_ms"] / ref["p50_ms"]})
    results["machine_end"] = machine()
    return results


def print_models(res: dict) -> None:
    print(f"\n{res['machine']} -> load at end {res['machine_end']['load_avg_1min']}")
    print("| model | threads | batch | runtime | p50 ms | p95 ms | ms/image | time vs LiteRT |")
    print("|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        print(f"| {r['model']} | {r['threads']} | {r['batch']} | {r['runtime']} | "
              f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['per_image_ms']:.1f} | "
              f"{r['vs_litert_p50']:.2f}x |")


# --------------------------------------------------------------------------- tracking
class MediaPipeOneEuro:
    """MediaPipe's OneEuroFilter (util/filtering): unlike Casiez's reference code, the speed
    comes from consecutive raw values, scaled by 1 / object size."""

    def __init__(self, min_cutoff: float = 0.01, beta: float = 10.0, d_cutoff: float = 1.0,
                 ) -> None:
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self.raw = self.x = self.dx = self.t_s = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt_s: float) -> np.ndarray | float:
        return 1.0 / (1.0 + 1.0 / (2 * np.pi * cutoff) / dt_s)

    def __call__(self, value: np.ndarray, t_s: float, scale: float) -> np.ndarray:
        value = np.asarray(value, dtype=np.float64)
        if self.x is None:
            self.raw, self.x, self.dx, self.t_s = value, value, np.zeros_like(value), t_s
            return value
        dt_s, self.t_s = t_s - self.t_s, t_s
        dvalue = (value - self.raw) / scale / dt_s
        self.dx = self.dx + self._alpha(self.d_cutoff, dt_s) * (dvalue - self.dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self.dx)
        self.x = self.x + self._alpha(cutoff, dt_s) * (value - self.x)
        self.raw = value
        return self.x


class TorchTracker:
    """Our BlazePose in MediaPipe's tracking mode: detector only when the person is lost.

    With smooth_aux, the two auxiliary keypoints that make the next ROI are One Euro filtered
    as MediaPipe's PoseLandmarkFiltering does (its filter, min_cutoff 0.01, beta 10, derivate
    cutoff 1, speed per ROI size), which keeps the ROI steady.
    """

    def __init__(self, threads: int, smooth_aux: bool = True, retry_lost: bool = False,
                 fps: float = 30.0, backend: str = "torch") -> None:
        from pose_ros.models.blazepose import BlazePose

        self.pose = BlazePose(num_threads=threads, backend=backend)
        self.roi = None
        self.detections = 0
        self.retry_lost = retry_lost
        self.frame_s = 1.0 / fps
        self.t_s = 0.0
        self.aux_filter = MediaPipeOneEuro() if smooth_aux else None

    def __call__(self, frame: np.ndarray) -> bool:
        from pose_ros.models.roi import Roi, rois_from_points

        self.t_s += self.frame_s
        tracked = self.roi is not None
        if tracked:
            rois = [self.roi]
        else:
            self.detections += 1
            rois = self.pose.detect(frame)[:1]
        people = self.pose.landmarks(frame, rois) if rois else []
        found = bool(people) and people[0].presence >= 0.5
        if not found and tracked and self.retry_lost:  # lost: look again in this frame
            self.detections += 1
            rois = self.pose.detect(frame)[:1]
            people = self.pose.landmarks(frame, rois) if rois else []
            found = bool(people) and people[0].presence >= 0.5
            if self.aux_filter is not None:
                self.aux_filter.reset()
        if not found:
            self.roi = None
            if self.aux_filter is not None:
                self.aux_filter.reset()
        elif self.aux_filter is None:
            self.roi = people[0].next_roi
        else:
            aux = self.aux_filter(people[0].auxiliary_px, self.t_s,
                                  scale=people[0].next_roi.size_px / 1.25)
            r = rois_from_points(aux[:1], aux[1:])[0]
            self.roi = Roi(r[:2], r[2], r[3])
        return found


class MediaPipeTracker:
    """mp.solutions.pose in video mode, model_complexity 1 (the same two .tflite files)."""

    def __init__(self, threads: int) -> None:
        import mediapipe as mp

        self.pose = mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                           enable_segmentation=False)
        self.detections = -1  # not observable from the solution API

    def __call__(self, frame: np.ndarray) -> bool:
        return self.pose.process(frame).pose_landmarks is not None


def make_tracker(runtime: str, threads: int):
    if runtime == "mediapipe":
        return MediaPipeTracker(threads)
    return TorchTracker(threads, smooth_aux=True, retry_lost=runtime != "torch-mp",
                        backend="onnxruntime" if runtime == "onnxruntime" else "torch")


def bench_track(args) -> dict:
    """Tracking loop per clip; several runtimes run frame by frame in turn (order alternating),
    so each sees the same frames and the same moments of the machine's load."""
    results = {"machine": machine(), "kind": "track", "runtimes": args.runtimes, "rows": []}
    clips = {c: read_frames(VIDEO_DIR / c, args.frames) for c in args.clips}
    for threads in args.threads:
        for load in args.load:
            for clip, frames in clips.items():
                trackers = {}
                for runtime in args.runtimes:
                    warm = make_tracker(runtime, threads)
                    for frame in frames[:5]:  # warm-up; the timed run starts fresh
                        warm(frame)
                    trackers[runtime] = make_tracker(runtime, threads)
                times = {r: [] for r in trackers}
                found = dict.fromkeys(trackers, 0)
                order = list(trackers)
                with Load(load):
                    for _ in range(args.passes):
                        for frame in frames:
                            order.reverse()
                            for runtime in order:
                                start = time.perf_counter()
                                found[runtime] += trackers[runtime](frame)
                                times[runtime].append(time.perf_counter() - start)
                fps = {r: len(t) / sum(t) for r, t in times.items()}
                for runtime, samples in times.items():
                    results["rows"].append({
                        "clip": clip, "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
                        "runtime": runtime, "threads": threads, "busy_procs": load,
                        **stats_ms(samples), "fps": fps[runtime],
                        "fps_vs_mediapipe": (fps[runtime] / fps["mediapipe"]
                                             if "mediapipe" in fps else None),
                        "frames_with_pose": found[runtime] / args.passes,
                        "frames": len(frames),
                        "detector_runs": trackers[runtime].detections / args.passes})
                    print(results["rows"][-1], flush=True)
    results["machine_end"] = machine()
    return results


def print_track(res: dict) -> None:
    print(f"\n{res['machine']} -> load at end {res['machine_end']['load_avg_1min']}")
    print("| clip | size | runtime | threads | busy procs | fps | fps vs MediaPipe | p50 ms | "
          "p95 ms | frames with pose | detector runs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in res["rows"]:
        ratio = "" if r["fps_vs_mediapipe"] is None else f"{r['fps_vs_mediapipe']:.2f}x"
        runs = "" if r["detector_runs"] < 0 else f"{r['detector_runs']:.0f}"
        print(f"| {r['clip']} | {r['size']} | {r['runtime']} | {r['threads']} | "
              f"{r['busy_procs']} | {r['fps']:.1f} | {ratio} | {r['p50_ms']:.1f} | "
              f"{r['p95_ms']:.1f} | {r['frames_with_pose']:.0f}/{r['frames']} | {runs} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    models = sub.add_parser("models", help="per-model latency: torch eager/frozen vs LiteRT")
    models.add_argument("--reps", type=int, default=40)
    track = sub.add_parser("track", help="tracking-mode throughput on the clips")
    track.add_argument(
        "--runtimes", nargs="+", choices=("torch", "onnxruntime", "torch-mp", "mediapipe"),
        default=["torch"],
        help="torch / onnxruntime: ours on that backend, with a same-frame re-detection when "
             "the person is lost; torch-mp: "
             "ours with exactly MediaPipe's policy (re-detect on the next frame); mediapipe: "
             "mp.solutions.pose (needs mediapipe importable, see --mediapipe-site)")
    track.add_argument("--mediapipe-site", type=Path,
                       help="site-packages of a separate venv with mediapipe==0.10.14, put on "
                            "sys.path after torch is loaded (nothing is installed here)")
    track.add_argument("--clips", nargs="+", default=list(CLIPS))
    track.add_argument("--frames", type=int, default=300)
    track.add_argument("--passes", type=int, default=1)
    track.add_argument("--load", type=int, nargs="+", default=[0],
                       help="numbers of competing busy processes to run alongside")
    for p in (models, track):
        p.add_argument("--threads", type=int, nargs="+", default=[1])
        p.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if not VIDEO_DIR.is_dir():
        raise SystemExit(f"{VIDEO_DIR} not found: the benchmark needs the shared video clips")
    if args.what == "track" and set(args.runtimes) - {"mediapipe"}:
        import torch  # noqa: F401  load torch, numpy, cv2 from this venv first

        from pose_ros.models import blazepose  # noqa: F401
    if args.what == "track" and args.mediapipe_site:
        sys.path.insert(0, str(args.mediapipe_site))  # its protobuf, not a newer one here
    res = bench_models(args) if args.what == "models" else bench_track(args)
    (print_models if args.what == "models" else print_track)(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
