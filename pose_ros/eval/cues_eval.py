"""`pose-ros eval-cues`: the cue engine on the mocap protocol (eval/cues_protocol.py).

Each clip goes through what the pipeline does after the 2D network: the points are projected
by the virtual camera with detector-like 2D errors (noise growing with the person's size in the
image, a per-clip bias, scores of 0.6-1, low scores out of view); the 3D comes from the source
the pipeline uses (`pose3d`, stage3d.py), from BlazePose-world-landmark-like joints simulated
from the true ones (train/world_sim.py: BlazePose's body proportions, jitter growing as the
person shrinks in the image, per-clip depth errors, limbs mirrored in depth and left/right
swaps for stretches): `fused` (the default, as in the pipeline) = the shipped fused lifter fed
the 2D and those landmarks, frame by frame (streaming); `world` = the landmarks turned onto
the camera axes from the 2D pelvis and smoothed by the pipeline's world pose filter; `lifter`
= the shipped 2D lifter on the COCO-17 subset, streaming. The root is placed from the
intrinsics, and the CueEngine runs on the raw BlazePose-order 2D plus that 3D. No hand
keypoints exist in mocap: palm and thumbs-up are not measured here. A person out of view
(under half the body joints in the image) ends the track; coming back starts a new one.

Scores: a labelled segment counts when the true wrist is in the image for at least half of it
(segments_out_of_view: those that do not; a raised hand leaves the view at about 1 m). It is
found when a start event of its cue and side comes between 0.5 s before its start and its end;
latency = event - segment start. A start event outside every
labelled segment of its cue and side (widened by 0.5 s) is a false alarm. On the gesture-free
walking and dance takes both counts are given: every start event (what the issue's target
counts), and those outside the takes' own geometric hand_raised labels (a dancer's wrist held
above the shoulder is a raised hand; waving and pointing have no labels there). Pointing-ray
error: the angle between the published ray and the true eye -> target ray on held-pointing
frames.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose_ros.camera import CameraIntrinsics, solve_root
from pose_ros.cues.body import BodyObservation
from pose_ros.cues.engine import CueEngine, CueParams, FloorPlane
from pose_ros.eval.cues_protocol import FPS, IMAGE_SIZE, Clip, build
from pose_ros.filters import OneEuroFilter
from pose_ros.models.lifter import normalize_world
from pose_ros.skeleton import (
    BLAZEPOSE33,
    BLAZEPOSE33_TO_COCO17,
    H36M17,
    lifter_inputs_from_coco17,
)
from pose_ros.stage3d import POSE3D_SOURCES, WORLD_POSE_FILTER
from pose_ros.train import world_sim

CUES = ("hand_raised", "waving", "pointing")
MARGIN_S = 0.5
# 2D keypoint noise: (px per px of person height, px floor, clip factor range, per joint)
NOISE_2D = {"measured": (0.003, 0.8, (0.5, 1.5), True),
            "strong": (0.012, 2.0, (0.3, 1.5), False)}


def project(clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """(F, 33, 2) true pixels (NaN: unused point or behind the camera) and (F,) the person's
    height in pixels (top to bottom of the projected points)."""
    cam = (clip.points_w - clip.centre) @ clip.rotation.T
    z = np.where(cam[..., 2] > 0.05, cam[..., 2], np.nan)
    uv = clip.fx * cam[..., :2] / z[..., None] + np.array(IMAGE_SIZE) / 2
    y, seen = uv[..., 1], np.isfinite(uv[..., 1])
    height = np.where(seen, y, -np.inf).max(1) - np.where(seen, y, np.inf).min(1)
    return uv, np.where(np.isfinite(height), height, 0.0)


def joint_noise_factor() -> np.ndarray:
    """(33,) 2D noise of each BlazePose point relative to the trunk's: 1 for the face,
    shoulders and hips, 1.5 for elbows and knees, 2 for wrists, hands, ankles and feet."""
    out = np.ones(BLAZEPOSE33.num_keypoints)
    for name in BLAZEPOSE33.keypoint_names:
        if name.endswith(("elbow", "knee")):
            out[BLAZEPOSE33.index(name)] = 1.5
        elif name.endswith(("wrist", "pinky", "index", "thumb", "ankle", "heel", "foot_index")):
            out[BLAZEPOSE33.index(name)] = 2.0
    return out


def detector_2d(rng: np.random.Generator, clip: Clip,
                noise: str = "measured") -> tuple[np.ndarray, np.ndarray]:
    """(F, 33, 3) noisy pixels + scores, and (F,) whether the person counts as tracked.

    Frame-to-frame noise (NOISE_2D): std = clip factor x joint factor x (a x height + b) px.
    "measured" is fitted to tools/measure_keypoint_jitter.py on the real clips (an upper
    bound: the real motion is in it); "strong" is the first protocol's (2-4x that for the
    trunk, the same for every point)."""
    uv, height = project(clip)
    valid = np.isfinite(uv).all(-1)
    per_height, floor_px, (lo, hi), by_joint = NOISE_2D[noise]
    joint = joint_noise_factor() if by_joint else np.ones(uv.shape[1])
    sigma = rng.uniform(lo, hi) * joint[None, :, None] * (
        per_height * np.nan_to_num(height)[:, None, None] + floor_px)
    bias = rng.normal(size=(1, uv.shape[1], 2)) * 0.008 * np.nanmedian(height)
    xy = uv + rng.normal(size=uv.shape) * sigma + bias
    score = 1.0 - 0.4 * rng.random(valid.shape) ** 3
    inside = valid & (xy[..., 0] >= 0) & (xy[..., 0] < IMAGE_SIZE[0]) & (xy[..., 1] >= 0) \
        & (xy[..., 1] < IMAGE_SIZE[1])
    score = np.where(inside, score, score * rng.uniform(0, 0.3, score.shape))
    score = np.where(valid, score, 0.0)
    body = np.isfinite(clip.points_w).all(-1)[0]
    tracked = inside[:, body].mean(axis=1) >= 0.5
    return np.concatenate([np.nan_to_num(xy), score[..., None]], axis=-1), tracked


def world_landmarks(rng: np.random.Generator, clip: Clip) -> np.ndarray:
    """(F, 17, 3) simulated BlazePose world landmarks: metres, pelvis-centred, in the axes of
    the crop's ray (what skeleton.lifter_world_from_blazepose33 gives the 3D stage)."""
    cam = (clip.joints_w - clip.centre) @ clip.rotation.T
    return world_sim.simulate(rng, cam[None], project(clip)[1][None])[0].astype(np.float64)


def world_3d(world: np.ndarray, obs2d: np.ndarray, intr: CameraIntrinsics) -> np.ndarray:
    """(F, 17, 3) what pose3d=world gives before its filter: the world landmarks turned onto
    the camera axes from the 2D pelvis (stage3d.Stage3D.relative)."""
    coco = np.stack([lifter_inputs_from_coco17(k[BLAZEPOSE33_TO_COCO17]) for k in obs2d])
    pelvis = intr.normalized(coco[:, H36M17.index("pelvis"), :2])
    return normalize_world(world, pelvis).astype(np.float64)


@dataclass
class ClipResult:
    clip: Clip
    events: list = field(default_factory=list)       # (cue, side, stamp)
    ray_errors_deg: list = field(default_factory=list)
    target_errors_m: list = field(default_factory=list)
    tracked_s: float = 0.0


def observations(clips: list[Clip], lifter, seed: int = 0,
                 noise: str = "measured") -> list[list[BodyObservation | None]]:
    """Per clip and frame, what the cue engine gets from the pipeline (None: not tracked): 2D
    errors, the 3D source, placement. lifter: a Lifter (pose3d lifter or, with fused weights,
    fused; batched over clips frame by frame) or None (pose3d world). The track id goes up
    after each loss."""
    rng = np.random.default_rng(seed + 1)
    obs2d = [detector_2d(rng, c, noise) for c in clips]
    intr = [CameraIntrinsics(c.fx, c.fx, IMAGE_SIZE[0] / 2, IMAGE_SIZE[1] / 2, *IMAGE_SIZE)
            for c in clips]
    landmarks = None if lifter is not None and not lifter.uses_world else [
        world_landmarks(np.random.default_rng([seed, k]), c) for k, c in enumerate(clips)]
    world = None if lifter is not None else [
        world_3d(w, o[0], i) for w, o, i in zip(landmarks, obs2d, intr)]
    out: list[list[BodyObservation | None]] = [[None] * len(c.points_w) for c in clips]
    streams: list = [None] * len(clips)
    track_ids = [0] * len(clips)
    for f in range(max(len(c.points_w) for c in clips)):
        live = [i for i, c in enumerate(clips) if f < len(c.points_w) and obs2d[i][1][f]]
        for i, c in enumerate(clips):
            if f < len(c.points_w) and not obs2d[i][1][f] and streams[i] is not None:
                streams[i] = None             # lost: the next sighting is a new track
        if not live:
            continue
        for i in live:
            if streams[i] is None:   # a new track: the lifter's history or the pose filter
                streams[i] = lifter.stream() if lifter is not None \
                    else OneEuroFilter(WORLD_POSE_FILTER)
                track_ids[i] += 1
        inputs = [lifter_inputs_from_coco17(obs2d[i][0][f][BLAZEPOSE33_TO_COCO17]) for i in live]
        if lifter is not None:
            norm = np.stack([lifter.normalize(x, intr[i], world_m=None if landmarks is None
                                              else landmarks[i][f])
                             for x, i in zip(inputs, live)])
            relative = lifter.step([streams[i] for i in live], norm)
        else:
            relative = [world[i][f] for i in live]
        for rel, x, i in zip(relative, inputs, live):
            root = solve_root(rel, x, intr[i])
            if lifter is None:   # placed with the unfiltered pose (stage3d._smoothed_pose)
                rel = streams[i](rel, f / FPS)
            out[i][f] = BodyObservation(track_ids[i], f / FPS, obs2d[i][0][f], rel + root, root,
                                        intrinsics=intr[i])
    return out


def run_engine(clips: list[Clip], observed: list[list[BodyObservation | None]],
               params: CueParams) -> list[ClipResult]:
    """The cue engine on each clip's observations: start events, pointing-ray errors."""
    results = []
    for clip, frames in zip(clips, observed):
        engine = CueEngine(params, FloorPlane(clip.rotation @ np.array([0.0, 1.0, 0.0]),
                                              float(clip.centre[1] - clip.floor_y)))
        res = ClipResult(clip)
        for f, obs in enumerate(frames):
            if obs is None:
                continue
            (cues,) = engine.update([obs])
            res.tracked_s += 1 / FPS
            res.events += [(e.name, e.side, e.stamp_s) for e in cues.events if e.kind == "start"]
            truth = clip.pointing
            if cues.pointing is not None and truth is not None and np.isfinite(truth[f]).all():
                eye, target = (clip.rotation @ (p - clip.centre) for p in truth[f])
                true_dir = (target - eye) / np.linalg.norm(target - eye)
                cos = float(np.clip(cues.pointing.direction @ true_dir, -1, 1))
                res.ray_errors_deg.append(np.degrees(np.arccos(cos)))
                if cues.pointing.target_m is not None:
                    res.target_errors_m.append(float(np.linalg.norm(cues.pointing.target_m
                                                                    - target)))
        results.append(res)
    return results


def run_clips(clips: list[Clip], lifter, params: CueParams, seed: int = 0,
              noise: str = "measured") -> list[ClipResult]:
    """Every clip through 2D errors, the 3D source and the cue engine."""
    return run_engine(clips, observations(clips, lifter, seed, noise), params)


def in_view(clip: Clip, side: str, start_s: float, end_s: float) -> bool:
    """The true wrist is inside the image for at least half of the segment (a hand the camera
    does not see cannot be judged: a raised hand leaves the top of the view at about 1 m)."""
    frames = np.arange(int(start_s * FPS), min(int(end_s * FPS) + 1, len(clip.points_w)))
    wrist = clip.points_w[frames, BLAZEPOSE33.index(f"{side}_wrist")]
    cam = (wrist - clip.centre) @ clip.rotation.T
    uv = clip.fx * cam[:, :2] / cam[:, 2:] + np.array(IMAGE_SIZE) / 2
    inside = (cam[:, 2] > 0) & np.all((uv >= 0) & (uv < IMAGE_SIZE), axis=1)
    return bool(inside.mean() >= 0.5) if len(frames) else False


def score(results: list[ClipResult]) -> dict:
    """Recall, latency and false alarms per cue; false alarms per minute on gesture-free takes;
    pointing-ray and target errors."""
    out: dict = {}
    for cue in CUES:
        found, latency, false_alarms, gesture_s = 0, [], 0, 0.0
        segments = out_of_view = 0
        for r in results:
            if r.clip.kind != "gesture":
                continue
            gesture_s += r.tracked_s
            labels = [s for s in r.clip.labels if s.cue == cue]
            events = [e for e in r.events if e[0] == cue]
            visible = [s for s in labels if in_view(r.clip, s.side, s.start_s, s.end_s)]
            segments += len(visible)
            out_of_view += len(labels) - len(visible)
            for s in visible:
                hits = [t for c, side, t in events if side == s.side
                        and s.start_s - MARGIN_S <= t <= s.end_s]
                if hits:
                    found += 1
                    latency.append(min(hits) - s.start_s)
            false_alarms += sum(not _labelled(r.clip, *e) for e in events)
        free = {kind: [r for r in results if r.clip.kind == kind] for kind in ("walk", "dance")}
        entry = {"segments": segments, "segments_out_of_view": out_of_view,
                 "recall": found / segments if segments else None,
                 "latency_s_median": float(np.median(latency)) if latency else None,
                 "latency_s_p90": float(np.percentile(latency, 90)) if latency else None,
                 "false_alarms_in_gesture_clips": false_alarms,
                 "gesture_clip_minutes": gesture_s / 60}
        for kind, rs in free.items():
            minutes = sum(r.tracked_s for r in rs) / 60
            events = [(r, e) for r in rs for e in r.events if e[0] == cue]
            unlabelled = sum(not _labelled(r.clip, *e) for r, e in events)
            entry[f"{kind}_false_alarms"] = len(events)
            entry[f"{kind}_minutes"] = minutes
            entry[f"{kind}_false_alarms_per_10min"] = 10 * len(events) / minutes if minutes \
                else None
            entry[f"{kind}_unlabelled_per_10min"] = 10 * unlabelled / minutes if minutes \
                else None
        out[cue] = entry
    rays = np.concatenate([r.ray_errors_deg for r in results] or [np.zeros(0)])
    targets = np.concatenate([r.target_errors_m for r in results] or [np.zeros(0)])
    out["pointing_ray"] = {
        "frames": int(rays.size),
        "angle_error_deg_median": float(np.median(rays)) if rays.size else None,
        "angle_error_deg_p90": float(np.percentile(rays, 90)) if rays.size else None,
        "floor_target_error_m_median": float(np.median(targets)) if targets.size else None}
    return out


def _labelled(clip: Clip, cue: str, side: str, stamp_s: float) -> bool:
    """An event inside one of the clip's own segments of its cue and side (widened by
    MARGIN_S)."""
    return any(s.cue == cue and s.side == side and s.start_s - MARGIN_S <= stamp_s
               <= s.end_s + MARGIN_S for s in clip.labels)


def _fmt(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mocap", type=Path, required=True,
                        help="folder with cmu/ and cmu_extra/ BVH takes (../shared/data/mocap)")
    parser.add_argument("--split", choices=("validation", "test", "all"), default="test",
                        help="subjects scored (validation tunes thresholds; test is reported)")
    parser.add_argument("--pose3d", choices=POSE3D_SOURCES, default="fused",
                        help="3D source, as the pipeline's pose3d (default: fused, the "
                             "pipeline's default)")
    parser.add_argument("--noise-2d", choices=tuple(NOISE_2D), default="measured",
                        help="2D keypoint noise: measured on real clips (default) or the first "
                             "protocol's stronger one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every number to this file")


def run(args: argparse.Namespace) -> int:
    from pose_ros.models.lifter import Lifter

    clips = [c for c in build(args.mocap, seed=args.seed)
             if args.split == "all" or c.split == args.split]
    lifter = None if args.pose3d == "world" else Lifter.load(
        None, kind="fused" if args.pose3d == "fused" else "2d")
    results = run_clips(clips, lifter, CueParams(), seed=args.seed, noise=args.noise_2d)
    report = {"split": args.split, "seed": args.seed, "pose3d": args.pose3d,
              "noise_2d": args.noise_2d, "clips": len(clips),
              "protocol": "pose_ros/eval/cues_protocol.py + cues_eval.py", **score(results)}
    print(f"{'cue':<12} {'segments':>8} {'recall':>7} {'latency p50/p90 s':>18} "
          f"{'FA gest':>7} {'events/10min walk (unlab.)':>26} "
          f"{'events/10min dance (unlab.)':>27}")
    for cue in CUES:
        e = report[cue]
        lat = (f"{e['latency_s_median']:.2f}/{e['latency_s_p90']:.2f}"
               if e["latency_s_median"] is not None else "-")
        walk = (f"{_fmt(e['walk_false_alarms_per_10min'])} "
                f"({_fmt(e['walk_unlabelled_per_10min'])})")
        dance = (f"{_fmt(e['dance_false_alarms_per_10min'])} "
                 f"({_fmt(e['dance_unlabelled_per_10min'])})")
        print(f"{cue:<12} {e['segments']:>8} {_fmt(e['recall']):>7} {lat:>18} "
              f"{e['false_alarms_in_gesture_clips']:>7} {walk:>26} {dance:>27}")
    p = report["pointing_ray"]
    print(f"pointing ray: {p['frames']} frames, angle error median "
          f"{_fmt(p['angle_error_deg_median'])} deg, p90 {_fmt(p['angle_error_deg_p90'])} deg; "
          f"floor target error median {_fmt(p['floor_target_error_m_median'])} m")
    walk, dance = report["hand_raised"]["walk_minutes"], report["hand_raised"]["dance_minutes"]
    print(f"{len(clips)} clips; gesture-free: {walk:.1f} min walking, {dance:.1f} min dance")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0
