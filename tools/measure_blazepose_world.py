"""Measure how BlazePose's world landmarks behave on real video, to fit the fused lifter's
training simulation of them (pose_ros/train/world_sim.py) to measurements instead of guesses.

    python tools/measure_blazepose_world.py ../shared/data/video/*.mp4 --json world_stats.json

For every tracked person-frame (BlazePose with its own ROI tracking, a detection every 10
frames) it records the world landmarks (33 x 3 m, hip-centred) and the 2D keypoints, and
reports, over tracks of at least 10 frames:
- bone lengths (median per track, then the spread across tracks), in metres and relative to
  the track's thigh; left/right asymmetry of each limb pair per frame;
- hip width vs thigh and shoulder width, and how far the hips sit below the knee-shoulder
  line, to compare with the mocap hip joint centres (pose_ros.train.mocap);
- temporal jitter: per-axis RMS of the second difference of hip-relative landmarks (x, y in
  the image plane, z along the view), and of bone lengths within a track;
- agreement with the 2D keypoints: the world x/y after the best 2D similarity fit to the
  normalized image keypoints (perspective-free, so a lower bound on the in-plane error).
There is no 3D ground truth for these clips: these are properties of the world landmarks, not
their error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from pose_ros.models.blazepose import BlazePose
from pose_ros.skeleton import BLAZEPOSE33

IDX = BLAZEPOSE33.index
BONES = {
    "upper_arm": ("shoulder", "elbow"), "forearm": ("elbow", "wrist"),
    "thigh": ("hip", "knee"), "shin": ("knee", "ankle"), "flank": ("shoulder", "hip"),
}


def run_clip(model: BlazePose, path: Path, detect_every: int = 10) -> list[dict]:
    """Tracks of {"world": (T, 33, 3), "kp": (T, 33, 3), "size": (w, h)} from one clip."""
    cap = cv2.VideoCapture(str(path))
    tracks: list[dict] = []
    active: list[tuple[int, object]] = []  # (track index, next roi)
    frame = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rois = [r for _, r in active]
        people = model.landmarks(rgb, rois) if rois else []
        kept = [(t, p) for (t, _), p in zip(active, people) if p.presence >= 0.5]
        if frame % detect_every == 0 or not kept:
            found = [p for p in model(rgb) if p.presence >= 0.5]
            for p in found:
                centre = p.keypoints_px[[IDX("left_hip"), IDX("right_hip")], :2].mean(0)
                near = [t for t, q in kept if np.linalg.norm(
                    q.keypoints_px[[IDX("left_hip"), IDX("right_hip")], :2].mean(0) - centre)
                    < 0.2 * (q.bbox_px[3] - q.bbox_px[1])]
                if not near:
                    tracks.append({"world": [], "kp": [], "size": rgb.shape[1::-1]})
                    kept.append((len(tracks) - 1, p))
        for t, p in kept:
            tracks[t]["world"].append(p.world_m)
            tracks[t]["kp"].append(p.keypoints_px)
        active = [(t, p.next_roi) for t, p in kept]
        frame += 1
    cap.release()
    return [{"world": np.array(t["world"]), "kp": np.array(t["kp"]), "size": t["size"],
             "clip": path.name} for t in tracks if len(t["world"]) >= 10]


def bone(w: np.ndarray, side: str, a: str, b: str) -> np.ndarray:
    return np.linalg.norm(w[:, IDX(f"{side}_{a}")] - w[:, IDX(f"{side}_{b}")], axis=-1)


def track_stats(track: dict) -> dict:
    w, kp = track["world"], track["kp"]
    out: dict = {"clip": track["clip"], "frames": len(w)}
    for name, (a, b) in BONES.items():
        left, right = bone(w, "left", a, b), bone(w, "right", a, b)
        out[name] = float(np.median((left + right) / 2))
        out[f"{name}_asym"] = float(np.median(np.abs(left - right) / ((left + right) / 2)))
        out[f"{name}_cv"] = float(np.std((left + right) / 2) / np.mean((left + right) / 2))
    hips = w[:, IDX("left_hip")] - w[:, IDX("right_hip")]
    shoulders = w[:, IDX("left_shoulder")] - w[:, IDX("right_shoulder")]
    out["hip_width"] = float(np.median(np.linalg.norm(hips, axis=-1)))
    out["shoulder_width"] = float(np.median(np.linalg.norm(shoulders, axis=-1)))
    mid_hip = w[:, [IDX("left_hip"), IDX("right_hip")]].mean(1)
    mid_sh = w[:, [IDX("left_shoulder"), IDX("right_shoulder")]].mean(1)
    out["trunk"] = float(np.median(np.linalg.norm(mid_sh - mid_hip, axis=-1)))
    mid_ear = w[:, [IDX("left_ear"), IDX("right_ear")]].mean(1)
    out["head"] = float(np.median(np.linalg.norm(mid_ear - mid_sh, axis=-1)))

    out["hip_origin_offset"] = float(np.median(np.linalg.norm(mid_hip, axis=-1)))
    body = [IDX(n) for n in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                           "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                           "right_knee", "left_ankle", "right_ankle")]
    rel = w[:, body] - mid_hip[:, None]
    out["height_px"] = float(np.median(kp[:, body, 1].max(1) - kp[:, body, 1].min(1)))
    if len(w) >= 3:
        acc = rel[2:] - 2 * rel[1:-1] + rel[:-2]
        out["jitter_xyz_mm"] = (np.sqrt((acc ** 2).mean(axis=(0, 1))) * 1000).round(1).tolist()
    # in-plane agreement with the 2D keypoints: similarity fit of world x/y to pixels
    xy = kp[:, body, :2]
    res = []
    for f in range(len(w)):
        src, dst = rel[f, :, :2], xy[f] - xy[f].mean(0)
        src = src - src.mean(0)
        u, s, vt = np.linalg.svd(src.T @ dst)
        r = u @ vt
        scale = s.sum() / (src ** 2).sum()
        fit = scale * src @ r
        res.append(np.linalg.norm(fit - dst, axis=-1).mean() / scale)
    out["inplane_residual_mm"] = float(np.median(res) * 1000)
    return out


def summarize(stats: list[dict]) -> dict:
    keys = [k for k in stats[0] if k not in ("clip", "frames", "jitter_xyz_mm")]
    summary = {k: {"median": float(np.median([s[k] for s in stats])),
                   "spread_std": float(np.std([s[k] for s in stats]))} for k in keys}
    summary["jitter_xyz_mm"] = np.median([s["jitter_xyz_mm"] for s in stats if
                                          "jitter_xyz_mm" in s], axis=0).tolist()
    for k in ("hip_width", "shoulder_width", "trunk", "upper_arm", "forearm", "shin", "head"):
        summary[f"{k}_over_thigh"] = float(np.median([s[k] / s["thigh"] for s in stats]))
    summary["tracks"] = len(stats)
    summary["frames"] = int(sum(s["frames"] for s in stats))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", nargs="+")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = BlazePose(allow_download=False)
    stats = []
    for clip in args.clips:
        for track in run_clip(model, Path(clip)):
            stats.append(track_stats(track))
            print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                              for k, v in stats[-1].items()}))
    summary = summarize(stats)
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps({"tracks": stats, "summary": summary},
                                              indent=1) + "\n")


if __name__ == "__main__":
    main()
