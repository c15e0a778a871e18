"""`pose-ros bvh-table`: how every BVH take of some folders is read (units, up axis, body).

One row per take: the unit inferred (or given), the up axis, the body's stature, shoulder
width, hip width, thigh and shin (metres, pose_ros/train/mocap.py), its subject and activity;
refused takes are listed with their one-line reason. A summary per folder ends the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.train import corpus
from pose_ros.train.mocap import read_take

COLUMNS = ("stature_m", "shoulder_width_m", "hip_width_m", "thigh_m", "shin_m")


def table(folders: list[str], units: str | None = None) -> list[dict]:
    rows = []
    for info in corpus.find_takes(folders):
        row = {"folder": str(info.path.parent), "file": info.path.name, "subject": info.subject,
               "activity": info.activity}
        try:
            take = read_take(info.path, corpus.units_for(info.path, units))
        except PoseRosError as exc:
            rows.append({**row, "refused": str(exc)})
            continue
        body = take.body
        rows.append({**row, "units": take.units, "up": take.up_axis,
                     "frames_30fps": len(take.joints_m),
                     **{c: round(getattr(body, c), 3) for c in COLUMNS}})
    return rows


def summary(rows: list[dict]) -> list[str]:
    lines = []
    for folder in sorted({r["folder"] for r in rows}):
        ok = [r for r in rows if r["folder"] == folder and "refused" not in r]
        refused = [r for r in rows if r["folder"] == folder and "refused" in r]
        units = sorted({str(r["units"]) for r in ok})
        ranges = ", ".join(f"{c[:-2]} {min(r[c] for r in ok):.2f}-{max(r[c] for r in ok):.2f}"
                           for c in COLUMNS) if ok else "-"
        lines.append(f"{folder}: {len(ok)} takes read ({'/'.join(units)}), {len(refused)} "
                     f"refused; {ranges} m")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bvh", nargs="+", metavar="DIR", help="folder(s) of BVH takes")
    parser.add_argument("--units", default="", help="units: a name, metres per unit, or "
                        "GLOB=UNIT,... (default: inferred per take)")
    parser.add_argument("--json", default=None, help="write the rows to this file")


def run(args: argparse.Namespace) -> int:
    rows = table(args.bvh, args.units or None)
    print(f"{'file':<20} {'subj':>4} {'activity':<8} {'units':<6} {'up':<3} {'stature':>7} "
          f"{'should.':>7} {'hips':>5} {'thigh':>5} {'shin':>5}")
    for r in rows:
        if "refused" in r:
            print(f"{r['file']:<20} {r['subject']:>4} {r['activity']:<8} refused: "
                  f"{r['refused'].split(': ', 1)[-1]}")
            continue
        print(f"{r['file']:<20} {r['subject']:>4} {r['activity']:<8} {str(r['units']):<6} "
              f"{r['up']:<3} {r['stature_m']:7.2f} {r['shoulder_width_m']:7.2f} "
              f"{r['hip_width_m']:5.2f} {r['thigh_m']:5.2f} {r['shin_m']:5.2f}")
    for line in summary(rows):
        print(line)
    ok = [r for r in rows if "refused" not in r]
    if ok:
        med = {c: float(np.median([r[c] for r in ok])) for c in COLUMNS}
        print("median: " + ", ".join(f"{c[:-2]} {v:.2f} m" for c, v in med.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0
