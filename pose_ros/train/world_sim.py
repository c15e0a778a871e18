"""BlazePose-world-landmark-like 3D, simulated from mocap, for the fused lifter's training.

Fitted to what tools/measure_blazepose_world.py measured on the real clips of
../shared/data/video (10 tracks, 642 frames; there is no 3D ground truth there, so these are
properties of the landmarks, and the error sizes are set so that the simulated landmarks'
P-MPJPE is near the 87-108 mm issue 10 reports for MediaPipe's world landmarks on real
photographs):
- BlazePose gives nearly every person the same body: across tracks its thigh is 0.379 m
  (spread 0.016), shin 0.350, upper arm 0.227, forearm 0.204, trunk (mid-hips to
  mid-shoulders) 0.489, hips 0.188 and shoulders 0.302 apart, mid-shoulders to mid-ears 0.17.
  Simulated bones are a per-person mix (70-100 %) of those lengths and the person's own, with
  a 5 % per-person bias and a 4 % left/right difference (measured asymmetry: thigh 4.5 %,
  shin 7 %, arms 12 % median, noise included);
- axes: a camera looking along the ray to the person (BlazePose sees a crop); the lifter turns
  them into camera axes (models/lifter.py normalize_world), so the simulation returns them in
  ray axes;
- frame-to-frame jitter: second-difference RMS of hip-relative landmarks 23-47 mm (x, y) and
  32-65 mm (z) for people 440-760 px tall, 85-210 mm for people 70-105 px tall: white noise of
  std 12 mm x (600 / height_px)^0.75 in x, y and 18 mm x (600 / height_px)^0.6 along the ray;
- errors a single image cannot resolve: a per-clip depth error per joint (std 45 mm, growing
  with distance), a per-clip in-plane error per joint (15 mm), limbs whose depth is mirrored
  about their parent joint for a stretch of frames, and left/right swapped for a stretch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_ros.models.lifter import ray_rotation
from pose_ros.skeleton import H36M17
from pose_ros.train.pose_aug import _BONES, _midpoints, _unit

_I = H36M17.index
BLAZEPOSE_BONES_M = {"hip": 0.188 / 2, "thigh": 0.379, "shin": 0.350, "trunk": 0.489,
                     "head": 0.17, "shoulder": 0.302 / 2, "upper_arm": 0.227, "forearm": 0.204}
_LIMBS = [(_I(f"{s}_{a}"), _I(f"{s}_{b}")) for s in ("left", "right")
          for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"),
                       ("knee", "ankle"))]


@dataclass(frozen=True)
class WorldNoise:
    prior_weight: tuple = (0.7, 1.0)
    bone_bias: float = 0.05
    asymmetry: float = 0.04
    jitter_xy_m: float = 0.012
    jitter_z_m: float = 0.018
    depth_bias_m: float = 0.045
    inplane_bias_m: float = 0.015
    depth_flip: float = 0.15       # clips with one limb's depth mirrored for a stretch
    swap: float = 0.08             # clips with left/right swapped for a stretch


def _stretch(rng: np.random.Generator, b: int, length: int, prob: float) -> np.ndarray:
    """(B, L) bool: for a fraction `prob` of clips, one random run of frames."""
    start = rng.integers(0, length, b)[:, None]
    span = rng.integers(3, max(length, 4), b)[:, None]
    t = np.arange(length)[None]
    return (rng.random(b)[:, None] < prob) & (t >= start) & (t < start + span)


def simulate(rng: np.random.Generator, cam_m: np.ndarray, height_px: np.ndarray,
             noise: WorldNoise = WorldNoise()) -> np.ndarray:
    """(B, L, 17, 3) true joints in camera metres + (B, L) person height in pixels ->
    (B, L, 17, 3) world-landmark-like joints: pelvis-centred, ray axes (module docstring)."""
    b, length = cam_m.shape[:2]
    pelvis = cam_m[:, :, :1]
    rel = cam_m - pelvis
    rot = ray_rotation(pelvis[:, :, 0, :2] / pelvis[:, :, 0, 2:3])     # (B, L, 3, 3)
    ray = rel @ rot                                                    # into ray axes
    w = rng.uniform(*noise.prior_weight, b)[:, None, None]
    out = ray.copy()
    for parent, child, group in _BONES:
        p, c = _I(parent), _I(child)
        own = np.linalg.norm(ray[:, :, c] - ray[:, :, p], axis=-1, keepdims=True)
        own = np.median(own, axis=1, keepdims=True)
        bias = 1 + rng.normal(0, noise.bone_bias, (b, 1, 1))
        side = 1 + rng.normal(0, noise.asymmetry / 2, (b, 1, 1))
        target = (w * BLAZEPOSE_BONES_M[group] + (1 - w) * own) * bias * side
        out[:, :, c] = out[:, :, p] + _unit(ray[:, :, c] - ray[:, :, p]) * target
    out = _midpoints(out)
    flip = _stretch(rng, b, length, noise.depth_flip)
    limb = rng.integers(0, len(_LIMBS), b)
    for k, (p, c) in enumerate(_LIMBS):
        sel = flip & (limb == k)[:, None]
        dz = out[:, :, c, 2] - out[:, :, p, 2]
        for m in ([c, c + 1] if k % 2 == 0 else [c]):  # a proximal flip takes the limb's end
            out[:, :, m, 2] = np.where(sel, out[:, :, m, 2] - 2 * dz, out[:, :, m, 2])
    distance = np.linalg.norm(pelvis[:, :, 0], axis=-1).mean(1)[:, None, None]
    scale = np.clip(600.0 / np.maximum(height_px, 20.0), 0.3, 12.0)[..., None]
    out[..., :2] += rng.normal(0, noise.inplane_bias_m, (b, 1, 17, 2))
    out[..., 2] += rng.normal(0, 1, (b, 1, 17)) * noise.depth_bias_m * (0.6 + distance / 8)
    jitter_xy = noise.jitter_xy_m * scale[..., None] ** 0.75
    out[..., :2] += rng.normal(0, 1, (b, length, 17, 2)) * jitter_xy
    out[..., 2] += rng.normal(0, 1, (b, length, 17)) * noise.jitter_z_m * scale ** 0.6
    swap = _stretch(rng, b, length, noise.swap)
    out = np.where(swap[..., None, None], out[:, :, H36M17.flip_permutation()], out)
    return (out - out[:, :, :1]).astype(np.float32)
