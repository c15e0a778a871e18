"""The full fuzz run: 10,000+ malformed messages and 1,000+ damaged files, seeded.

    python tools/fuzz_inputs.py [--seed 1] [--messages 10000] [--files 1000] [--json out.json]

The generators and checks are test/fuzz_messages.py's (CI runs a few hundred of the same cases
in test/test_fuzz_inputs.py); this script runs many more with a seed and prints how every case
ended. Every case must end in a usable result or a PoseRosError with a message: a failing case
is printed by hypothesis (shrunk to the smallest example) and the script exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "test")]

import fuzz_messages as fm  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402


def run(name: str, strategy, check, examples: int, seed_value: int) -> dict:
    calls = Counter()

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def prop(case):
        calls["cases"] += 1
        check(case)

    before = Counter(fm.OUTCOMES)
    start = time.perf_counter()
    failure = None
    try:
        prop()
    except Exception as exc:  # noqa: BLE001 - report the falsifying case, go on with the rest
        notes = "\n".join(getattr(exc, "__notes__", []))   # hypothesis's falsifying example
        failure = f"{type(exc).__name__}: {exc}\n{notes}".strip()
    outcomes = {k: v - before.get(k, 0) for k, v in fm.OUTCOMES.items()
                if v - before.get(k, 0)}
    result = {"kind": name, "cases": calls["cases"], "seconds": time.perf_counter() - start,
              "outcomes": outcomes, "failure": failure}
    print(f"{name}: {calls['cases']} cases in {result['seconds']:.0f} s; "
          f"{'FAILED: ' + failure if failure else 'no uncaught exception'}", flush=True)
    for outcome, n in sorted(outcomes.items()):
        print(f"    {n:6d}  {outcome}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--messages", type=int, default=10_000,
                        help="message cases in all (split over the four kinds)")
    parser.add_argument("--files", type=int, default=1_000, help="damaged-file cases")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    share = {"Image": 0.3, "CompressedImage": 0.3, "depth Image": 0.2, "CameraInfo": 0.2}
    workdir = Path(tempfile.mkdtemp(prefix="pose_ros_fuzz_files_"))
    runs = [
        ("Image", fm.raw_images(), fm.check_colour, share["Image"]),
        ("CompressedImage", fm.compressed_images(),
         lambda m: (fm.check_colour(m), fm.check_depth(m)), share["CompressedImage"]),
        ("depth Image", fm.raw_images(depth=True),
         lambda m: (fm.check_depth(m), fm.check_depth_pairing(m)), share["depth Image"]),
        ("CameraInfo", fm.camera_infos(), fm.check_camera_info, share["CameraInfo"]),
    ]
    results = [run(name, strategy, check, round(args.messages * part), args.seed + i)
               for i, (name, strategy, check, part) in enumerate(runs)]
    results.append(run("files", fm.damaged_files(), lambda c: fm.check_file(c, workdir),
                       args.files, args.seed + 10))
    total = sum(r["cases"] for r in results[:-1])
    failed = [r for r in results if r["failure"]]
    print(f"messages: {total} cases, files: {results[-1]['cases']} cases, seed {args.seed}; "
          f"uncaught exceptions: {len(failed)}")
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "results": results}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
