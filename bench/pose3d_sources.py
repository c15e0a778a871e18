"""The pose3d sources on real clips without 3D ground truth: plausibility checks, not accuracy.

For each clip and each 3D source (`pose3d`: lifter, world, fused when its weights are
installed), the whole pipeline runs (PoseEstimator; the clips have no calibration, so the
intrinsics are the pipeline's guess, a 69 degree horizontal field of view) and these are
measured on the people it publishes (smoothed, as published, unless --no-smoothing):

- bone std: per track and limb (upper arm, forearm, thigh, shin, each side), the standard
  deviation of its 3D length over the track's frames; mean over limbs and tracks, mm. A real
  person's bones do not change length.
- L/R asym: per frame, |left - right| / mean of the two for the four limb pairs; mean, %.
- height: per track, the median over frames of head-thorax + thorax-pelvis + thigh + shin
  (mean of both sides): the head-joint-to-ankle height of the skeleton, m; median over tracks
  and the lowest-highest track.
- reproj: distance between the published 2D keypoints (score >= 0.5) and the projection of the
  published 3D body joints, % of the person's box height (the 2D and the 3D are smoothed
  separately; `lifter` hips are mocap hip joint centres, not BlazePose's hip points, so part of
  its error there is the definition).
- jitter: mean |x[t+1] - 2 x[t] + x[t-1]| over consecutive frames of a track, mm per frame^2:
  of the pelvis-relative body joints (pose) and of the root (placement).
- lift p50: the 3D stage's median time per frame (CPU, this machine; noisy under load).

`world-optical` is `world` without turning the landmarks from the person's viewing ray onto the
camera axes (stage3d.Stage3D.world_along_ray = False): the comparison that chose the turn.
`--world-filter MIN_CUTOFF_HZ BETA` replaces the `world` source's pose filter
(stage3d.WORLD_POSE_FILTER; 0 0 = none): the comparison that chose it.

Rows per clip score every track; the pooled rows score all tracks, and only the tracks of at
least --long-track-frames frames (short tracks are mostly duplicate detections and people at the
edge of the view, whose 2D is poor).

Run: python bench/pose3d_sources.py ../shared/data/video/*.mp4 [--sources lifter world]
     [--no-smoothing] [--long-track-frames 30] [--world-filter 0.5 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from pose_ros.camera import CameraIntrinsics
from pose_ros.errors import PoseRosError
from pose_ros.filters import OneEuroParams
from pose_ros.io.sources import open_source
from pose_ros.pipeline import PipelineConfig, PoseEstimator
from pose_ros.skeleton import COCO17
from pose_ros.stage3d import POSE3D_SOURCES, WORLD_POSE_FILTER

C = COCO17.index
LIMBS = {f"{side}_{name}": (C(f"{side}_{a}"), C(f"{side}_{b}"))
         for side in ("left", "right")
         for name, (a, b) in {"upper_arm": ("shoulder", "elbow"), "forearm": ("elbow", "wrist"),
                              "thigh": ("hip", "knee"), "shin": ("knee", "ankle")}.items()}
BODY = np.array([C(f"{s}_{j}") for s in ("left", "right")
                 for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")])
HEAD = C("nose")   # face joints are published at the 3D source's head joint
WORLD_OPTICAL = "world-optical"


def limb_lengths(joints_m: np.ndarray) -> dict[str, np.ndarray]:
    """(T, 17, 3) -> limb name -> (T,) lengths in metres."""
    return {name: np.linalg.norm(joints_m[:, a] - joints_m[:, b], axis=-1)
            for name, (a, b) in LIMBS.items()}


def heights(joints_m: np.ndarray, lengths: dict[str, np.ndarray]) -> np.ndarray:
    """(T,) head-joint-to-ankle height of the skeleton: head-thorax + thorax-pelvis + leg."""
    thorax = joints_m[:, [C("left_shoulder"), C("right_shoulder")]].mean(1)
    pelvis = joints_m[:, [C("left_hip"), C("right_hip")]].mean(1)
    leg = (lengths["left_thigh"] + lengths["right_thigh"] + lengths["left_shin"]
           + lengths["right_shin"]) / 2
    return (np.linalg.norm(joints_m[:, HEAD] - thorax, axis=-1)
            + np.linalg.norm(thorax - pelvis, axis=-1) + leg)


def second_difference(x: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """|x[t+1] - 2 x[t] + x[t-1]| (last axis) where the three frames are consecutive."""
    ok = (frames[2:] - frames[1:-1] == 1) & (frames[1:-1] - frames[:-2] == 1)
    acc = x[2:] - 2 * x[1:-1] + x[:-2]
    return np.linalg.norm(acc[ok], axis=-1)


def run_clip(estimator: PoseEstimator, path: str) -> dict:
    """Per track: frames, 3D (T, 17, 3), roots (T, 3), 2D (T, 17, 3), box heights (T,);
    plus the frame count, frames with a pose and the intrinsics used."""
    estimator.reset()
    tracks: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    with_pose = frames = 0
    intrinsics = None
    with open_source(path) as source:
        for frame in source:
            height, width = frame.image_bgr.shape[:2]
            intrinsics = CameraIntrinsics.guess(width, height)
            people = estimator(frame.image_bgr, frame.stamp_s, camera=intrinsics)
            frames += 1
            with_pose += bool(people)
            for p in people:
                t = tracks[p.track_id]
                t["frames"].append(frame.index)
                t["joints"].append(p.keypoints_3d[:, :3])
                t["root"].append(p.root_camera_m)
                t["kp2d"].append(p.keypoints_2d)
                t["box_h"].append(p.bbox_px[3] - p.bbox_px[1])
    return {"tracks": {k: {n: np.asarray(v) for n, v in t.items()} for k, t in tracks.items()},
            "frames": frames, "with_pose": with_pose, "intrinsics": intrinsics,
            "lift_p50_ms": estimator.timing_summary().get("lift", {}).get("p50_ms", float("nan"))}


def long_tracks(run: dict, min_frames: int) -> dict:
    """The run with only its tracks of at least min_frames frames."""
    return {**run, "tracks": {k: t for k, t in run["tracks"].items()
                              if len(t["frames"]) >= min_frames}}


def metrics(run: dict) -> dict[str, float]:
    """The figures of the module docstring, pooled over the tracks of one or more runs."""
    bone_std, asym, track_heights, reproj, pose_jit, root_jit = [], [], [], [], [], []
    for clip in run if isinstance(run, list) else [run]:
        k = clip["intrinsics"]
        for t in clip["tracks"].values():
            joints, frames = t["joints"], t["frames"]
            lengths = limb_lengths(joints)
            if len(frames) >= 2:
                bone_std += [float(v.std()) for v in lengths.values()]
            for limb in ("upper_arm", "forearm", "thigh", "shin"):
                left, right = lengths[f"left_{limb}"], lengths[f"right_{limb}"]
                asym.append(np.abs(left - right) / np.maximum((left + right) / 2, 1e-6))
            track_heights.append(float(np.median(heights(joints, lengths))))
            uv = k.project(joints[:, BODY])
            kp2d = t["kp2d"][:, BODY]
            ok = kp2d[..., 2] >= 0.5
            err = np.linalg.norm(uv - kp2d[..., :2], axis=-1) / t["box_h"][:, None]
            reproj.append(err[ok])
            relative = joints[:, BODY] - t["root"][:, None]
            pose_jit.append(second_difference(relative, frames).ravel())
            root_jit.append(second_difference(t["root"], frames))
    if not track_heights:
        return {"tracks": 0, **{k: float("nan") for k in (
            "bone_std_mm", "lr_asymmetry_pct", "height_m", "height_min_m", "height_max_m",
            "reprojection_pct", "pose_jitter_mm", "root_jitter_mm")}}
    cat = np.concatenate
    return {"tracks": len(track_heights), "bone_std_mm": 1e3 * float(np.mean(bone_std)),
            "lr_asymmetry_pct": 100 * float(np.mean(cat(asym))),
            "height_m": float(np.median(track_heights)),
            "height_min_m": float(np.min(track_heights)),
            "height_max_m": float(np.max(track_heights)),
            "reprojection_pct": 100 * float(np.mean(cat(reproj))),
            "pose_jitter_mm": 1e3 * float(np.mean(cat(pose_jit))),
            "root_jitter_mm": 1e3 * float(np.mean(cat(root_jit)))}


def row(name: str, source: str, m: dict, extra: str = "") -> str:
    return (f"| {name} | {source} | {m['tracks']} | {m['bone_std_mm']:.1f} | "
            f"{m['lr_asymmetry_pct']:.1f} | {m['height_m']:.2f} ({m['height_min_m']:.2f}-"
            f"{m['height_max_m']:.2f}) | {m['reprojection_pct']:.1f} | "
            f"{m['pose_jitter_mm']:.1f} | {m['root_jitter_mm']:.1f} |{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clips", nargs="+")
    choices = (*POSE3D_SOURCES, WORLD_OPTICAL)
    parser.add_argument("--sources", nargs="+", choices=choices, default=choices)
    parser.add_argument("--no-smoothing", dest="smoothing", action="store_false")
    parser.add_argument("--world-filter", nargs=2, type=float, metavar=("MIN_CUTOFF_HZ", "BETA"),
                        help="the world source's pose filter instead of stage3d's (0 0: none)")
    parser.add_argument("--long-track-frames", type=int, default=30,
                        help="the second pooled row scores tracks of at least this many frames")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="write every figure here")
    args = parser.parse_args()
    print("| clip | pose3d | tracks | bone std mm | L/R asym % | height m (tracks) | "
          "reproj % box | pose jitter mm/f^2 | root jitter mm/f^2 | lift p50 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    report: dict = {"smoothing": args.smoothing, "long_track_frames": args.long_track_frames,
                    "clips": args.clips, "sources": {}}
    for source in args.sources:
        pose3d = "world" if source == WORLD_OPTICAL else source
        try:
            estimator = PoseEstimator(PipelineConfig(device=args.device, pose3d=pose3d,
                                                     smoothing=args.smoothing))
        except PoseRosError as exc:
            print(f"| (all) | {source} | not available: {exc} |")
            continue
        estimator.stage3d.world_along_ray = source != WORLD_OPTICAL
        if args.world_filter is not None:
            hz, beta = args.world_filter
            estimator.stage3d.world_pose_filter = (
                OneEuroParams(hz, beta, WORLD_POSE_FILTER.d_cutoff_hz) if hz > 0 else None)
            report["world_filter"] = args.world_filter
        runs = []
        for clip in args.clips:
            result = run_clip(estimator, clip)
            runs.append(result)
            m = metrics(result)
            report["sources"].setdefault(source, {})[Path(clip).name] = {
                **m, "frames": result["frames"], "frames_with_pose": result["with_pose"],
                "lift_p50_ms": result["lift_p50_ms"]}
            print(row(Path(clip).name, source, m,
                      f" {result['lift_p50_ms']:.2f} | ({result['with_pose']}/"
                      f"{result['frames']} frames)"), flush=True)
        pooled = metrics(runs)
        report["sources"][source]["all"] = pooled
        print(row("all clips", source, pooled, " |"), flush=True)
        n = args.long_track_frames
        long = [r for r in (long_tracks(r, n) for r in runs) if r["tracks"]]
        pooled = metrics(long)
        report["sources"][source][f"tracks >= {n} frames"] = pooled
        print(row(f"all clips, tracks >= {n} frames", source, pooled, " |"), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
