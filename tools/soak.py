"""Soak: 100,000 frames through the runner's loop with every output open; memory every 10,000.

    python tools/soak.py [--frames 100000] [--every 10000] [--json soak.json]

The frames are the demo clip (the astronaut photograph moving across a 640x360 canvas, 60
frames) looped with increasing stamps, so tracking, the lifter, smoothing, drawing, the JSONL,
the H.264 video and the MCAP recording (JPEG images) all run for the whole soak. Every 1,000th
frame is instead a garbage CompressedImage pushed through the decoder (image_codec.decode_bgr,
as a bag frame would be), which the runner skips and marks. Printed every --every frames: the
process's resident memory (VmRSS from /proc/self/status), wall time, frames per second, and
the outputs' sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from pose_ros.errors import PoseRosError  # noqa: E402
from pose_ros.input_policy import InputPolicy  # noqa: E402
from pose_ros.io import image_codec  # noqa: E402
from pose_ros.io.demo import demo_frames  # noqa: E402
from pose_ros.io.sinks import Sinks, output_paths  # noqa: E402
from pose_ros.io.sources import BadFrame, Frame  # noqa: E402
from pose_ros.pipeline import PipelineConfig, PoseEstimator  # noqa: E402
from pose_ros.ros.msgdefs import typestore  # noqa: E402
from pose_ros.tools.runner import RunStats, process  # noqa: E402

FPS = 30.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def frames(count: int):
    clip = list(demo_frames(60))
    ts = typestore()
    garbage = ts.types["sensor_msgs/msg/CompressedImage"](
        header=ts.types["std_msgs/msg/Header"](
            stamp=ts.types["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id="cam"),
        format="jpeg", data=np.frombuffer(b"\xff\xd8\xff\xe0" + bytes(500), np.uint8))
    for index in range(count):
        stamp_ns = int(round(index * 1e9 / FPS))
        if index % 1000 == 999:
            try:
                image_codec.decode_bgr(garbage)
            except PoseRosError as err:
                yield BadFrame(index, stamp_ns, f"soak message {index}", str(err))
                continue
        yield Frame(index=index, stamp_ns=stamp_ns, image_bgr=clip[index % len(clip)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="pose_ros_soak_"))
    paths = output_paths(out, jsonl=True, video=True, mcap=True)
    estimator = PoseEstimator(PipelineConfig(device="cpu"))
    stats = RunStats()
    rows = []
    start = time.perf_counter()
    print(f"outputs in {out}; start RSS {rss_mb():.0f} MB", flush=True)
    topology = estimator.topology
    with Sinks(paths, fps=FPS, skeleton=topology.name,
               keypoint_names=topology.keypoint_names,
               cues=estimator.config.enable_cues) as sinks:
        for n, _ in enumerate(process(frames(args.frames), estimator, sinks, stats,
                                      policy=InputPolicy(), fps=FPS), start=1):
            if n % args.every == 0 or n == args.frames:
                sizes = {k: sum(f.stat().st_size for f in ([p] if p.is_file() else p.iterdir()))
                         / 2**20 for k, p in paths.items()}
                wall = time.perf_counter() - start
                row = {"frames": n, "rss_mb": round(rss_mb(), 1), "wall_s": round(wall, 1),
                       "fps": round(n / wall, 2), "skipped": stats.skipped,
                       "track_ids": len(stats.track_ids),
                       "outputs_mb": {k: round(v, 1) for k, v in sizes.items()}}
                rows.append(row)
                print(json.dumps(row), flush=True)
    rss = [r["rss_mb"] for r in rows]
    print(f"{args.frames} frames in {rows[-1]['wall_s']:.0f} s; RSS {min(rss):.0f}-{max(rss):.0f}"
          f" MB (first checkpoint {rss[0]:.0f}, last {rss[-1]:.0f}); {stats.skipped} frames "
          f"skipped")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "out": str(out)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
