"""`pose-ros eval-lifter`: MPJPE and P-MPJPE of a lifter on BVH takes, virtual-camera protocol.

Protocol: `clips` clips of receptive_field + 31 frames are drawn (seed 0) from the takes, each
seen by its own random virtual robot camera (pose_ros.train.lifter_data, no augmentation); every
frame with a causal history is scored (clips that start before a take's first frame repeat it,
as a new track does). Clean: exact 2D, score 1 in view and 0 out of view. Noisy: the training
noise model. Errors are pelvis-relative, in millimetres, over all 17 lifter joints.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from pose_ros.eval.metrics3d import mpjpe, p_mpjpe, per_joint_mpjpe
from pose_ros.models.lifter import Lifter
from pose_ros.skeleton import H36M17
from pose_ros.train.lifter_data import NoiseModel, make_batch
from pose_ros.train.train_lifter import EXTRA_OUTPUT_FRAMES, load_takes


@torch.no_grad()
def _predict(lifter: Lifter, inputs: np.ndarray, batch: int = 128) -> np.ndarray:
    outs = []
    for i in range(0, len(inputs), batch):
        x = torch.from_numpy(inputs[i:i + batch]).to(lifter.device)
        out = lifter.model(x)
        outs.append((out - out[:, :, :1]).cpu().numpy())
    return np.concatenate(outs)


def evaluate(lifter: Lifter, takes: list[np.ndarray], clips: int = 2000, seed: int = 0) -> dict:
    """{"clean": {...}, "noisy": {...}}: mpjpe_mm, pmpjpe_mm, per_joint_mm, mean-pose baseline."""
    rf = lifter.receptive_field
    length = rf + EXTRA_OUTPUT_FRAMES
    results = {}
    for name, noise in (("clean", NoiseModel.clean()), ("noisy", NoiseModel())):
        inputs, targets = make_batch(np.random.default_rng(seed), takes, clips, length, noise,
                                     augment=False)
        pred, target = _predict(lifter, inputs), targets[:, rf - 1:]
        mean_pose = np.broadcast_to(target.reshape(-1, 17, 3).mean(0), target.shape)
        results[name] = {
            "mpjpe_mm": mpjpe(pred, target) * 1000,
            "pmpjpe_mm": p_mpjpe(pred, target) * 1000,
            "mean_pose_mpjpe_mm": mpjpe(mean_pose, target) * 1000,
            "per_joint_mm": dict(zip(H36M17.keypoint_names,
                                     (per_joint_mpjpe(pred, target) * 1000).round(1).tolist())),
            "poses": int(np.prod(target.shape[:2])),
        }
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bvh", required=True, help="folder of BVH takes to evaluate on")
    parser.add_argument("--subjects", default="", help="comma-separated subjects (file prefix); "
                        "default: the lifter's validation subjects when evaluating it on CMU, "
                        "else every take")
    parser.add_argument("--weights", default=None, help="lifter weights (default: shipped)")
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--json", default=None, help="write every number to this file")


def run(args: argparse.Namespace) -> int:
    lifter = Lifter.load(args.weights)
    subjects = [s for s in args.subjects.split(",") if s]
    if not subjects:
        subjects = lifter.metadata.get("validation_subjects", [])
    takes = load_takes(args.bvh, set(subjects) if subjects else None)
    results = evaluate(lifter, [t for _, t in takes], clips=args.clips)
    report = {
        "mpjpe_mm": results["noisy"]["mpjpe_mm"], "pmpjpe_mm": results["noisy"]["pmpjpe_mm"],
        **results, "takes": len(takes), "frames": int(sum(len(t) for _, t in takes)),
        "subjects": subjects or "all", "joints_scored": list(H36M17.keypoint_names),
        "weights_sha256": lifter.digest, "receptive_field": lifter.receptive_field,
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
    }
    print(f"{'2D input':<8} {'MPJPE mm':>9} {'P-MPJPE mm':>11} {'mean pose mm':>13}")
    for name in ("clean", "noisy"):
        r = results[name]
        print(f"{name:<8} {r['mpjpe_mm']:9.1f} {r['pmpjpe_mm']:11.1f} "
              f"{r['mean_pose_mpjpe_mm']:13.1f}")
    print(f"{len(takes)} takes, {report['frames']} frames at 30 fps, subjects "
          f"{report['subjects']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0
