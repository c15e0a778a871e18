"""Markdown tables for the README from `pose-ros eval-lifter --json` reports.

    python tools/lifter_tables.py NAME=report.json [NAME=report.json ...]

Prints one table of overall / per-activity MPJPE (clean and noisy 2D) with a column per report,
and one of per-joint MPJPE (clean 2D).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> None:
    reports = {}
    for arg in argv:
        name, _, path = arg.partition("=")
        reports[name] = json.loads(Path(path).read_text())
    names = list(reports)
    print("| | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for kind in ("clean", "noisy"):
        cells = [f"{r[kind]['mpjpe_mm']:.1f} / {r[kind]['pmpjpe_mm']:.1f}"
                 for r in reports.values()]
        print(f"| all, {kind} 2D (MPJPE / P-MPJPE) | " + " | ".join(cells) + " |")
    activities = sorted({a for r in reports.values() for a in r["clean"]["per_activity"]})
    for act in activities:
        cells = []
        for r in reports.values():
            a = r["clean"]["per_activity"].get(act)
            b = r["noisy"]["per_activity"].get(act)
            cells.append(f"{a['mpjpe_mm']:.1f} / {b['mpjpe_mm']:.1f} ({a['poses']})" if a else "")
        print(f"| {act}, clean / noisy (frames) | " + " | ".join(cells) + " |")
    print()
    joints = list(next(iter(reports.values()))["clean"]["per_joint_mm"])
    print("| joint (clean 2D, mm) | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for j in joints:
        print(f"| {j} | " + " | ".join(f"{r['clean']['per_joint_mm'][j]:.0f}"
                                      for r in reports.values()) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
