"""`pose-ros train-lifter`: train the causal temporal lifter on BVH motion capture.

Training uses VideoPose3D's efficient scheme: each sample is a clip of receptive_field + 31
frames and the network predicts every frame that has a full causal history, so neighbouring
outputs share computation. Validation runs each epoch on whole held-out subjects, with a fixed
seed, noisy 2D; the best checkpoint is kept.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from pose_ros.eval.metrics3d import mpjpe
from pose_ros.models.lifter import Lifter, TemporalLifter
from pose_ros.train.bvh import load_take, subject_of
from pose_ros.train.lifter_data import NoiseModel, make_batch

DEFAULT_VAL_SUBJECTS = ("14", "39", "136", "143")
EXTRA_OUTPUT_FRAMES = 31


@dataclass
class TrainConfig:
    receptive_field: int = 27
    channels: int = 256
    epochs: int = 120
    steps_per_epoch: int = 60
    batch: int = 96
    lr: float = 2e-3
    seed: int = 0
    val_subjects: tuple[str, ...] = DEFAULT_VAL_SUBJECTS
    val_clips: int = 512
    max_minutes: float = 50.0
    init: str = ""  # start from these weights (fine-tuning) instead of random


def load_takes(bvh_dir: str | Path, subjects: set[str] | None = None, exclude: bool = False,
               progress: bool = True) -> list[tuple[str, np.ndarray]]:
    """(file name, (F, 17, 3) metres) for every BVH in bvh_dir (optionally by subject)."""
    paths = sorted(Path(bvh_dir).glob("*.bvh"))
    if subjects is not None:
        paths = [p for p in paths if (subject_of(p) in subjects) != exclude]
    if not paths:
        raise FileNotFoundError(f"no .bvh files in {bvh_dir}" +
                                (f" for subjects {sorted(subjects)}" if subjects else ""))
    return [(p.name, load_take(p)) for p in tqdm(paths, desc="loading BVH", disable=not progress)]


def validation_set(takes: list[np.ndarray], cfg: TrainConfig, noise: NoiseModel,
                   seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    length = cfg.receptive_field + EXTRA_OUTPUT_FRAMES
    return make_batch(np.random.default_rng(seed), takes, cfg.val_clips, length, noise,
                      augment=False)


@torch.no_grad()
def predict(model: TemporalLifter, inputs: np.ndarray, batch: int = 128) -> np.ndarray:
    """(B, L, 17, 3) inputs -> (B, L - rf + 1, 17, 3) pelvis-relative predictions."""
    model.eval()
    outs = []
    for i in range(0, len(inputs), batch):
        out = model(torch.from_numpy(inputs[i:i + batch]))
        outs.append((out - out[:, :, :1]).numpy())
    return np.concatenate(outs)


def train_lifter(bvh_dir: str | Path, out: str | Path, cfg: TrainConfig,
                 command: str = "") -> dict:
    """Train, keep the best checkpoint at `out` (+ metadata .json beside it); return metadata."""
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    val_subjects = set(cfg.val_subjects)
    train_takes = load_takes(bvh_dir, val_subjects, exclude=True)
    val_takes = load_takes(bvh_dir, val_subjects)
    train_arrays = [t for _, t in train_takes]
    val_inputs, val_targets = validation_set([t for _, t in val_takes], cfg, NoiseModel())
    rf = cfg.receptive_field
    length = rf + EXTRA_OUTPUT_FRAMES
    model = TemporalLifter(rf, cfg.channels)
    if cfg.init:
        model.load_state_dict(Lifter.load(cfg.init).model.state_dict())
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    total_steps = cfg.epochs * cfg.steps_per_epoch
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=total_steps,
                                                   pct_start=0.05)
    start = time.monotonic()
    best = {"val_mpjpe_mm": float("inf")}
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        losses = []
        for _ in tqdm(range(cfg.steps_per_epoch), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                      leave=False):
            inputs, targets = make_batch(rng, train_arrays, cfg.batch, length, NoiseModel())
            pred = model(torch.from_numpy(inputs))
            loss = torch.linalg.norm(pred - torch.from_numpy(targets[:, rf - 1:]), dim=-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        val = mpjpe(predict(model, val_inputs), val_targets[:, rf - 1:]) * 1000
        history.append({"epoch": epoch + 1, "train_mpjpe_mm": float(np.mean(losses)) * 1000,
                        "val_mpjpe_mm": float(val)})
        tqdm.write(f"epoch {epoch + 1}: train {np.mean(losses) * 1000:.1f} mm, "
                   f"val {val:.1f} mm")
        if val < best["val_mpjpe_mm"]:
            best = {"val_mpjpe_mm": float(val), "epoch": epoch + 1}
            save_checkpoint(model, out)
        if time.monotonic() - start > cfg.max_minutes * 60:
            tqdm.write(f"stopping after {epoch + 1} epochs: time budget reached")
            break
    metadata = {
        "data": f"CMU Graphics Lab Motion Capture Database, BVH ({len(train_takes)} training "
                f"takes, {len(val_takes)} validation takes); the data used in this project was "
                "obtained from mocap.cs.cmu.edu, created with funding from NSF EIA-0196217",
        "validation_subjects": sorted(val_subjects),
        "config": asdict(cfg),
        "command": command,
        "training_minutes": round((time.monotonic() - start) / 60, 1),
        "best": best,
        "history": history,
        "date": time.strftime("%Y-%m-%d"),
        "normalization": "see pose_ros/models/lifter.py (normalize_2d)",
    }
    Path(out).with_suffix(".json").write_text(json.dumps(metadata, indent=1) + "\n")
    return metadata


def save_checkpoint(model: TemporalLifter, path: str | Path) -> None:
    """float16 weights (half the size; accuracy loss checked by eval-lifter) + architecture."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    tmp = Path(path).with_suffix(".tmp")
    torch.save({"receptive_field": model.receptive_field, "channels": model.channels,
                "state_dict": state}, tmp)
    tmp.replace(path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    parser.add_argument("--bvh", required=True, help="folder of BVH takes (e.g. CMU mocap)")
    parser.add_argument("--out", required=True, help="weights file to write (.pt)")
    parser.add_argument("--val-subjects", default=",".join(d.val_subjects),
                        help="comma-separated subjects held out for validation (file prefix)")
    parser.add_argument("--receptive-field", type=int, default=d.receptive_field,
                        choices=(1, 9, 27, 81))
    parser.add_argument("--channels", type=int, default=d.channels)
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch)
    parser.add_argument("--batch", type=int, default=d.batch)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--max-minutes", type=float, default=d.max_minutes,
                        help="stop after the epoch that passes this time")
    parser.add_argument("--init", default="", help="start from these weights (fine-tuning)")


def run(args: argparse.Namespace) -> int:
    cfg = TrainConfig(receptive_field=args.receptive_field, channels=args.channels,
                      epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                      batch=args.batch, lr=args.lr, seed=args.seed,
                      val_subjects=tuple(s for s in args.val_subjects.split(",") if s),
                      max_minutes=args.max_minutes, init=args.init)
    out = Path(args.out)
    if out.exists() and not getattr(args, "force", False):
        print(f"pose-ros: {out} exists; choose another --out or remove it")
        return 2
    import sys
    meta = train_lifter(args.bvh, out, cfg, command="pose-ros train-lifter " +
                        " ".join(sys.argv[2:] if sys.argv[1:2] == ["train-lifter"]
                                 else sys.argv[1:]))
    print(f"best validation MPJPE {meta['best']['val_mpjpe_mm']:.1f} mm "
          f"(epoch {meta['best'].get('epoch')}); weights {out}")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(prog="pose-ros train-lifter")
    add_arguments(p)
    raise SystemExit(run(p.parse_args()))
