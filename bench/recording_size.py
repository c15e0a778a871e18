"""How big `pose-ros run`'s outputs are per minute of 720p video, per MCAP image mode.

    python bench/recording_size.py [CLIP ...] [--json sizes.json]

Each clip (default: the real clips in ../shared/data/video) is resized to 1280x720 and run once
through the runner's loop (BlazePose, tracking, 3D, drawing); the same results are then written
with each `--mcap-images` mode (jpeg, the default; raw; none) and the outputs measured. MB per
minute = bytes / (frames / the clip's frame rate) x 60, so it is a rate of the source's time.
The annotated video forces a keyframe every 0.5 s of wall time (so a kill loses at most that):
on a slow machine it holds more keyframes and is larger than on a fast one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402

from pose_ros.input_policy import InputPolicy  # noqa: E402
from pose_ros.io.sinks import MCAP_IMAGES, Sinks, output_paths  # noqa: E402
from pose_ros.io.sources import Frame, open_source  # noqa: E402
from pose_ros.pipeline import PipelineConfig, PoseEstimator  # noqa: E402
from pose_ros.tools.runner import process  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "video"
SIZE = (1280, 720)


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else list(path.iterdir())
    return sum(f.stat().st_size for f in files) / 1e6


def measure(clip: Path, estimator: PoseEstimator, work: Path) -> dict:
    with open_source(clip) as source:
        fps = source.fps or 30.0
        frames = [Frame(f.index, f.stamp_ns, cv2.resize(f.image_bgr, SIZE,
                                                        interpolation=cv2.INTER_AREA))
                  for f in source if isinstance(f, Frame)]
    estimator.reset()
    out = work / clip.stem
    paths = output_paths(out / "jpeg", jsonl=True, video=True, mcap=True)
    topology = estimator.topology
    cues = estimator.config.enable_cues        # as `pose-ros run` records them
    with Sinks(paths, fps=fps, skeleton=topology.name,
               keypoint_names=topology.keypoint_names, cues=cues) as sinks:
        results = list(process(frames, estimator, sinks, policy=InputPolicy(), fps=fps))
    minutes = len(frames) / fps / 60
    row = {"clip": clip.name, "frames": len(frames), "fps": fps,
           "jsonl_mb_per_min": size_mb(paths["jsonl"]) / minutes,
           "video_mb_per_min": size_mb(paths["video"]) / minutes,
           "mcap_mb_per_min": {"jpeg": size_mb(paths["mcap"]) / minutes}}
    for mode in MCAP_IMAGES:
        if mode == "jpeg":
            continue
        bag = output_paths(out / mode, jsonl=False, video=False, mcap=True)
        with Sinks(bag, fps=fps, mcap_images=mode, cues=cues) as sinks:
            for r in results:
                sinks.write(r.frame.index, r.poses, r.annotated_bgr)
        row["mcap_mb_per_min"][mode] = size_mb(bag["mcap"]) / minutes
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clips = args.clips or sorted(p for p in DATA.glob("*.mp4") if "multi" not in p.name)
    estimator = PoseEstimator(PipelineConfig(device="cpu"))
    work = Path(tempfile.mkdtemp(prefix="pose_ros_sizes_"))
    rows = [measure(clip, estimator, work) for clip in clips]
    print("clip (resized to 1280x720)        frames  fps   MB/min: mcap jpeg   raw    none"
          "   video  jsonl")
    for r in rows:
        m = r["mcap_mb_per_min"]
        print(f"{r['clip']:<32} {r['frames']:6d} {r['fps']:5.1f} {m['jpeg']:16.1f} "
              f"{m['raw']:6.0f} {m['none']:6.2f} {r['video_mb_per_min']:7.1f} "
              f"{r['jsonl_mb_per_min']:6.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
