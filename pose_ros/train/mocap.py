"""A BVH take -> the lifter's 17 joints in metres, y up, 30 fps; units read from the motion.

BVH has no unit field. The units are inferred from the body in motion, never from the zero pose:
1. the up axis is the axis along which the head stands above the ankles on average;
2. "upright" frames are those whose trunk is within 20 degrees of the up axis and whose legs are
   nearly straight; the standing height of the head joint above the floor (the lowest point of
   the feet: ankles, toes, end sites) is the 90th percentile over those frames (over all frames
   when fewer than 10 are upright);
3. stature = head-joint height / HEAD_JOINT_STATURE_RATIO: the BVH head joint sits at the
   skull base, about 90 % of stature (anthropometric mastoid height; the rigs here put it at
   88-94 %: the Daz figure's eye end sites, the cgspeed files' top-of-head end sites), so
   statures are estimates to a few per cent;
4. the unit is the one of UNITS_M that makes the stature plausible (1.3-2.1 m); their ratios are
   all above 2.1 / 1.3, so at most one fits. `units=` overrides the choice.
A take whose stature is implausible in the inferred (or given) unit is refused with one line
naming the file and the implied height: a broken file, or one read wrongly, never trains or
scores anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pose_ros.skeleton import H36M17
from pose_ros.train.bvh import (
    BvhError,
    BvhMotion,
    foot_points,
    forward_kinematics,
    joint_map,
    lifter_joints,
    parse_bvh,
)

TARGET_FPS = 30.0
# Metres per file unit. "cmu": the CMU ASF/AMC unit, (1 / 0.45) inch (mocap.cs.cmu.edu FAQ),
# kept by the cgspeed BVH conversions.
UNITS_M = {"mm": 0.001, "cm": 0.01, "inch": 0.0254, "cmu": 0.0254 / 0.45, "ft": 0.3048,
           "m": 1.0}
PLAUSIBLE_STATURE_M = (1.3, 2.1)
HEAD_JOINT_STATURE_RATIO = 0.90
UPRIGHT_TRUNK_DEG = 20.0
_IDX = H36M17.index


@dataclass(frozen=True)
class Body:
    """Measurements of one take's body, metres (medians over frames unless said)."""

    stature_m: float             # standing height estimate (see module docstring)
    head_height_m: float         # head joint above the floor, standing
    shoulder_width_m: float      # between the shoulder joints
    hip_width_m: float           # between the hip joint centres
    thigh_m: float               # hip to knee
    shin_m: float                # knee to ankle
    upright_frames: int


@dataclass(frozen=True)
class Take:
    """One BVH take read to metres: joints (F, 17, 3) y up at `fps`, and how it was read."""

    name: str
    joints_m: np.ndarray
    fps: float
    units: str | float             # a name of UNITS_M, or metres per unit as given
    metres_per_unit: float
    up_axis: str
    body: Body


def _up_rotation(up: np.ndarray) -> np.ndarray:
    """A proper rotation (rows: new x, y, z) that takes the unit axis `up` to +y."""
    x = np.array([0.0, 0.0, 1.0]) if abs(up[0]) > 0.5 else np.array([1.0, 0.0, 0.0])
    return np.stack([x, up, np.cross(x, up)])


def up_axis(joints: np.ndarray) -> np.ndarray:
    """(F, 17, 3) -> the signed coordinate axis (3,) along which the head is above the ankles."""
    ankles = (joints[:, _IDX("left_ankle")] + joints[:, _IDX("right_ankle")]) / 2
    v = joints[:, _IDX("head")] - ankles
    v = v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-12)
    mean = v.mean(0)
    axis = np.zeros(3)
    k = int(np.argmax(np.abs(mean)))
    axis[k] = np.sign(mean[k]) or 1.0
    return axis


def measure_body(joints: np.ndarray, floor_y: np.ndarray) -> Body:
    """(F, 17, 3) y-up joints (any unit) + (F,) floor height per frame -> Body (same unit)."""
    def length(a: str, b: str) -> np.ndarray:
        return np.linalg.norm(joints[:, _IDX(a)] - joints[:, _IDX(b)], axis=-1)

    thigh = (length("left_hip", "left_knee") + length("right_hip", "right_knee")) / 2
    shin = (length("left_knee", "left_ankle") + length("right_knee", "right_ankle")) / 2
    trunk = joints[:, _IDX("thorax")] - joints[:, _IDX("pelvis")]
    trunk_up = trunk[:, 1] / (np.linalg.norm(trunk, axis=-1) + 1e-12)
    legs_straight = np.ones(len(joints), bool)
    for side in ("left", "right"):
        reach = length(f"{side}_hip", f"{side}_ankle")
        legs_straight &= reach > 0.95 * (length(f"{side}_hip", f"{side}_knee")
                                         + length(f"{side}_knee", f"{side}_ankle"))
    upright = (trunk_up > np.cos(np.radians(UPRIGHT_TRUNK_DEG))) & legs_straight
    head = joints[:, _IDX("head"), 1] - floor_y
    head_height = float(np.percentile(head[upright] if upright.sum() >= 10 else head, 90))
    return Body(
        stature_m=head_height / HEAD_JOINT_STATURE_RATIO,
        head_height_m=head_height,
        shoulder_width_m=float(np.median(length("left_shoulder", "right_shoulder"))),
        hip_width_m=float(np.median(length("left_hip", "right_hip"))),
        thigh_m=float(np.median(thigh)), shin_m=float(np.median(shin)),
        upright_frames=int(upright.sum()))


def _scaled(body: Body, k: float) -> Body:
    return Body(*(v * k for v in (body.stature_m, body.head_height_m, body.shoulder_width_m,
                                  body.hip_width_m, body.thigh_m, body.shin_m)),
                upright_frames=body.upright_frames)


def choose_units(stature_units: float) -> str | None:
    """The unit of UNITS_M that makes this stature plausible, or None."""
    lo, hi = PLAUSIBLE_STATURE_M
    fits = [u for u, k in UNITS_M.items() if lo <= stature_units * k <= hi]
    return fits[0] if fits else None


def resample(positions: np.ndarray, frame_time_s: float, fps: float = TARGET_FPS) -> np.ndarray:
    """Linear interpolation in time to `fps`."""
    duration = (len(positions) - 1) * frame_time_s
    t_new = np.arange(0.0, duration + 1e-4 / fps, 1.0 / fps)
    src = t_new / frame_time_s
    lo = np.clip(np.floor(src).astype(int), 0, len(positions) - 1)
    hi = np.clip(lo + 1, 0, len(positions) - 1)
    w = (src - lo)[:, None, None]
    return positions[lo] * (1 - w) + positions[hi] * w


def take_from_motion(motion: BvhMotion, name: str, units: str | float | None = None,
                     fps: float = TARGET_FPS) -> Take:
    """Forward kinematics, up axis, units, plausibility check, resampling (see module doc)."""
    try:
        found = joint_map(motion.skeleton.names)
        positions, ends = forward_kinematics(motion)
    except ValueError as exc:
        raise BvhError(f"{name}: {exc}") from None
    joints = lifter_joints(positions, found)
    feet = foot_points(motion, positions, ends, found)
    up = up_axis(joints)
    rot = _up_rotation(up)
    joints = joints @ rot.T
    floor_y = (feet @ rot.T)[..., 1].min(axis=1)
    body_units = measure_body(joints, floor_y)
    if units is None:
        units = choose_units(body_units.stature_m)
        if units is None:
            guess = min(UNITS_M, key=lambda u: abs(np.log(body_units.stature_m * UNITS_M[u]
                                                          / 1.7)))
            raise BvhError(
                f"{name}: implausible body: standing height {body_units.stature_m:.4g} file "
                f"units is {body_units.stature_m * UNITS_M[guess]:.2f} m in the nearest unit "
                f"({guess}), outside {PLAUSIBLE_STATURE_M[0]}-{PLAUSIBLE_STATURE_M[1]} m; if "
                f"the file is right, give its unit (--units {'|'.join(UNITS_M)})")
    elif isinstance(units, (int, float)):
        units = float(units)
    elif units not in UNITS_M:
        raise BvhError(f"unknown unit {units!r}: use one of {', '.join(UNITS_M)} or a number")
    k = units if isinstance(units, float) else UNITS_M[units]
    body = _scaled(body_units, k)
    lo, hi = PLAUSIBLE_STATURE_M
    if not lo <= body.stature_m <= hi:
        raise BvhError(f"{name}: implausible body in {units}: standing height "
                       f"{body.stature_m:.2f} m, outside {lo}-{hi} m; check --units")
    axis_name = ("+" if up.sum() > 0 else "-") + "xyz"[int(np.argmax(np.abs(up)))]
    joints_m = resample(joints * k, motion.frame_time_s, fps).astype(np.float32)
    return Take(name, joints_m, fps, units, k, axis_name, body)


def read_take(path: str | Path, units: str | float | None = None, fps: float = TARGET_FPS) -> Take:
    """A BVH file -> Take; every problem is a BvhError naming the file."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise BvhError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        motion = parse_bvh(text)
    except ValueError as exc:
        raise BvhError(f"{path}: {exc}") from None
    return take_from_motion(motion, str(path), units, fps)


def load_take(path: str | Path, units: str | float | None = None,
              fps: float = TARGET_FPS) -> np.ndarray:
    """A BVH file -> (frames, 17, 3) float32 metres, y up, at `fps`."""
    return read_take(path, units, fps).joints_m
