"""Lifter training data: mocap seen through random virtual robot cameras, with detector-like 2D.

A sample is a clip of L frames of one take: the 3D joints (y up, metres) are optionally mirrored
and given new bone lengths, then seen by a random camera like a robot's (height 0.3-2.0 m,
distance 1.5-8 m, any yaw around the person, pitch within +-25 degrees, horizontal field of view
50-100 degrees, image 640x480 to 1920x1080, the person anywhere in the view, sometimes partly out
of it). The 2D keypoints get a 2D detector's errors: Gaussian noise that grows as the person gets
smaller, a per-clip bias, low-confidence joints, gross outliers, and low scores out of view.
Derived joints (pelvis, thorax, spine, neck) are recomputed from the noisy joints exactly as at
run time (skeleton.lifter_inputs_from_coco17).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_ros.models.lifter import normalize_2d
from pose_ros.skeleton import H36M17

J = H36M17.num_keypoints
_IDX = H36M17.index
BASE_JOINTS = np.array([_IDX(n) for n in H36M17.keypoint_names
                        if n not in ("pelvis", "spine", "thorax", "neck")])
IMAGE_SIZES = np.array([(640, 480), (848, 480), (1280, 720), (1280, 800), (1920, 1080)])
ANKLE_ABOVE_FLOOR_M = 0.08

# Bone groups that are scaled together (left and right alike): (parent, child) names.
_BONE_GROUPS = {
    "thigh": [("right_hip", "right_knee"), ("left_hip", "left_knee")],
    "shin": [("right_knee", "right_ankle"), ("left_knee", "left_ankle")],
    "hips": [("pelvis", "right_hip"), ("pelvis", "left_hip")],
    "torso": [("pelvis", "spine"), ("spine", "thorax")],
    "neck": [("thorax", "neck"), ("neck", "head")],
    "shoulders": [("thorax", "left_shoulder"), ("thorax", "right_shoulder")],
    "upper_arm": [("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow")],
    "forearm": [("left_elbow", "left_wrist"), ("right_elbow", "right_wrist")],
}
_BONES = [(_IDX(a), _IDX(b), g) for g, pairs in _BONE_GROUPS.items() for a, b in pairs]
_BONES.sort(key=lambda bone: H36M17.limbs.index((bone[0], bone[1])))  # parents first


@dataclass(frozen=True)
class NoiseModel:
    """2D detector error model; `clean()` gives exact keypoints, score 1 where in view."""

    sigma_rel: float = 0.012      # noise std as a fraction of the person's 2D height
    sigma_px: float = 2.0         # plus this many pixels
    bias_rel: float = 0.008       # per-clip constant offset per joint, fraction of height
    low_conf_prob: float = 0.08   # joint-frames with a low score and 3x the noise
    outlier_prob: float = 0.02    # joint-frames placed anywhere around the person
    exact_prob: float = 0.1       # clips seen by a perfect detector (exact, score 1 in view)

    @classmethod
    def clean(cls) -> NoiseModel:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @property
    def is_clean(self) -> bool:
        return self == NoiseModel.clean()


def clip_windows(take: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(F, 17, 3) take -> (B, length, 17, 3) clips; clips before frame 0 repeat the first frame."""
    idx = np.clip(starts[:, None] + np.arange(length)[None, :], 0, len(take) - 1)
    return take[idx]


def scale_bones(joints: np.ndarray, factors: dict[str, np.ndarray]) -> np.ndarray:
    """(B, L, 17, 3) -> same with each bone group scaled by factors[group] (B,)."""
    out = joints.copy()
    for parent, child, group in _BONES:
        bone = joints[:, :, child] - joints[:, :, parent]
        out[:, :, child] = out[:, :, parent] + bone * factors[group][:, None, None]
    return out


def _look_rotation(forward: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """(B, 3) forward directions (world, y up) + roll -> (B, 3, 3) world->optical rotations."""
    up = np.array([0.0, 1.0, 0.0])
    z = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    x = np.cross(z, up)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    c, s = np.cos(roll)[:, None], np.sin(roll)[:, None]
    x, y = c * x + s * y, -s * x + c * y
    return np.stack([x, y, z], axis=1)


def random_cameras(rng: np.random.Generator, joints: np.ndarray):
    """Cameras for (B, L, 17, 3) world clips -> (R (B,3,3), C (B,3), K (B,4) fx fy cx cy, sizes)."""
    b = len(joints)
    ref = joints[:, joints.shape[1] // 2, _IDX("pelvis")]
    floor = joints[:, :, [_IDX("left_ankle"), _IDX("right_ankle")], 1].min(axis=(1, 2))
    floor = floor - ANKLE_ABOVE_FLOOR_M
    yaw = rng.uniform(0, 2 * np.pi, b)
    dist = rng.uniform(1.5, 8.0, b)
    height = rng.uniform(0.3, 2.0, b)
    centre = np.stack([ref[:, 0] + dist * np.sin(yaw), floor + height,
                       ref[:, 2] + dist * np.cos(yaw)], axis=1)
    sizes = IMAGE_SIZES[rng.integers(0, len(IMAGE_SIZES), b)].astype(np.float64)
    hfov = np.radians(rng.uniform(50, 100, b))
    f = sizes[:, 0] / 2 / np.tan(hfov / 2)
    vfov = 2 * np.arctan(sizes[:, 1] / 2 / f)
    to_person = ref - centre
    pan = np.arctan2(to_person[:, 0], to_person[:, 2]) + rng.uniform(-0.4, 0.4, b) * hfov
    pitch = np.arctan2(to_person[:, 1], np.hypot(to_person[:, 0], to_person[:, 2]))
    pitch = np.clip(pitch + rng.uniform(-0.4, 0.4, b) * vfov, -np.radians(25), np.radians(25))
    forward = np.stack([np.sin(pan) * np.cos(pitch), np.sin(pitch),
                        np.cos(pan) * np.cos(pitch)], axis=1)
    rot = _look_rotation(forward, rng.uniform(-np.radians(5), np.radians(5), b))
    cx = sizes[:, 0] / 2 + rng.normal(0, 0.01, b) * sizes[:, 0]
    cy = sizes[:, 1] / 2 + rng.normal(0, 0.01, b) * sizes[:, 1]
    return rot, centre, np.stack([f, f, cx, cy], axis=1), sizes


def detector_2d(rng: np.random.Generator, uv: np.ndarray, sizes: np.ndarray,
                noise: NoiseModel) -> np.ndarray:
    """(B, L, 17, 2) exact pixels -> (B, L, 17, 3) noisy pixels + scores, derived joints redone."""
    b, length = uv.shape[:2]

    def outside(xy: np.ndarray) -> np.ndarray:
        return ((xy[..., 0] < 0) | (xy[..., 1] < 0) | (xy[..., 0] >= sizes[:, None, None, 0])
                | (xy[..., 1] >= sizes[:, None, None, 1]))

    if noise.is_clean:  # a perfect detector: exact pixels, score 0 only for joints out of view
        return np.concatenate([uv, np.where(outside(uv), 0.0, 1.0)[..., None]], axis=-1)
    height = (uv[..., 1].max(-1) - uv[..., 1].min(-1))[..., None, None]  # (B, L, 1, 1)
    level = rng.uniform(0.3, 1.5, (b, 1, 1, 1))
    sigma = level * (noise.sigma_rel * height + noise.sigma_px)
    low = rng.random((b, length, J)) < noise.low_conf_prob
    xy = uv + rng.normal(size=uv.shape) * sigma * np.where(low, 3.0, 1.0)[..., None]
    xy += rng.normal(size=(b, 1, J, 2)) * noise.bias_rel * height
    # Visible joints score 0.6-1 with most mass near 1 (median 0.95), like BlazePose's
    # visibility: a model that never saw all-high scores lifts confident 2D worst.
    score = 1.0 - 0.4 * rng.random((b, length, J)) ** 3
    score = np.where(low, rng.uniform(0.0, 0.4, score.shape), score)
    outlier = rng.random((b, length, J)) < noise.outlier_prob
    lo, hi = uv.min(axis=2, keepdims=True), uv.max(axis=2, keepdims=True)
    span = hi - lo
    anywhere = lo - 0.25 * span + rng.random(uv.shape) * 1.5 * span
    xy = np.where(outlier[..., None], anywhere, xy)
    score = np.where(outlier, rng.uniform(0.0, 0.6, score.shape), score)
    exact = (rng.random(b) < noise.exact_prob)[:, None, None]
    xy = np.where(exact[..., None], uv, xy)
    score = np.where(exact, 1.0, score)
    score = np.where(outside(xy), score * rng.uniform(0.0, 0.3, score.shape), score)
    out = np.concatenate([xy, score[..., None]], axis=-1)
    return _redo_derived(out)


def _redo_derived(kp: np.ndarray) -> np.ndarray:
    """Derived joints from the (noisy) base joints, as skeleton.lifter_inputs_from_coco17 does."""
    def mid(a: str, b: str) -> np.ndarray:
        pa, pb = kp[..., _IDX(a), :], kp[..., _IDX(b), :]
        return np.concatenate([(pa[..., :2] + pb[..., :2]) / 2,
                               np.minimum(pa[..., 2:], pb[..., 2:])], axis=-1)
    kp = kp.copy()
    kp[..., _IDX("pelvis"), :] = mid("left_hip", "right_hip")
    kp[..., _IDX("thorax"), :] = mid("left_shoulder", "right_shoulder")
    kp[..., _IDX("spine"), :] = mid("pelvis", "thorax")
    kp[..., _IDX("neck"), :] = mid("thorax", "head")
    return kp


def make_batch(rng: np.random.Generator, takes: list[np.ndarray], batch: int, length: int,
               noise: NoiseModel, augment: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(inputs (B, L, 17, 3) float32, targets (B, L, 17, 3) float32 pelvis-relative camera m)."""
    lengths = np.array([len(t) for t in takes], dtype=np.float64)
    which = rng.choice(len(takes), size=batch, p=lengths / lengths.sum())
    clips = np.empty((batch, length, J, 3))
    for i in np.unique(which):
        sel = np.flatnonzero(which == i)
        starts = rng.integers(-length // 2, max(len(takes[i]) - length, 0) + 1, len(sel))
        clips[sel] = clip_windows(takes[i], starts, length)
    if augment:
        mirror = rng.random(batch) < 0.5
        clips[mirror] = clips[mirror][:, :, H36M17.flip_permutation()] * [-1, 1, 1]
        factors = {g: rng.uniform(0.9, 1.1, batch) for g in _BONE_GROUPS}
        clips = scale_bones(clips, factors) * rng.uniform(0.85, 1.15, batch)[:, None, None, None]
    rot, centre, k, sizes = random_cameras(rng, clips)
    cam = np.einsum("bij,bltj->blti", rot, clips - centre[:, None, None, :])
    cam[..., 2] = np.maximum(cam[..., 2], 0.1)
    uv = cam[..., :2] / cam[..., 2:] * k[:, None, None, :2] + k[:, None, None, 2:]
    kp = detector_2d(rng, uv, sizes, noise)
    norm = np.concatenate([(kp[..., :2] - k[:, None, None, 2:]) / k[:, None, None, :2],
                           kp[..., 2:]], axis=-1)
    targets = cam - cam[:, :, :1]
    return normalize_2d(norm), targets.astype(np.float32)
