"""`pose-ros recover OUT`: finish the outputs of a run that was killed (SIGKILL, power loss).

A run stopped by SIGINT or SIGTERM closes its outputs itself. A killed one leaves:
- poses.jsonl: whole lines (each is one write), so at most a partial last line after a power
  loss; it is cut off.
- annotated.mp4: fragmented, so it plays up to its last complete fragment; a fragment header cut
  in the middle is removed (video.trim_mp4).
- poses/: an MCAP without summary or footer, which rosbags, `ros2 bag play` and `ros2 bag info`
  refuse; its complete chunks are rewritten into a finished recording with a matching
  metadata.yaml (recording.recover_bag).
Running it on complete outputs changes nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pose_ros.errors import PoseRosError
from pose_ros.io.recording import recover_bag
from pose_ros.io.sinks import BAG_NAME, JSONL_NAME, VIDEO_NAME
from pose_ros.io.video import count_frames, trim_mp4


def recover_jsonl(path: Path) -> str:
    """Cut a partial last line; say how many lines remain."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    cut = len(data) - end
    if cut:
        with path.open("r+b") as f:
            f.truncate(end)
    lines = data[:end].count(b"\n")
    return f"{path}: {lines} frames" + (f" (cut a partial last line of {cut} bytes)" if cut
                                         else ", complete")


def recover_video(path: Path) -> str:
    removed = trim_mp4(path)
    frames = count_frames(path)
    note = f" (cut {removed} bytes of an incomplete fragment)" if removed else ""
    if frames == 0:
        return f"{path}: no frame could be decoded{note}"
    return f"{path}: {frames} frames decode{note}"


def recover_outputs(out: Path) -> list[str]:
    """Repair what a killed `pose-ros run --out out` left; one line per output."""
    out = Path(out)
    if not out.is_dir():
        raise PoseRosError(f"{out} is not a folder: give the --out folder of the run to recover")
    lines = []
    if (out / JSONL_NAME).is_file():
        lines.append(recover_jsonl(out / JSONL_NAME))
    if (out / VIDEO_NAME).is_file():
        lines.append(recover_video(out / VIDEO_NAME))
    if (out / BAG_NAME).is_dir():
        bag = recover_bag(out / BAG_NAME)
        topics = ", ".join(f"{t} {n}" for t, n in sorted(bag.per_topic.items())) or "none"
        lines.append(f"{bag.path}: {bag.messages} messages ({topics}); {bag.note}")
    if not lines:
        raise PoseRosError(f"no pose-ros outputs ({JSONL_NAME}, {VIDEO_NAME}, {BAG_NAME}/) in "
                           f"{out}")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the --out folder of the killed run")


def run(args: argparse.Namespace) -> int:
    try:
        for line in recover_outputs(args.out):
            print(line)
    except PoseRosError as exc:
        print(f"pose-ros recover: error: {exc}", file=sys.stderr)
        return 1
    return 0
