"""BVH motion capture -> (frames, 17 lifter joints, 3) metres, y up, 30 fps.

Parsing and forward kinematics are vectorized over frames. Joints are found by name through a
small synonym table (CMU's two cgspeed conversions, Mixamo, suffix styles), so BVH files from
other sources load too; the table below is the only place that knows BVH joint names.

Units: BVH files are in arbitrary units (the CMU conversions are not in metres). Every take is
scaled so that its rest pose measures REST_ANKLE_TO_HEAD_M from the mean ankle joint to the head
joint: for an adult of about 1.70 m the ankle joints are ~8 cm above the floor and the BVH head
joint (skull base, about ear level) is ~17 cm below the top of the head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose_ros.skeleton import H36M17

REST_ANKLE_TO_HEAD_M = 1.45
TARGET_FPS = 30.0

# Our limb joints: BVH base names by preference (first match wins). "shoulder" comes after "arm"
# because Mixamo's LeftShoulder is the clavicle and LeftArm the shoulder joint, while CMU's
# LeftShoulder (with LeftCollar as clavicle) is the shoulder joint itself.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "hip": ("upleg", "upperleg", "thigh", "hip", "femur"),
    "knee": ("knee", "leg", "lowerleg", "shin", "calf", "tibia"),
    "ankle": ("ankle", "foot"),
    "shoulder": ("upperarm", "arm", "shldr", "humerus", "shoulder"),
    "elbow": ("forearm", "lowerarm", "elbow", "radius"),
    "wrist": ("wrist", "hand"),
}
HEAD_NAMES = ("head",)


@dataclass
class BvhSkeleton:
    names: list[str]
    parents: list[int]              # -1 for the root
    offsets: np.ndarray             # (J, 3)
    channels: list[list[str]]       # per joint, e.g. ["Xposition", ..., "Zrotation"]
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)  # joint -> end offset


@dataclass
class BvhMotion:
    skeleton: BvhSkeleton
    values: np.ndarray              # (F, total channels)
    frame_time_s: float


def parse_bvh(text: str) -> BvhMotion:
    """Parse BVH text (hierarchy + motion)."""
    tokens = text.split()
    names, parents, offsets, channels, end_sites = [], [], [], [], {}
    stack: list[int] = []
    i = 0
    in_end = False
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append([])
            i += 2
        elif tok == "End":
            in_end = True
            i += 2
        elif tok == "{":
            if not in_end:
                stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            if in_end:
                in_end = False
            else:
                stack.pop()
            i += 1
        elif tok == "OFFSET":
            value = np.array([float(t) for t in tokens[i + 1:i + 4]])
            if in_end:
                end_sites[len(names) - 1 if not stack else stack[-1]] = value
            else:
                offsets[-1] = value
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[-1] = tokens[i + 2:i + 2 + n]
            i += 2 + n
        else:
            i += 1
    frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    count = sum(len(c) for c in channels)
    data = np.array(tokens[i + 6:i + 6 + frames * count], dtype=np.float64)
    if data.size != frames * count:
        raise ValueError(f"BVH motion has {data.size} values, expected {frames} x {count}")
    skeleton = BvhSkeleton(names, parents, np.array(offsets), channels, end_sites)
    return BvhMotion(skeleton, data.reshape(frames, count), frame_time)


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """(F,) angles -> (F, 3, 3) rotations about x, y or z."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    rows = {
        "X": [[one, zero, zero], [zero, c, -s], [zero, s, c]],
        "Y": [[c, zero, s], [zero, one, zero], [-s, zero, c]],
        "Z": [[c, -s, zero], [s, c, zero], [zero, zero, one]],
    }[axis]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def forward_kinematics(motion: BvhMotion) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """World positions (F, J, 3) of every joint, and (F, 3) of each end site.

    Rotation channels compose in the order listed (R = R_first @ R_second @ ...); position
    channels are added to the joint's offset.
    """
    sk = motion.skeleton
    frames = len(motion.values)
    rotations = np.empty((frames, len(sk.names), 3, 3))
    positions = np.empty((frames, len(sk.names), 3))
    col = 0
    for j, chans in enumerate(sk.channels):
        local_r = np.broadcast_to(np.eye(3), (frames, 3, 3))
        local_t = np.broadcast_to(sk.offsets[j], (frames, 3)).copy()
        for name in chans:
            values = motion.values[:, col]
            col += 1
            if name.endswith("rotation"):
                local_r = local_r @ _axis_rotation(name[0].upper(), values)
            else:
                local_t[:, "XYZ".index(name[0].upper())] += values
        parent = sk.parents[j]
        if parent < 0:
            rotations[:, j], positions[:, j] = local_r, local_t
        else:
            rotations[:, j] = rotations[:, parent] @ local_r
            positions[:, j] = positions[:, parent] + np.einsum(
                "fij,fj->fi", rotations[:, parent], local_t)
    ends = {j: positions[:, j] + rotations[:, j] @ off for j, off in sk.end_sites.items()}
    return positions, ends


def _side_and_base(name: str) -> tuple[str | None, str]:
    """'mixamorig:LeftUpLeg' -> ('left', 'upleg'); 'UpperLeg_R' -> ('right', 'upperleg')."""
    n = name.split(":")[-1].lower()
    n = re.sub(r"[^a-z0-9_.]", "", n)
    for side, long, short in (("left", "left", "l"), ("right", "right", "r")):
        if n.startswith(long):
            return side, n[len(long):].strip("_.")
        for sep in ("_", "."):
            if n.startswith(short + sep):
                return side, n[2:]
            if n.endswith(sep + short):
                return side, n[:-2]
    if len(n) > 3 and n[0] in "lr" and n[1:] in {s for v in SYNONYMS.values() for s in v}:
        return ("left" if n[0] == "l" else "right"), n[1:]  # CMU/Poser style: lShldr, rThigh
    return None, n.strip("_.")


def joint_map(names: list[str]) -> dict[str, int]:
    """Our joint name ('left_hip', ..., 'head') -> BVH joint index; lists what is missing."""
    parsed = [_side_and_base(n) for n in names]
    found: dict[str, int] = {}
    for side in ("left", "right"):
        for ours, synonyms in SYNONYMS.items():
            for syn in synonyms:
                hits = [j for j, (s, b) in enumerate(parsed) if s == side and b == syn]
                if hits:
                    found[f"{side}_{ours}"] = hits[0]
                    break
    heads = [j for j, (s, b) in enumerate(parsed) if s is None and b in HEAD_NAMES]
    if heads:
        found["head"] = heads[0]
    required = [f"{s}_{j}" for s in ("left", "right") for j in SYNONYMS] + ["head"]
    missing = [r for r in required if r not in found]
    if missing:
        raise ValueError(f"BVH joints not found for {missing}; joints in the file: {names}")
    return found


def lifter_joints(positions: np.ndarray, found: dict[str, int]) -> np.ndarray:
    """(F, J_bvh, 3) -> (F, 17, 3) in H36M17 order, derived joints defined as for 2D input."""
    p = {name: positions[:, j] for name, j in found.items()}
    out = np.empty((len(positions), H36M17.num_keypoints, 3))
    for name in H36M17.keypoint_names:
        if name in p:
            out[:, H36M17.index(name)] = p[name]
    pelvis = (p["left_hip"] + p["right_hip"]) / 2
    thorax = (p["left_shoulder"] + p["right_shoulder"]) / 2
    out[:, H36M17.index("pelvis")] = pelvis
    out[:, H36M17.index("thorax")] = thorax
    out[:, H36M17.index("spine")] = (pelvis + thorax) / 2
    out[:, H36M17.index("neck")] = (thorax + p["head"]) / 2
    return out


def metres_per_unit(motion: BvhMotion, found: dict[str, int]) -> float:
    """Scale from the rest pose (all channels zero): ankle-to-head height = REST_ANKLE_TO_HEAD_M."""
    rest = BvhMotion(motion.skeleton, np.zeros((1, motion.values.shape[1])), 1.0)
    pos, _ = forward_kinematics(rest)
    ankles = (pos[0, found["left_ankle"]] + pos[0, found["right_ankle"]]) / 2
    height = np.linalg.norm(pos[0, found["head"]] - ankles)
    if not height > 0:
        raise ValueError("BVH rest pose has zero height: cannot derive its units")
    return REST_ANKLE_TO_HEAD_M / height


def resample(positions: np.ndarray, frame_time_s: float, fps: float = TARGET_FPS) -> np.ndarray:
    """Linear interpolation in time to `fps`."""
    duration = (len(positions) - 1) * frame_time_s
    t_new = np.arange(0.0, duration + 1e-9, 1.0 / fps)
    src = t_new / frame_time_s
    lo = np.clip(np.floor(src).astype(int), 0, len(positions) - 1)
    hi = np.clip(lo + 1, 0, len(positions) - 1)
    w = (src - lo)[:, None, None]
    return positions[lo] * (1 - w) + positions[hi] * w


def load_take(path: str | Path, fps: float = TARGET_FPS) -> np.ndarray:
    """A BVH file -> (frames, 17, 3) float32 metres, y up, at `fps`."""
    motion = parse_bvh(Path(path).read_text())
    found = joint_map(motion.skeleton.names)
    positions, _ = forward_kinematics(motion)
    joints = lifter_joints(positions, found) * metres_per_unit(motion, found)
    return resample(joints, motion.frame_time_s, fps).astype(np.float32)


def subject_of(path: str | Path) -> str:
    """CMU file name '35_01.bvh' -> subject '35'."""
    return Path(path).stem.split("_")[0]
