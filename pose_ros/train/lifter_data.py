"""Lifter training and evaluation data: mocap clips seen through virtual cameras.

A training sample is a clip of L frames of one take (metres, y up). With augmentation it gets
(pose_aug.py) a mirror image, a new body, a BlazePose-like keypoint definition, postures and
mixed motions; then a random camera (CameraModel) sees it; the 2D keypoints get a detector's
errors (NoiseModel); for the fused lifter, world landmarks are simulated (world_sim.py).
Derived joints (pelvis, thorax, spine, neck) of the 2D are recomputed from the noisy joints as
at run time (skeleton.lifter_inputs_from_coco17). Targets: the clip's 3D in the camera frame,
pelvis-relative, with the same keypoint definition as the 2D.

Evaluation renders fixed windows of whole takes (`render`, no augmentation) through
ROBOT_CAMERAS, which no training choice is tuned on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pose_ros.models.lifter import normalize_2d
from pose_ros.skeleton import H36M17
from pose_ros.train import pose_aug, world_sim

J = H36M17.num_keypoints
_IDX = H36M17.index
IMAGE_SIZES = np.array([(640, 480), (848, 480), (1280, 720), (1280, 800), (1920, 1080),
                        (720, 1280), (1080, 1920)])
ANKLE_ABOVE_FLOOR_M = 0.08


@dataclass(frozen=True)
class CameraModel:
    """Virtual cameras: field of view, height above the floor, distance to the person, aim.

    The aim is at the person's pelvis, then moved by up to `off_centre` of the field of view
    (so people appear anywhere, partly out of view at times), pitch clipped to +-pitch_limit.
    """

    hfov_deg: tuple = (30.0, 110.0)
    height_m: tuple = (0.2, 3.2)         # a table-top robot to a ceiling mount
    distance_m: tuple = (1.2, 9.0)
    pitch_limit_deg: float = 70.0
    roll_deg: float = 8.0
    off_centre: float = 0.4
    portrait: bool = True                # phone-style portrait images too


TRAIN_CAMERAS = CameraModel()
# The evaluation protocol's cameras (validation, test, eval-lifter): robot-like, fixed.
ROBOT_CAMERAS = CameraModel(hfov_deg=(45.0, 100.0), height_m=(0.4, 2.5), distance_m=(1.5, 7.0),
                            pitch_limit_deg=40.0, roll_deg=5.0, off_centre=0.3, portrait=False)


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


@dataclass(frozen=True)
class Augmentation:
    """What training varies (all per clip); `None` in make_batch means none of it."""

    mirror: float = 0.5
    body: pose_aug.BodyModel = field(default_factory=pose_aug.BodyModel)
    definition: bool = True
    posture: pose_aug.PostureModel = field(default_factory=pose_aug.PostureModel)
    mix: float = 0.2


def clip_windows(take: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(F, 17, 3) take -> (B, length, 17, 3) clips; frames outside the take repeat its ends."""
    idx = np.clip(starts[:, None] + np.arange(length)[None, :], 0, len(take) - 1)
    return take[idx]


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


def random_cameras(rng: np.random.Generator, joints: np.ndarray, model: CameraModel):
    """Cameras for (B, L, 17, 3) world clips -> (R (B,3,3), C (B,3), K (B,4) fx fy cx cy, sizes)."""
    b = len(joints)
    ref = joints[:, joints.shape[1] // 2, _IDX("pelvis")]
    floor = joints[:, :, [_IDX("left_ankle"), _IDX("right_ankle")], 1].min(axis=(1, 2))
    floor = floor - ANKLE_ABOVE_FLOOR_M
    yaw = rng.uniform(0, 2 * np.pi, b)
    dist = rng.uniform(*model.distance_m, b)
    height = rng.uniform(*model.height_m, b)
    centre = np.stack([ref[:, 0] + dist * np.sin(yaw), floor + height,
                       ref[:, 2] + dist * np.cos(yaw)], axis=1)
    n_sizes = len(IMAGE_SIZES) if model.portrait else 5
    sizes = IMAGE_SIZES[rng.integers(0, n_sizes, b)].astype(np.float64)
    hfov = np.radians(rng.uniform(*model.hfov_deg, b))
    f = sizes[:, 0] / 2 / np.tan(hfov / 2)
    vfov = 2 * np.arctan(sizes[:, 1] / 2 / f)
    to_person = ref - centre
    pan = (np.arctan2(to_person[:, 0], to_person[:, 2])
           + rng.uniform(-model.off_centre, model.off_centre, b) * hfov)
    pitch = np.arctan2(to_person[:, 1], np.hypot(to_person[:, 0], to_person[:, 2]))
    limit = np.radians(model.pitch_limit_deg)
    pitch = np.clip(pitch + rng.uniform(-model.off_centre, model.off_centre, b) * vfov,
                    -limit, limit)
    forward = np.stack([np.sin(pan) * np.cos(pitch), np.sin(pitch),
                        np.cos(pan) * np.cos(pitch)], axis=1)
    roll = np.radians(rng.uniform(-model.roll_deg, model.roll_deg, b))
    rot = _look_rotation(forward, roll)
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


def render(rng: np.random.Generator, clips: np.ndarray, noise: NoiseModel,
           cameras: CameraModel, world: world_sim.WorldNoise | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """(B, L, 17, 3) world clips -> (inputs (B, L, 17, 3 or 6) float32, targets (B, L, 17, 3)
    float32 pelvis-relative camera metres); world landmarks appended when `world` is given."""
    rot, centre, k, sizes = random_cameras(rng, clips, cameras)
    cam = (clips - centre[:, None, None, :]) @ np.swapaxes(rot, -1, -2)[:, None]
    cam[..., 2] = np.maximum(cam[..., 2], 0.1)
    uv = cam[..., :2] / cam[..., 2:] * k[:, None, None, :2] + k[:, None, None, 2:]
    kp = detector_2d(rng, uv, sizes, noise)
    norm = np.concatenate([(kp[..., :2] - k[:, None, None, 2:]) / k[:, None, None, :2],
                           kp[..., 2:]], axis=-1)
    inputs = normalize_2d(norm)
    if world is not None:
        from pose_ros.models.lifter import normalize_world

        height_px = uv[..., 1].max(-1) - uv[..., 1].min(-1)
        ray_world = world_sim.simulate(rng, cam, height_px, world)
        inputs = np.concatenate([inputs, normalize_world(ray_world, norm[..., 0, :2])], axis=-1)
    targets = cam - cam[:, :, :1]
    return inputs, targets.astype(np.float32)


def sample_clips(rng: np.random.Generator, takes: list[np.ndarray], batch: int,
                 length: int) -> np.ndarray:
    """(B, length, 17, 3) clips, takes drawn in proportion to their length."""
    lengths = np.array([len(t) for t in takes], dtype=np.float64)
    which = rng.choice(len(takes), size=batch, p=lengths / lengths.sum())
    clips = np.empty((batch, length, J, 3))
    for i in np.unique(which):
        sel = np.flatnonzero(which == i)
        starts = rng.integers(-length // 2, max(len(takes[i]) - length, 0) + 1, len(sel))
        clips[sel] = clip_windows(takes[i], starts, length)
    return clips


def make_batch(rng: np.random.Generator, takes: list[np.ndarray], batch: int, length: int,
               noise: NoiseModel, augment: Augmentation | None = Augmentation(),
               cameras: CameraModel = TRAIN_CAMERAS,
               world: world_sim.WorldNoise | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A training batch: (inputs (B, L, 17, 3 or 6), targets (B, L, 17, 3)), float32."""
    clips = sample_clips(rng, takes, batch, length)
    if augment is not None:
        mirror = rng.random(batch) < augment.mirror
        clips[mirror] = clips[mirror][:, :, H36M17.flip_permutation()] * [-1, 1, 1]
        if augment.mix > 0 or augment.posture.posture > 0 or augment.posture.jitter > 0:
            partners = sample_clips(rng, takes, batch, length)
            clips = pose_aug.augment_pose(rng, clips, partners, augment.posture, augment.mix)
        clips = pose_aug.retarget(rng, clips, augment.body)
        if augment.definition:
            clips = pose_aug.keypoint_definition(rng, clips)
    return render(rng, clips, noise, cameras, world)
