"""Stop a real `pose-ros run` with SIGTERM, SIGINT and SIGKILL at seeded random moments.

    python tools/kill_test.py [--trials 24] [--seed 1] [--frames 240] [--json kill.json]

A clip is rendered from the demo photograph (--frames frames, 640x360); one run to the end
measures how long a run takes; then every trial starts `pose-ros run` afresh and sends its
signal at a moment drawn uniformly from [0, 1.1 x that time], so some land in start-up, most
mid-run. test/kill_trials.py (shared with test/test_kill.py) checks each: poses.jsonl only whole
lines; after SIGTERM/SIGINT one line, exit 128 + signal and all outputs complete and equal;
after SIGKILL, `pose-ros recover` and every output holding at least the frames written more
than one second before the kill. Exit status 1 if any trial shows a problem.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "test")]

from kill_trials import run_trial  # noqa: E402

from pose_ros.io.demo import write_demo_video  # noqa: E402

SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL, signal.SIGINT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--frames", type=int, default=240, help="frames of the clip")
    parser.add_argument("--json", type=Path, help="write every trial here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pose_ros_kill_"))
    clip = write_demo_video(work / "clip.mp4", num_frames=args.frames)

    start = time.monotonic()
    full = run_trial(clip, work / "full", signal.SIGTERM, delay_s=1e9)
    full_s = time.monotonic() - start
    print(f"a whole run: {full_s:.1f} s, {full.jsonl_frames} frames, exit {full.returncode}")
    rng = random.Random(args.seed)
    trials = []
    header = (f"{'#':>3} {'signal':7} {'at s':>6} {'phase':9} {'exit':>4} {'jsonl':>5} "
              f"{'>1s old':>7} {'video':>11} {'bag':>22}  problems")
    print(header)
    for i in range(args.trials):
        sig = SIGNALS[i % len(SIGNALS)]
        delay = rng.uniform(0.0, 1.1 * full_s)
        t = run_trial(clip, work / f"trial_{i:03d}", sig, delay)
        trials.append(t)
        video = (f"{t.video_frames_before_recover}->{t.video_frames}"
                 if t.video_frames is not None else "-")
        bag = (f"{'ok' if t.bag_before_recover == 'readable' else 'recovered'} "
               f"{t.bag_frames}" if t.bag_frames is not None else "-")
        phase = "finished" if t.returncode == 0 else t.phase
        print(f"{i:3d} {sig.name:7} {delay:6.1f} {phase:9} {t.returncode:4d} "
              f"{t.jsonl_frames:5d} {t.lines_1s_before:7d} {video:>11} {bag:>22}  "
              f"{'; '.join(t.problems) or 'none'}", flush=True)
    bad = [t for t in trials if t.problems]
    mid = [t for t in trials if t.returncode != 0 and t.phase == "running"]
    kills = [t for t in mid if t.signal_name == "SIGKILL"]
    unreadable = [t for t in kills if t.bag_before_recover != "readable"]
    print(f"{len(trials)} trials (seed {args.seed}): {len(mid)} stopped mid-run, "
          f"{sum(t.phase == 'start-up' and t.returncode != 0 for t in trials)} in start-up, "
          f"{sum(t.returncode == 0 for t in trials)} finished first; problems in {len(bad)}. "
          f"SIGKILL mid-run: {len(kills)}, MCAP needed `pose-ros recover` in "
          f"{len(unreadable)}, video decodable before recovery in "
          f"{sum(bool(t.video_frames_before_recover) for t in kills)}")
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "whole_run_s": full_s,
                                         "trials": [asdict(t) for t in trials]}, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
