"""One markdown table from the `pose-ros bench --json` files that bench/gpu_check.sh writes.

    python bench/gpu_table.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str) -> int:
    rows = []
    for path in sorted(Path(folder).glob("bench_*.json")):
        report = json.loads(path.read_text())
        settings = report["settings"]
        stages = report["stages"]
        by_people = report.get("end_to_end_by_people", {})
        rows.append((
            Path(settings["source"].split()[1] if " " in settings["source"]
                 else settings["source"]).name,
            settings["backends"][0], settings["device"], report["frames"],
            report["people_per_frame"]["mean"], report["fps"],
            stages["end_to_end"]["p50_ms"], stages["end_to_end"]["p95_ms"],
            stages["landmarks"]["p50_ms"],
            stages.get("detect", {}).get("p50_ms", float("nan")),
            " / ".join(f"{n}: {v['p50_ms']:.1f}" for n, v in by_people.items())))
    print("| clip | backend | device | frames | people/frame | fps | end to end p50 / p95 ms "
          "| landmarks p50 ms | detect p50 ms | end to end p50 ms by people |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]:.2f} | {r[5]:.1f} | {r[6]:.2f} / "
              f"{r[7]:.2f} | {r[8]:.2f} | {r[9]:.2f} | {r[10]} |")
    skipped = Path(folder) / "skipped.txt"
    if skipped.exists():
        print("\nnot run:\n" + skipped.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
