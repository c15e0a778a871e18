"""Evaluation and benchmark reports: fixed-width tables for stdout, and JSON with the settings.

Every number printed is also in the JSON; the JSON also records what produced it (command line,
package and library versions, model digests, machine), so a figure can be traced and re-run.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np


def _plain(value):
    """JSON-ready: numpy scalars/arrays -> Python, NaN/inf -> None, paths -> str."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | Path, report: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_plain(report), indent=1) + "\n")


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def environment() -> dict:
    """Where and with what a figure was measured."""
    import torch

    from pose_ros import __version__

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": " ".join(sys.argv), "pose_ros": __version__,
            "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "load_average": load,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _num(value, fmt: str = "{:6.3f}") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return f"{'-':>{len(fmt.format(0.0))}}"
    return fmt.format(value)


def table_2d(report: dict) -> list[str]:
    """One row per ground-truth file (and the pool) and protocol."""
    lines = ["2D keypoints: COCO OKS AP/AR (standard sigmas, shared joints only) and "
             "PCK@0.2 (12 limb joints)",
             f"{'ground truth':<24} {'set':<12} {'people':>6}  {'protocol':<10} "
             f"{'AP':>6} {'AP50':>6} {'AP75':>6} {'AR':>6} {'PCK':>6}  "
             f"{'ignored (AP with them)':<22}"]
    rows = list(report.get("datasets", {}).items())
    if "all" in report:
        rows.append(("all", report["all"]))
    for name, r in rows:
        for proto in ("end_to_end", "gt_boxes"):
            if proto not in r:
                continue
            s = r[proto]
            lines.append(f"{name[:24]:<24} {r['keypoint_set'][:12]:<12} {r['people']:>6}  "
                         f"{proto:<10} {_num(s['AP'])} {_num(s['AP50'])} {_num(s['AP75'])} "
                         f"{_num(s['AR'])} {_num(s['pck']['pck'])}"
                         + (f"  {s['predictions_ignored']} ({s['AP_with_ignored']:.3f})"
                            if s.get("predictions_ignored") else ""))
    if any(r[p].get("predictions_ignored") for _, r in rows for p in r
           if isinstance(r[p], dict) and "AP" in r[p]):
        lines.append("ignored: predictions lying in the ground truth's ignore regions "
                     "(PoseTrack's unannotated crowds), not scored")
    return lines


def table_recall(report: dict) -> list[str]:
    """Found / people per person-height bucket, end to end (eval/recall.py)."""
    rows = list(report.get("datasets", {}).items())
    if "all" in report:
        rows.append(("all", report["all"]))
    rows = [(name, r["end_to_end"]["recall_by_height"]) for name, r in rows
            if "end_to_end" in r and "recall_by_height" in r["end_to_end"]]
    if not rows:
        return []
    buckets = list(rows[0][1])
    lines = ["People found end to end (OKS >= 0.5), by box height: found/people",
             f"{'ground truth':<24} " + " ".join(f"{b:>11}" for b in buckets)]
    for name, r in rows:
        cells = [f"{r[b]['found']}/{r[b]['people']}" if r[b]["people"] else "-"
                 for b in buckets]
        lines.append(f"{name[:24]:<24} " + " ".join(f"{c:>11}" for c in cells))
    return lines


def table_3d(rows: list[tuple[str, dict]]) -> list[str]:
    """rows: (label, {"mpjpe_mm", "pmpjpe_mm", "poses"})."""
    lines = ["3D joints: pelvis-relative errors over the 17 lifter joints",
             f"{'input':<34} {'MPJPE mm':>9} {'P-MPJPE mm':>11} {'poses':>8}"]
    for label, r in rows:
        lines.append(f"{label:<34} {_num(r['mpjpe_mm'], '{:9.1f}')} "
                     f"{_num(r['pmpjpe_mm'], '{:11.1f}')} {r.get('poses', 0):>8}")
    return lines


def table_stages(stages: dict[str, dict], order: list[str]) -> list[str]:
    """Per-stage latency rows: p50, p95, mean (ms) and how many frames the stage ran on."""
    lines = [f"{'stage':<12} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'frames':>7}"]
    for name in order:
        if name in stages:
            t = stages[name]
            lines.append(f"{name:<12} {t['p50_ms']:8.2f} {t['p95_ms']:8.2f} "
                         f"{t['mean_ms']:8.2f} {int(t['count']):7d}")
    return lines
