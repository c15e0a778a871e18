"""`pose-ros train-lifter`: train the causal temporal lifter (2D, or fused 2D + world) on BVH.

Training uses VideoPose3D's optimized scheme: each sample is an independent clip of
receptive_field frames and the network predicts its last frame with strided convolutions
(TemporalLifter.forward_last: same weights as the dense causal model, a ninth of the compute per
independent sample of dense 58-frame clips, measured on this machine). The learning rate
warms up over the first 5 % and then follows a cosine to zero; progress is the larger of steps
done / (epochs x steps_per_epoch) and minutes spent / max_minutes, so a run ends, annealed,
within its time budget however busy the machine is (the steps it managed are in the metadata).
Data: every take of the given folders except the validation and test subjects (corpus.py) and
any excluded activities, varied per clip (lifter_data.Augmentation). Each epoch is validated on
every frame of the validation subjects' takes (eval-lifter's protocol, clean and noisy 2D, fixed
seed); the checkpoint with the best mean of the two is kept. The test subjects are never loaded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from pose_ros.errors import PoseRosError
from pose_ros.eval import lifter_eval
from pose_ros.models.lifter import FEATURES, Lifter, TemporalLifter
from pose_ros.train import corpus
from pose_ros.train.lifter_data import Augmentation, NoiseModel, make_batch
from pose_ros.train.world_sim import WorldNoise

CMU_CREDIT = ("CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu; created with funding "
              "from NSF EIA-0196217), BVH conversions; free for research and commercial use")


@dataclass
class TrainConfig:
    receptive_field: int = 27
    channels: int = 256
    epochs: int = 60
    steps_per_epoch: int = 100
    batch: int = 512
    lr: float = 2e-3
    seed: int = 0
    world: bool = False                       # the fused kind: 2D + world landmarks
    val_subjects: tuple[str, ...] = corpus.VALIDATION_SUBJECTS
    test_subjects: tuple[str, ...] = corpus.TEST_SUBJECTS
    exclude_activities: tuple[str, ...] = ()
    units: str = ""
    augment: bool = True
    max_minutes: float = 80.0                 # training-loop budget (loading adds ~1 min)
    init: str = ""  # start from these weights (fine-tuning) instead of random
    augmentation: dict = field(default_factory=dict)


def load_split(dirs: list[str], cfg: TrainConfig, progress: bool = True) -> dict:
    """{"train": [(info, take)], "validation": [...], "skipped": [str]}; test never loaded."""
    infos = corpus.find_takes(dirs)
    held = set(cfg.val_subjects) | set(cfg.test_subjects)
    train = corpus.select(infos, exclude_subjects=held,
                          exclude_activities=set(cfg.exclude_activities))
    val = corpus.select(infos, subjects=set(cfg.val_subjects),
                        exclude_activities=set(cfg.exclude_activities))
    if not train or not val:
        raise PoseRosError(f"{len(train)} training and {len(val)} validation takes in "
                           f"{', '.join(dirs)}: both are needed (see --val-subjects)")
    train_loaded, skipped = corpus.load(train, cfg.units or None, progress)
    val_loaded, skipped_val = corpus.load(val, cfg.units or None, progress)
    return {"train": train_loaded, "validation": val_loaded, "skipped": skipped + skipped_val}


def validate(lifter: Lifter, rendered: lifter_eval.Rendered) -> dict:
    res = lifter_eval.score(lifter, rendered)
    return {"clean_mm": res["clean"]["mpjpe_mm"], "noisy_mm": res["noisy"]["mpjpe_mm"],
            "mean_mm": round((res["clean"]["mpjpe_mm"] + res["noisy"]["mpjpe_mm"]) / 2, 1)}


def train_lifter(dirs: list[str], out: str | Path, cfg: TrainConfig, command: str = "",
                 progress: bool = True) -> dict:
    """Train, keep the best checkpoint at `out` (+ metadata .json beside it); return metadata."""
    start = time.monotonic()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    split = load_split(dirs, cfg, progress)
    train_arrays = [t.joints_m for _, t in split["train"]]
    augment = Augmentation() if cfg.augment else None
    world = WorldNoise() if cfg.world else None
    rf = cfg.receptive_field
    model = TemporalLifter(rf, cfg.channels,
                           in_features=FEATURES["fused" if cfg.world else "2d"])
    if cfg.init:
        model.load_state_dict(Lifter.load(cfg.init).model.state_dict())
    lifter = Lifter(model)
    val_rendered = lifter_eval.render_takes([t.joints_m for _, t in split["validation"]], rf,
                                            cfg.world, seed=1234)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    total_steps = cfg.epochs * cfg.steps_per_epoch
    train_start = time.monotonic()
    best: dict = {"mean_mm": float("inf")}
    history = []
    step = 0
    progress_done = 0.0
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        for _ in range(cfg.steps_per_epoch):
            progress_done = max(step / total_steps,
                                (time.monotonic() - train_start) / 60 / cfg.max_minutes)
            if progress_done >= 1:
                break
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(cfg.lr, progress_done)
            inputs, targets = make_batch(rng, train_arrays, cfg.batch, rf, NoiseModel(),
                                         augment, world=world)
            pred = model.forward_last(torch.from_numpy(inputs))
            loss = torch.linalg.norm(pred - torch.from_numpy(targets[:, -1]), dim=-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        if not losses:
            break
        val = validate(lifter, val_rendered)
        minutes = (time.monotonic() - start) / 60
        history.append({"epoch": epoch + 1, "steps": step,
                        "train_mpjpe_mm": round(float(np.mean(losses)) * 1000, 1), **val,
                        "minutes": round(minutes, 1)})
        if progress:
            print(json.dumps(history[-1]), flush=True)
        if val["mean_mm"] < best["mean_mm"]:
            best = {**val, "epoch": epoch + 1}
            save_checkpoint(model, out)
    cfg.augmentation = asdict(augment) if augment else {}
    metadata = {
        "kind": "fused" if cfg.world else "2d",
        "data": CMU_CREDIT,
        "folders": [str(d) for d in dirs],
        "training_takes": [i.path.name for i, _ in split["train"]],
        "validation_takes": [i.path.name for i, _ in split["validation"]],
        "skipped_takes": split["skipped"],
        "validation_subjects": sorted(cfg.val_subjects),
        "test_subjects": sorted(cfg.test_subjects),
        "excluded_activities": sorted(cfg.exclude_activities),
        "split_note": "validation subjects chose the epoch (and the designs, in pilot runs); "
                      "test subjects were never loaded by training nor evaluated while "
                      "developing",
        "config": asdict(cfg),
        "world_noise": asdict(world) if world else None,
        "command": command,
        "training_minutes": round((time.monotonic() - start) / 60, 1),
        "steps": step,
        "best": best,
        "history": history,
        "date": time.strftime("%Y-%m-%d"),
        "normalization": "see pose_ros/models/lifter.py (normalize_2d, normalize_world)",
        "joint_definition": "the 2D keypoints' own points (training varies them from mocap "
                            "joint centres to BlazePose-like hips, the same for input and "
                            "target; pose_ros/train/pose_aug.py)",
    }
    Path(out).with_suffix(".json").write_text(json.dumps(metadata, indent=1) + "\n")
    return metadata


def learning_rate(peak: float, progress: float, warmup: float = 0.05) -> float:
    """Linear warm-up to `peak`, then a cosine to zero at progress 1."""
    if progress < warmup:
        return peak * (0.04 + 0.96 * progress / warmup)
    return peak * 0.5 * (1 + np.cos(np.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def save_checkpoint(model: TemporalLifter, path: str | Path) -> None:
    """float16 weights (half the size; accuracy loss checked by eval-lifter) + architecture."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    tmp = Path(path).with_suffix(".tmp")
    torch.save({"receptive_field": model.receptive_field, "channels": model.channels,
                "in_features": model.in_features, "state_dict": state}, tmp)
    tmp.replace(path)


def _csv(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    parser.add_argument("--bvh", required=True, nargs="+", metavar="DIR",
                        help="folder(s) of BVH takes (e.g. CMU mocap)")
    parser.add_argument("--out", required=True, help="weights file to write (.pt)")
    parser.add_argument("--world", action="store_true",
                        help="the fused kind: 2D keypoints + BlazePose-like world landmarks")
    parser.add_argument("--units", default="", help="BVH units (see eval-lifter --units)")
    parser.add_argument("--val-subjects", default=",".join(d.val_subjects),
                        help="subjects that choose the epoch")
    parser.add_argument("--test-subjects", default=",".join(d.test_subjects),
                        help="subjects never used here (the test split)")
    parser.add_argument("--exclude-activities", default="",
                        help="activities left out of training (leave-activity-out check)")
    parser.add_argument("--no-augment", action="store_true", help="no pose/body/camera variety "
                        "beyond mirroring-free renders (for comparisons)")
    parser.add_argument("--receptive-field", type=int, default=d.receptive_field,
                        choices=(1, 9, 27, 81))
    parser.add_argument("--channels", type=int, default=d.channels)
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch)
    parser.add_argument("--batch", type=int, default=d.batch)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--max-minutes", type=float, default=d.max_minutes,
                        help="time budget of the training loop: the schedule ends within it")
    parser.add_argument("--init", default="", help="start from these weights (fine-tuning)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")


def run(args: argparse.Namespace) -> int:
    cfg = TrainConfig(receptive_field=args.receptive_field, channels=args.channels,
                      epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                      batch=args.batch, lr=args.lr, seed=args.seed, world=args.world,
                      val_subjects=_csv(args.val_subjects), test_subjects=_csv(args.test_subjects),
                      exclude_activities=_csv(args.exclude_activities), units=args.units,
                      augment=not args.no_augment, max_minutes=args.max_minutes, init=args.init)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise PoseRosError(f"{out} exists; choose another --out or give --force")
    argv = sys.argv[2:] if sys.argv[1:2] == ["train-lifter"] else sys.argv[1:]
    meta = train_lifter(args.bvh, out, cfg, command="pose-ros train-lifter " + " ".join(argv))
    print(f"best validation MPJPE {meta['best'].get('clean_mm')} mm clean 2D, "
          f"{meta['best'].get('noisy_mm')} mm noisy (epoch {meta['best'].get('epoch')}); "
          f"weights {out}")
    return 0
