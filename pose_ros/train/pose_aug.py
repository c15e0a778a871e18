"""Variety for lifter training: new bodies, new postures and mixed motions from mocap clips.

All functions take clips (B, L, 17, 3): metres, y up, skeleton.H36M17 order, and return new
clips; parameters are drawn per clip and held over its frames, so motion stays smooth.

- Bodies (`retarget`): every bone is set to a length drawn per clip (BodyModel), directions
  kept. The ranges are relative to the thigh and span the joint definitions met in practice:
  CMU's cgspeed skeletons (trunk / thigh 1.0, shoulders / thigh 0.92, shin / thigh 1.06), the
  Daz figure of the other CMU conversion (1.28, 0.62, 1.23), iClone's (1.02, 0.77, 1.05) and
  BlazePose's world landmarks on real video (1.29, 0.80, 0.92; tools/measure_blazepose_world.py).
- Keypoint definition (`keypoint_definition`): BlazePose's hip points sit about 5 cm below mocap
  hip joint centres (its trunk is 1.29 thighs long against 1.0 for the same people's mocap
  skeletons, measured as above). A per-clip fraction of that drop (and a little widening) is
  applied. The targets get the same points as the 2D input: the lifter's 3D follows the 2D
  keypoints' own definition, so it projects back onto them.
- Postures (`posture`): joint-rotation changes about anatomical axes of the body's own frame
  (hip and shoulder flexion, abduction, knee and elbow flexion, trunk flexion), clamped to
  anatomical limits per frame; modes that make sitting, crouching, kneeling, bending and reaching
  from any take, plus small random changes of every joint. The clip's own motion of a changed
  limb can be damped toward its mean, so a walk becomes a seated fidget, not a seated walk.
- Mixing (`mix_upper_lower`): the upper body of one clip on the lower body of another, placed in
  the pelvis heading frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_ros.skeleton import H36M17

_I = H36M17.index
UPPER = np.array([_I(n) for n in ("spine", "thorax", "neck", "head", "left_shoulder",
                                  "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
                                  "right_wrist")])
# (parent, child, group) in an order where parents come first; spine and neck are midpoints.
_BONES = [("pelvis", "left_hip", "hip"), ("pelvis", "right_hip", "hip"),
          ("left_hip", "left_knee", "thigh"), ("right_hip", "right_knee", "thigh"),
          ("left_knee", "left_ankle", "shin"), ("right_knee", "right_ankle", "shin"),
          ("pelvis", "thorax", "trunk"), ("thorax", "head", "head"),
          ("thorax", "left_shoulder", "shoulder"), ("thorax", "right_shoulder", "shoulder"),
          ("left_shoulder", "left_elbow", "upper_arm"),
          ("right_shoulder", "right_elbow", "upper_arm"),
          ("left_elbow", "left_wrist", "forearm"), ("right_elbow", "right_wrist", "forearm")]


@dataclass(frozen=True)
class BodyModel:
    """Per-clip bone lengths: thigh (m) ~ N(mean, std), the rest as thigh x U(lo, hi)."""

    thigh_mean_m: float = 0.42
    thigh_std_m: float = 0.03
    ratios: tuple = (("hip", 0.19, 0.32), ("shin", 0.88, 1.22), ("trunk", 0.92, 1.35),
                     ("head", 0.27, 0.42), ("shoulder", 0.30, 0.48), ("upper_arm", 0.52, 0.80),
                     ("forearm", 0.46, 0.66))
    asymmetry: float = 0.02      # left/right std, fraction
    keep_own: float = 0.2        # fraction of clips that keep the take's own proportions


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-9)


def rodrigues(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(..., 3) unit axes, (...) radians -> (..., 3, 3) rotations."""
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1),
                  np.stack([-y, x, zero], -1)], -2)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * k @ k


def rotate_about(j: np.ndarray, moved: list[int] | np.ndarray, centre: int, axis: np.ndarray,
                 angle: np.ndarray) -> None:
    """In place: joints `moved` of (B, L, 17, 3) turn by angle (B, L) about the unit axis
    (B, L, 3) through joint `centre` (Rodrigues' formula on the vectors)."""
    c = j[:, :, centre:centre + 1]
    v = j[:, :, moved] - c
    k = np.broadcast_to(axis, v.shape[:2] + (3,))[:, :, None, :]
    cos, sin = np.cos(angle)[..., None, None], np.sin(angle)[..., None, None]
    dot = (k * v).sum(-1, keepdims=True)
    j[:, :, moved] = c + v * cos + np.cross(k, v) * sin + k * dot * (1 - cos)


def heading_frame(j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lateral to the left, up, forward) unit vectors (B, L, 3) of the pelvis, up = world y
    made perpendicular to the hip line."""
    lateral = _unit(j[:, :, _I("left_hip")] - j[:, :, _I("right_hip")])
    up = np.array([0.0, 1.0, 0.0]) - lateral * lateral[..., 1:2]
    up = _unit(up)
    return lateral, up, np.cross(lateral, up)


def trunk_frame(j: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lateral, up along pelvis->thorax, forward) unit vectors (B, L, 3)."""
    lateral = _unit(j[:, :, _I("left_hip")] - j[:, :, _I("right_hip")])
    up = j[:, :, _I("thorax")] - j[:, :, _I("pelvis")]
    up = _unit(up - lateral * (up * lateral).sum(-1, keepdims=True))
    return lateral, up, np.cross(lateral, up)


def _sagittal(v: np.ndarray, up: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """Angle of v in the sagittal plane from straight down, forward positive (B, L)."""
    return np.arctan2((v * fwd).sum(-1), -(v * up).sum(-1))


def _midpoints(j: np.ndarray) -> np.ndarray:
    j[:, :, _I("spine")] = (j[:, :, _I("pelvis")] + j[:, :, _I("thorax")]) / 2
    j[:, :, _I("neck")] = (j[:, :, _I("thorax")] + j[:, :, _I("head")]) / 2
    return j


def sample_bones(rng: np.random.Generator, batch: int, body: BodyModel) -> dict[str, np.ndarray]:
    """group -> (B, 2) lengths in metres (left, right; centre groups use column 0)."""
    thigh = np.clip(rng.normal(body.thigh_mean_m, body.thigh_std_m, batch), 0.34, 0.52)
    out = {"thigh": thigh}
    for name, lo, hi in body.ratios:
        out[name] = thigh * rng.uniform(lo, hi, batch)
    return {k: v[:, None] * (1 + rng.normal(0, body.asymmetry, (batch, 2)))
            for k, v in out.items()}


def retarget(rng: np.random.Generator, clips: np.ndarray, body: BodyModel) -> np.ndarray:
    """Bones set to lengths drawn per clip (directions kept); some clips keep their own."""
    lengths = sample_bones(rng, len(clips), body)
    out = clips.copy()
    for parent, child, group in _BONES:
        side = 1 if child.startswith("right") else 0
        d = _unit(clips[:, :, _I(child)] - clips[:, :, _I(parent)])
        out[:, :, _I(child)] = out[:, :, _I(parent)] + d * lengths[group][:, side, None, None]
    out = _midpoints(out)
    keep = rng.random(len(clips)) < body.keep_own
    out[keep] = clips[keep]
    return out


def keypoint_definition(rng: np.random.Generator, clips: np.ndarray,
                        hip_drop_m: float = 0.05, hip_widen_m: float = 0.02) -> np.ndarray:
    """Hip points moved toward BlazePose's definition by a per-clip fraction (0-1.3) of the
    measured drop, plus up to hip_widen_m outward; pelvis and spine follow."""
    j = clips.copy()
    lateral, up, _ = heading_frame(j)
    drop = rng.uniform(0, 1.3, len(j))[:, None, None] * hip_drop_m
    widen = rng.uniform(-0.5, 1, len(j))[:, None, None] * hip_widen_m
    j[:, :, _I("left_hip")] += -up * drop + lateral * widen
    j[:, :, _I("right_hip")] += -up * drop - lateral * widen
    j[:, :, _I("pelvis")] = (j[:, :, _I("left_hip")] + j[:, :, _I("right_hip")]) / 2
    return _midpoints(j)


def mix_upper_lower(upper_from: np.ndarray, lower_from: np.ndarray) -> np.ndarray:
    """Upper body of `upper_from` on the pelvis and legs of `lower_from` (same shapes)."""
    out = lower_from.copy()
    frames = [np.stack(f, -1) for f in (heading_frame(upper_from), heading_frame(lower_from))]
    pelvis = _I("pelvis")
    rel = (upper_from[:, :, UPPER] - upper_from[:, :, pelvis:pelvis + 1]) @ frames[0]
    out[:, :, UPPER] = lower_from[:, :, pelvis:pelvis + 1] + rel @ np.swapaxes(frames[1], -1, -2)
    return out


@dataclass(frozen=True)
class PostureModel:
    """How often clips get postures and small changes (fractions of clips)."""

    posture: float = 0.35        # one of sit / crouch / kneel / bend / reach
    jitter: float = 0.5          # small random changes of every joint (std jitter_deg)
    jitter_deg: float = 12.0


# mode -> (hip flexion, knee flexion, trunk flexion, shoulder flexion, elbow flexion) ranges in
# degrees added to the clip's own angles, and the damping of the changed limbs' own motion.
MODES = {
    "sit": ((60, 100), (60, 100), (-10, 30), (0, 0), (0, 0), (0.1, 0.5)),
    "crouch": ((70, 115), (90, 140), (10, 45), (0, 40), (0, 30), (0.2, 0.6)),
    "kneel": ((-10, 20), (80, 110), (-10, 30), (0, 0), (0, 0), (0.1, 0.5)),
    "bend": ((0, 20), (0, 35), (30, 90), (0, 60), (0, 0), (0.5, 1.0)),
    "reach": ((0, 10), (0, 20), (0, 35), (40, 150), (-60, 0), (0.6, 1.0)),
}
# hip: thigh from straight down in the trunk's sagittal plane; trunk: pelvis->thorax from upright
# (heading frame); thigh_trunk: their sum, so a folded trunk cannot pass through the thighs;
# abduction: upper arm out of the sagittal plane (arcsin, so defined for any arm direction).
LIMITS_DEG = {"hip": (-30, 125), "knee": (0, 150), "trunk": (-25, 95), "thigh_trunk": (-60, 165),
              "shoulder": (-50, 170), "abduction": (-30, 90), "elbow": (0, 150)}


def _target(rng, angle, delta, damping, lo, hi):
    mean = angle.mean(axis=1, keepdims=True)
    return np.clip(mean + damping[:, None] * (angle - mean) + delta[:, None],
                   np.radians(lo), np.radians(hi))


def posture(rng: np.random.Generator, clips: np.ndarray, model: PostureModel) -> np.ndarray:
    """Postures and small joint changes in rotation space, within LIMITS_DEG (module doc)."""
    b = len(clips)
    j = clips.copy()
    deg = np.radians
    mode = rng.integers(0, len(MODES), b)
    use = rng.random(b) < model.posture
    jit = (rng.random(b) < model.jitter)[:, None] * deg(model.jitter_deg)
    params = np.zeros((b, 5))
    damping = np.ones(b)
    for m, (*ranges, damp) in enumerate(MODES.values()):
        sel = use & (mode == m)
        for k, (lo, hi) in enumerate(ranges):
            params[sel, k] = deg(rng.uniform(lo, hi, sel.sum()))
        damping[sel] = rng.uniform(*damp, sel.sum())

    def delta(k: int) -> np.ndarray:  # per side a little different, plus jitter
        return params[:, k] * rng.uniform(0.85, 1.0, b) + rng.normal(0, 1, b) * jit[:, 0]

    lateral, up, fwd = trunk_frame(j)
    for side in ("left", "right"):
        hip, knee, ankle = (_I(f"{side}_{n}") for n in ("hip", "knee", "ankle"))
        cur = _sagittal(j[:, :, knee] - j[:, :, hip], up, fwd)
        new = _target(rng, cur, delta(0), damping, *LIMITS_DEG["hip"])
        rotate_about(j, [knee, ankle], hip, -lateral, new - cur)
        thigh = _sagittal(j[:, :, knee] - j[:, :, hip], up, fwd)
        cur = thigh - _sagittal(j[:, :, ankle] - j[:, :, knee], up, fwd)
        cur = np.arctan2(np.sin(cur), np.cos(cur))
        new = _target(rng, cur, delta(1), damping, *LIMITS_DEG["knee"])
        rotate_about(j, [ankle], knee, lateral, new - cur)
    # trunk flexion about the pelvis (the heading frame stays: the hips do not move)
    h_lat, h_up, h_fwd = heading_frame(j)
    trunk = j[:, :, _I("thorax")] - j[:, :, _I("pelvis")]
    cur = np.arctan2((trunk * h_fwd).sum(-1), (trunk * h_up).sum(-1))
    thigh = np.max([_sagittal(j[:, :, _I(f"{s}_knee")] - j[:, :, _I(f"{s}_hip")], h_up, h_fwd)
                    for s in ("left", "right")], axis=0)
    folded = np.maximum(cur, deg(LIMITS_DEG["thigh_trunk"][1]) - thigh)  # the take's own stays
    new = np.clip(cur + delta(2)[:, None], deg(LIMITS_DEG["trunk"][0]),
                  np.minimum(deg(LIMITS_DEG["trunk"][1]), folded))
    rotate_about(j, UPPER, _I("pelvis"), h_lat, new - cur)
    lateral, up, fwd = trunk_frame(j)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        sh, el, wr = (_I(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist"))
        cur = _sagittal(j[:, :, el] - j[:, :, sh], up, fwd)
        new = _target(rng, cur, delta(3), damping, *LIMITS_DEG["shoulder"])
        rotate_about(j, [el, wr], sh, -lateral, new - cur)
        # abduction: turn the upper arm toward (or away from) its side, in the plane of the arm
        # and the lateral axis; a take's own angle outside the limits is kept, not clamped
        arm = _unit(j[:, :, el] - j[:, :, sh])
        side_dir = sign * lateral
        cur = np.arcsin(np.clip((arm * side_dir).sum(-1), -1, 1))
        axis = np.cross(arm, side_dir)
        along = np.linalg.norm(axis, axis=-1, keepdims=True) < 1e-6
        axis = _unit(np.where(along, fwd, axis))
        lo, hi = deg(LIMITS_DEG["abduction"])
        add = rng.normal(0, 1, b) * jit[:, 0]
        new = np.clip(cur + add[:, None], np.minimum(lo, cur), np.maximum(hi, cur))
        rotate_about(j, [el, wr], sh, axis, new - cur)
        upper, fore = j[:, :, el] - j[:, :, sh], j[:, :, wr] - j[:, :, el]
        axis = np.cross(upper, fore)
        straight = np.linalg.norm(axis, axis=-1, keepdims=True) < 1e-6
        axis = _unit(np.where(straight, -lateral, axis))
        cur = np.arccos(np.clip((_unit(upper) * _unit(fore)).sum(-1), -1, 1))
        new = _target(rng, cur, delta(4), damping, *LIMITS_DEG["elbow"])
        rotate_about(j, [wr], el, axis, new - cur)
    head_axis = _unit(rng.normal(size=(b, 1, 3)) + 0 * lateral)
    rotate_about(j, [_I("head")], _I("thorax"), head_axis,
                 np.broadcast_to(rng.normal(0, 1, (b, 1)) * jit * 0.8, head_axis.shape[:2]))
    return _midpoints(j)


def augment_pose(rng: np.random.Generator, clips: np.ndarray, partners: np.ndarray,
                 model: PostureModel, mix: float = 0.2) -> np.ndarray:
    """Mixing (a fraction `mix` of clips take their upper body from `partners`), then posture."""
    out = clips.copy()
    sel = rng.random(len(clips)) < mix
    if sel.any():
        out[sel] = mix_upper_lower(partners[sel], clips[sel])
    return posture(rng, out, model)
