"""`pose-ros eval-cues`: the cue engine on the mocap protocol (eval/cues_protocol.py).

Each clip goes through what the pipeline does after the 2D network: the points are projected
by the virtual camera with detector-like 2D errors (noise growing with the person's size in the
image, a per-clip bias, scores of 0.6-1, low scores out of view), the shipped lifter lifts the
COCO-17 subset frame by frame (streaming), the root is placed from the intrinsics, and the
CueEngine runs on the raw BlazePose-order 2D plus the lifted 3D. No hand keypoints exist in
mocap: palm and thumbs-up are not measured here. A person out of view (under half the body
joints in the image) ends the track; coming back starts a new one.

Scores: a labelled segment counts when the true wrist is in the image for at least half of it
(segments_out_of_view: those that do not; a raised hand leaves the view at about 1 m). It is
found when a start event of its cue and side comes between 0.5 s before its start and its end;
latency = event - segment start. A start event outside every
labelled segment of its cue and side (widened by 0.5 s) is a false alarm; on the gesture-free
walking and dance takes every start event is one. Pointing-ray error: the angle between the
published ray and the true eye -> target ray on held-pointing frames.
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
from pose_ros.skeleton import BLAZEPOSE33, BLAZEPOSE33_TO_COCO17, lifter_inputs_from_coco17

CUES = ("hand_raised", "waving", "pointing")
MARGIN_S = 0.5


def detector_2d(rng: np.random.Generator, clip: Clip) -> tuple[np.ndarray, np.ndarray]:
    """(F, 33, 3) noisy pixels + scores, and (F,) whether the person counts as tracked."""
    cam = (clip.points_w - clip.centre) @ clip.rotation.T
    z = np.where(cam[..., 2] > 0.05, cam[..., 2], np.nan)
    uv = clip.fx * cam[..., :2] / z[..., None] + np.array(IMAGE_SIZE) / 2
    valid = np.isfinite(uv).all(-1)
    height = np.nanmax(uv[..., 1], axis=1) - np.nanmin(uv[..., 1], axis=1)
    sigma = rng.uniform(0.3, 1.5) * (0.012 * np.nan_to_num(height)[:, None, None] + 2.0)
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


@dataclass
class ClipResult:
    clip: Clip
    events: list = field(default_factory=list)       # (cue, side, stamp)
    ray_errors_deg: list = field(default_factory=list)
    target_errors_m: list = field(default_factory=list)
    tracked_s: float = 0.0


def run_clips(clips: list[Clip], lifter, params: CueParams, seed: int = 0) -> list[ClipResult]:
    """Every clip through 2D errors, the streaming lifter and the cue engine (lifter batched over
    clips frame by frame)."""
    rng = np.random.default_rng(seed + 1)
    obs2d = [detector_2d(rng, c) for c in clips]
    intr = [CameraIntrinsics(c.fx, c.fx, IMAGE_SIZE[0] / 2, IMAGE_SIZE[1] / 2, *IMAGE_SIZE)
            for c in clips]
    engines = [CueEngine(params, FloorPlane(c.rotation @ np.array([0.0, 1.0, 0.0]),
                                            float(c.centre[1] - c.floor_y))) for c in clips]
    results = [ClipResult(c) for c in clips]
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
            if streams[i] is None:
                streams[i] = lifter.stream()
                track_ids[i] += 1
        inputs = [lifter_inputs_from_coco17(obs2d[i][0][f][BLAZEPOSE33_TO_COCO17]) for i in live]
        norm = np.stack([lifter.normalize(x, intr[i]) for x, i in zip(inputs, live)])
        relative = lifter.step([streams[i] for i in live], norm)
        for rel, x, i in zip(relative, inputs, live):
            root = solve_root(rel, x, intr[i])
            obs = BodyObservation(track_ids[i], f / FPS, obs2d[i][0][f], rel + root, root,
                                  intrinsics=intr[i])
            (cues,) = engines[i].update([obs])
            res = results[i]
            res.tracked_s += 1 / FPS
            res.events += [(e.name, e.side, e.stamp_s) for e in cues.events if e.kind == "start"]
            truth = clips[i].pointing
            if cues.pointing is not None and truth is not None and np.isfinite(truth[f]).all():
                eye, target = (clips[i].rotation @ (p - clips[i].centre) for p in truth[f])
                true_dir = (target - eye) / np.linalg.norm(target - eye)
                cos = float(np.clip(cues.pointing.direction @ true_dir, -1, 1))
                res.ray_errors_deg.append(np.degrees(np.arccos(cos)))
                if cues.pointing.target_m is not None:
                    res.target_errors_m.append(float(np.linalg.norm(cues.pointing.target_m
                                                                    - target)))
    return results


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
            false_alarms += sum(not any(side == s.side and s.start_s - MARGIN_S <= t
                                        <= s.end_s + MARGIN_S for s in labels)
                                for _, side, t in events)
        free = {kind: [r for r in results if r.clip.kind == kind] for kind in ("walk", "dance")}
        entry = {"segments": segments, "segments_out_of_view": out_of_view,
                 "recall": found / segments if segments else None,
                 "latency_s_median": float(np.median(latency)) if latency else None,
                 "latency_s_p90": float(np.percentile(latency, 90)) if latency else None,
                 "false_alarms_in_gesture_clips": false_alarms,
                 "gesture_clip_minutes": gesture_s / 60}
        for kind, rs in free.items():
            minutes = sum(r.tracked_s for r in rs) / 60
            n = sum(1 for r in rs for e in r.events if e[0] == cue)
            entry[f"{kind}_false_alarms"] = n
            entry[f"{kind}_minutes"] = minutes
            entry[f"{kind}_false_alarms_per_10min"] = 10 * n / minutes if minutes else None
        out[cue] = entry
    rays = np.concatenate([r.ray_errors_deg for r in results] or [np.zeros(0)])
    targets = np.concatenate([r.target_errors_m for r in results] or [np.zeros(0)])
    out["pointing_ray"] = {
        "frames": int(rays.size),
        "angle_error_deg_median": float(np.median(rays)) if rays.size else None,
        "angle_error_deg_p90": float(np.percentile(rays, 90)) if rays.size else None,
        "floor_target_error_m_median": float(np.median(targets)) if targets.size else None}
    return out


def _fmt(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mocap", type=Path, required=True,
                        help="folder with cmu/ and cmu_extra/ BVH takes (../shared/data/mocap)")
    parser.add_argument("--split", choices=("validation", "test", "all"), default="test",
                        help="subjects scored (validation tunes thresholds; test is reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write every number to this file")


def run(args: argparse.Namespace) -> int:
    from pose_ros.models.lifter import Lifter

    clips = [c for c in build(args.mocap, seed=args.seed)
             if args.split == "all" or c.split == args.split]
    results = run_clips(clips, Lifter.load(None), CueParams(), seed=args.seed)
    report = {"split": args.split, "seed": args.seed, "clips": len(clips),
              "protocol": "pose_ros/eval/cues_protocol.py + cues_eval.py", **score(results)}
    print(f"{'cue':<12} {'segments':>8} {'recall':>7} {'latency p50/p90 s':>18} "
          f"{'FA gest':>7} {'FA/10min walk':>13} {'FA/10min dance':>14}")
    for cue in CUES:
        e = report[cue]
        lat = (f"{e['latency_s_median']:.2f}/{e['latency_s_p90']:.2f}"
               if e["latency_s_median"] is not None else "-")
        print(f"{cue:<12} {e['segments']:>8} {_fmt(e['recall']):>7} {lat:>18} "
              f"{e['false_alarms_in_gesture_clips']:>7} "
              f"{_fmt(e['walk_false_alarms_per_10min']):>13} "
              f"{_fmt(e['dance_false_alarms_per_10min']):>14}")
    p = report["pointing_ray"]
    print(f"pointing ray: {p['frames']} frames, angle error median "
          f"{p['angle_error_deg_median']} deg, p90 {p['angle_error_deg_p90']} deg; floor target "
          f"error median {p['floor_target_error_m_median']} m")
    walk, dance = report["hand_raised"]["walk_minutes"], report["hand_raised"]["dance_minutes"]
    print(f"{len(clips)} clips; gesture-free: {walk:.1f} min walking, {dance:.1f} min dance")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0
