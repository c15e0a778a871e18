"""How often a visible person has no pose: the pipeline on the four clips against hand labels.

bench/visible_people.json holds every person visible in every 10th frame of the clips in
../shared/data/video (one point on each torso, labelled by eye; how, in the file). The whole
pipeline runs on every frame of each clip, in order (tracking as in a live run; 3D, smoothing
and cues off: they do not change who is found), once per --tile-levels value, and at each
labelled frame every labelled person is paired with at most one published person whose box
holds their point (Hungarian on the distance to the box centre). Printed per clip and pooled:

- frames: labelled frames; people: labelled people in them;
- no pose: labelled people without a published person;
- frames missing someone: labelled frames where at least one visible person has no pose, and
  their share (the figure issue 14 asks for);
- the same share without the people marked partial (mostly hidden, cut by the border) or blur;
- extra: published people covering no labelled point (false people, or a person labelled by
  nobody).

Run: python bench/visible_people.py ../shared/data/video [--tile-levels 0 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_ros.io.sources import good_frames, open_source
from pose_ros.pipeline import PipelineConfig, PoseEstimator

LABELS = Path(__file__).with_name("visible_people.json")


def pair(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N,) index of the box (M, 4: x0, y0, x1, y1) paired with each point (N, 2), -1 = none:
    a point pairs only with a box that holds it, each box with one point at most."""
    out = np.full(len(points), -1)
    if not len(points) or not len(boxes):
        return out
    p = points[:, None, :]
    holds = ((p >= boxes[None, :, :2]) & (p <= boxes[None, :, 2:])).all(axis=2)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    cost = np.linalg.norm(p - centre[None], axis=2)
    rows, cols = linear_sum_assignment(np.where(holds, cost, 1e9))
    ok = holds[rows, cols]
    out[rows[ok]] = cols[ok]
    return out


def score_clip(estimator: PoseEstimator, path: Path, frames: dict[str, list[dict]]) -> dict:
    """Run the clip; count the labelled people without a pose."""
    estimator.reset()
    wanted = {int(k): v for k, v in frames.items()}
    rows = []
    with open_source(path) as source:
        for frame in good_frames(source):
            people = estimator(frame.image_bgr, frame.stamp_ns * 1e-9)
            if frame.index not in wanted:
                continue
            labels = wanted[frame.index]
            points = np.array([p["xy"] for p in labels], np.float64).reshape(-1, 2)
            boxes = np.array([p.bbox_px for p in people], np.float64).reshape(-1, 4)
            match = pair(points, boxes)
            hard = np.array([bool(p.get("partial") or p.get("blur")) for p in labels])
            rows.append({"frame": frame.index, "people": len(labels),
                         "no_pose": int((match < 0).sum()),
                         "no_pose_clear": int(((match < 0) & ~hard).sum()),
                         "clear": int((~hard).sum()),
                         "extra": int(len(people) - (match >= 0).sum())})
    absent = sorted(set(wanted) - {r["frame"] for r in rows})
    if absent:
        raise SystemExit(f"{path}: labelled frames {absent} are not in the clip")
    return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    frames = len(rows)
    with_clear = [r for r in rows if r["clear"]]
    return {"frames": frames, "people": sum(r["people"] for r in rows),
            "no_pose": sum(r["no_pose"] for r in rows),
            "frames_missing_someone": sum(r["no_pose"] > 0 for r in rows),
            "share_frames_missing_someone": sum(r["no_pose"] > 0 for r in rows) / max(frames, 1),
            "clear_people": sum(r["clear"] for r in rows),
            "share_frames_missing_someone_clear": (
                sum(r["no_pose_clear"] > 0 for r in with_clear) / max(len(with_clear), 1)),
            "extra": sum(r["extra"] for r in rows), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("videos", type=Path, help="folder with the labelled clips")
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--tile-levels", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--tile-every", type=int, default=PipelineConfig.tile_every_n_frames)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    labels = json.loads(args.labels.read_text())["clips"]
    report: dict = {}
    print(f"{'clip':<30} {'tiles':>5} {'frames':>6} {'people':>6} {'no pose':>7} "
          f"{'frames missing someone':>22} {'same, clear people only':>23} {'extra':>5}")
    for levels in args.tile_levels:
        estimator = PoseEstimator(PipelineConfig(
            enable_3d=False, smoothing=False, enable_cues=False, tile_levels=levels,
            tile_every_n_frames=args.tile_every))
        runs = {clip: score_clip(estimator, args.videos / clip, spec["frames"])
                for clip, spec in labels.items()}
        runs["all"] = summarize([r for run in runs.values() for r in run["rows"]])
        report[f"tiles_{levels}"] = runs
        for clip, r in runs.items():
            share = 100 * r["share_frames_missing_someone"]
            clear = 100 * r["share_frames_missing_someone_clear"]
            print(f"{clip:<30} {levels:>5} {r['frames']:>6} {r['people']:>6} {r['no_pose']:>7} "
                  f"{r['frames_missing_someone']:>9} ({share:4.1f} %){'':>5} {clear:>17.1f} %"
                  f" {r['extra']:>5}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
