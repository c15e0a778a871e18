"""`pose-ros eval-lifter`: MPJPE and P-MPJPE of a lifter on BVH takes, virtual-camera protocol.

Protocol: every frame of every take is scored. A take (30 fps) is cut into windows of 32 frames;
each window is lifted causally from its own receptive field of history (frames before the take's
start repeat its first frame, as for a new track) and seen by its own virtual camera drawn from
lifter_data.ROBOT_CAMERAS (seeded, so a run is reproducible). No augmentation: the takes' own
bodies and mocap joint centres. 2D input: "clean" is exact projection (the GT-2D protocol: score
1 in view, 0 out of view); "noisy" adds the training 2D error model. The fused lifter also gets
simulated BlazePose-like world landmarks (world_sim). Errors are pelvis-relative, millimetres,
over the 17 lifter joints, averaged over frames (per take, per activity, per joint, overall);
"size" is the median ratio of the predicted to the true sum of bone lengths (1 = true size).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pose_ros.errors import PoseRosError
from pose_ros.eval.metrics3d import mpjpe, p_mpjpe, per_joint_mpjpe
from pose_ros.models.lifter import Lifter
from pose_ros.skeleton import H36M17
from pose_ros.train import corpus
from pose_ros.train.lifter_data import ROBOT_CAMERAS, NoiseModel, clip_windows, render
from pose_ros.train.world_sim import WorldNoise

WINDOW = 32


@torch.no_grad()
def predict(lifter: Lifter, inputs: np.ndarray, batch: int = 128) -> np.ndarray:
    """(B, L, 17, F) inputs -> (B, L - rf + 1, 17, 3) pelvis-relative predictions."""
    lifter.model.eval()
    outs = []
    for i in range(0, len(inputs), batch):
        out = lifter.model(torch.from_numpy(inputs[i:i + batch]).to(lifter.device))
        outs.append((out - out[:, :, :1]).cpu().numpy())
    return np.concatenate(outs)


def windows(takes: list[np.ndarray], rf: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every frame of every take in windows: (clips (W, rf - 1 + WINDOW, 17, 3), take index
    per window (W,), valid output frames mask (W, WINDOW))."""
    clips, owner, valid = [], [], []
    for t, take in enumerate(takes):
        starts = np.arange(0, len(take), WINDOW)
        clips.append(clip_windows(take, starts - (rf - 1), rf - 1 + WINDOW))
        owner.append(np.full(len(starts), t))
        valid.append(starts[:, None] + np.arange(WINDOW)[None] < len(take))
    return np.concatenate(clips), np.concatenate(owner), np.concatenate(valid)


def size_ratio(pred: np.ndarray, target: np.ndarray) -> float:
    """Median over poses of (sum of predicted bone lengths / sum of true ones): 1 = true size."""
    limbs = np.array(H36M17.limbs)

    def total(p: np.ndarray) -> np.ndarray:
        return np.linalg.norm(p[:, limbs[:, 0]] - p[:, limbs[:, 1]], axis=-1).sum(-1)

    return float(np.median(total(pred) / total(target)))


def _errors(pred: np.ndarray, target: np.ndarray) -> dict:
    return {"mpjpe_mm": round(mpjpe(pred, target) * 1000, 1),
            "pmpjpe_mm": round(p_mpjpe(pred, target) * 1000, 1), "poses": int(len(pred))}


@dataclass
class Rendered:
    """Fixed inputs of the protocol for some takes, ready to score any lifter of a kind."""

    inputs: dict[str, np.ndarray]      # input kind -> (W, rf - 1 + WINDOW, 17, F)
    targets: dict[str, np.ndarray]     # input kind -> (frames, 17, 3)
    valid: np.ndarray                  # (W, WINDOW)
    owner: np.ndarray                  # (frames,) take index of every scored frame
    receptive_field: int


def render_takes(takes: list[np.ndarray], receptive_field: int, uses_world: bool,
                 seed: int = 0, kinds: tuple[str, ...] = ("clean", "noisy")) -> Rendered:
    clips, owner, valid = windows(takes, receptive_field)
    world = WorldNoise() if uses_world else None
    inputs, targets = {}, {}
    for kind in kinds:
        noise = NoiseModel.clean() if kind == "clean" else NoiseModel()
        inputs[kind], t = render(np.random.default_rng(seed), clips, noise, ROBOT_CAMERAS, world)
        targets[kind] = t[:, receptive_field - 1:][valid]
    frame_owner = np.broadcast_to(owner[:, None], valid.shape)[valid]
    return Rendered(inputs, targets, valid, frame_owner, receptive_field)


def score(lifter: Lifter, rendered: Rendered, names: list[str] | None = None,
          activities: list[str] | None = None) -> dict:
    """{input kind: {mpjpe_mm, pmpjpe_mm, mean_pose_mpjpe_mm, per_joint_mm, per_activity,
    per_take, poses}}."""
    assert lifter.receptive_field == rendered.receptive_field
    n = int(rendered.owner.max()) + 1
    names = names or [str(i) for i in range(n)]
    activities = activities or ["unknown"] * n
    results = {}
    for kind, x in rendered.inputs.items():
        pred = predict(lifter, x)[rendered.valid]
        target, owner = rendered.targets[kind], rendered.owner
        mean_pose = np.broadcast_to(target.mean(0), target.shape)
        r = _errors(pred, target)
        r["mean_pose_mpjpe_mm"] = round(mpjpe(mean_pose, target) * 1000, 1)
        r["size_ratio"] = round(size_ratio(pred, target), 3)
        r["per_joint_mm"] = dict(zip(H36M17.keypoint_names,
                                     (per_joint_mpjpe(pred, target) * 1000).round(1).tolist()))
        r["per_activity"] = {}
        for act in sorted(set(activities)):
            sel = np.isin(owner, [i for i, a in enumerate(activities) if a == act])
            r["per_activity"][act] = {
                **_errors(pred[sel], target[sel]),
                "per_joint_mm": dict(zip(H36M17.keypoint_names, (per_joint_mpjpe(
                    pred[sel], target[sel]) * 1000).round(1).tolist()))}
        r["per_take"] = {names[t]: {**_errors(pred[owner == t], target[owner == t]),
                                    "activity": activities[t]} for t in range(n)}
        results[kind] = r
    return results


def evaluate(lifter: Lifter, takes: list[np.ndarray], names: list[str] | None = None,
             activities: list[str] | None = None, seed: int = 0,
             inputs: tuple[str, ...] = ("clean", "noisy")) -> dict:
    """score() on every frame of `takes` ((F, 17, 3) metres, y up, 30 fps)."""
    rendered = render_takes(takes, lifter.receptive_field, lifter.uses_world, seed, inputs)
    return score(lifter, rendered, names, activities)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bvh", required=True, nargs="+", metavar="DIR",
                        help="folder(s) of BVH takes; every take is scored unless --subjects "
                        "or --activities narrow it")
    parser.add_argument("--subjects", default="", help="comma-separated subjects (the file "
                        "name's number before '_'); 'validation' or 'test': the weights' own "
                        "splits from their metadata")
    parser.add_argument("--activities", default="", help="comma-separated activities (from "
                        "INDEX.txt / SELECTION.tsv descriptions: walk, run, jump, dance, sit, "
                        "bend, ...)")
    parser.add_argument("--units", default="", help="BVH units: a unit name ("
                        f"{', '.join(corpus.UNITS_M)}), metres per unit, or GLOB=UNIT,...; "
                        "default: inferred from each take's body")
    parser.add_argument("--weights", default=None, help="lifter weights (default: shipped 2D)")
    parser.add_argument("--seed", type=int, default=0, help="cameras and 2D noise")
    parser.add_argument("--json", default=None, help="write every number to this file")


def _subjects(spec: str, lifter: Lifter) -> set[str] | None:
    if spec in ("validation", "test"):
        key = f"{spec}_subjects"
        if key not in lifter.metadata:
            raise PoseRosError(f"--subjects {spec}: the weights' metadata names no {key}")
        return set(lifter.metadata[key])
    subjects = {s.strip() for s in spec.split(",") if s.strip()}
    return subjects or None


def run(args: argparse.Namespace) -> int:
    lifter = Lifter.load(args.weights)
    infos = corpus.find_takes(args.bvh)
    subjects = _subjects(args.subjects, lifter)
    activities = {a.strip() for a in args.activities.split(",") if a.strip()} or None
    chosen = corpus.select(infos, subjects=subjects, activities=activities)
    if not chosen:
        there = sorted({i.subject for i in infos})
        raise PoseRosError(f"no takes of subjects {sorted(subjects or [])} / activities "
                           f"{sorted(activities or [])} in {', '.join(args.bvh)} (subjects "
                           f"there: {', '.join(there[:40])})")
    loaded, skipped = corpus.load(chosen, args.units or None)
    results = evaluate(lifter, [t.joints_m for _, t in loaded],
                       [i.path.name for i, _ in loaded], [i.activity for i, _ in loaded],
                       seed=args.seed)
    report = {
        "mpjpe_mm": results["clean"]["mpjpe_mm"], "pmpjpe_mm": results["clean"]["pmpjpe_mm"],
        **results, "takes": len(loaded), "skipped": skipped,
        "frames": int(sum(len(t.joints_m) for _, t in loaded)),
        "subjects": sorted(subjects) if subjects else "all",
        "bodies": {i.path.name: {"units": t.units, "stature_m": round(t.body.stature_m, 3)}
                   for i, t in loaded},
        "joints_scored": list(H36M17.keypoint_names), "weights_sha256": lifter.digest,
        "receptive_field": lifter.receptive_field, "uses_world": lifter.uses_world,
        "protocol": " ".join(__doc__.split("\n\n")[1].split()),
    }
    print(f"{'2D input':<8} {'MPJPE mm':>9} {'P-MPJPE mm':>11} {'mean pose mm':>13} "
          f"{'size':>5}")
    for name in ("clean", "noisy"):
        r = results[name]
        print(f"{name:<8} {r['mpjpe_mm']:9.1f} {r['pmpjpe_mm']:11.1f} "
              f"{r['mean_pose_mpjpe_mm']:13.1f} {r['size_ratio']:5.2f}")
    for act, r in results["clean"]["per_activity"].items():
        print(f"  clean, {act:<10} {r['mpjpe_mm']:7.1f} mm ({r['poses']} poses)")
    print(f"{len(loaded)} takes ({len(skipped)} skipped), {report['frames']} frames at 30 fps, "
          f"subjects {report['subjects']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0
