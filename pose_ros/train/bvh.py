"""BVH files by the format: parsing, forward kinematics and joint names (units: mocap.py).

Semantics followed (Biovision's BVH as written by MotionBuilder, cgspeed, Blender, iClone ...):
- a joint's local translation is its OFFSET, except along the axes it has position channels
  for: there the channel's value REPLACES the offset's component (root and any other joint;
  files that give every joint 6 channels carry each bone's length in its position channels);
- rotation channels compose in the order listed: R = R_first @ R_second @ ...;
- the zero pose (all channels 0) means nothing: it may lie along x, face anywhere, or be
  upside down; only the motion is used to infer units and the up axis.

Joints are found by name through a small synonym table (CMU's cgspeed and Daz-style
conversions, MotionBuilder/Mixamo, iClone CC_Base, suffix styles), so files from other sources
load too; this module is the only place that knows BVH joint names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.skeleton import H36M17

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
# Rig prefixes dropped before matching: "mixamorig:", "CC_Base_" (iClone), "Bip01 " (3ds Max).
_RIG_PREFIX = re.compile(r"^(.*:|cc_base_|bip0*1[ _]|def[-_]|jnt[-_])")


class BvhError(PoseRosError):
    """A BVH file that cannot be read or makes no plausible body (message names the file)."""


@dataclass
class BvhSkeleton:
    names: list[str]
    parents: list[int]              # -1 for the root
    offsets: np.ndarray             # (J, 3)
    channels: list[list[str]]       # per joint, e.g. ["Xposition", ..., "Zrotation"]
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)  # joint -> end offset

    def subtree(self, joint: int) -> list[int]:
        """`joint` and all its descendants."""
        out = [joint]
        for j in range(joint + 1, len(self.names)):
            if self.parents[j] in out:
                out.append(j)
        return out


@dataclass
class BvhMotion:
    skeleton: BvhSkeleton
    values: np.ndarray              # (F, total channels)
    frame_time_s: float


def parse_bvh(text: str) -> BvhMotion:
    """Parse BVH text (hierarchy + motion); ValueError names what is malformed."""
    tokens = text.split()
    if not tokens or tokens[0] != "HIERARCHY":
        raise ValueError("not a BVH file (it does not start with HIERARCHY)")
    names, parents, offsets, channels, end_sites = [], [], [], [], {}
    stack: list[int] = []
    i = 0
    in_end = False
    try:
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
                    end_sites[stack[-1]] = value
                else:
                    offsets[-1] = value
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                channels[-1] = tokens[i + 2:i + 2 + n]
                i += 2 + n
            else:
                i += 1
        if tokens[i + 1] != "Frames:" or tokens[i + 3:i + 5] != ["Frame", "Time:"]:
            raise ValueError("MOTION must be followed by 'Frames: N' and 'Frame Time: T'")
        frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
    except IndexError:
        raise ValueError("the file ends inside the HIERARCHY (no MOTION section)") from None
    if not names:
        raise ValueError("no ROOT joint in the HIERARCHY")
    if frames < 1 or not frame_time > 0:
        raise ValueError(f"{frames} frames of {frame_time} s: no motion to read")
    count = sum(len(c) for c in channels)
    try:
        data = np.array(tokens[i + 6:i + 6 + frames * count], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"MOTION has a value that is not a number ({exc})") from None
    if data.size != frames * count:
        raise ValueError(f"MOTION has {data.size} values, expected {frames} frames x {count} "
                         "channels (a truncated file?)")
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
    """World positions (F, J, 3) of every joint, and (F, 3) of each end site (file units).

    A position channel replaces the offset's component on its axis (see the module docstring);
    rotation channels compose in the order listed.
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
            axis = name[0].upper()
            if name[1:].lower() == "rotation" and axis in "XYZ":
                local_r = local_r @ _axis_rotation(axis, values)
            elif name[1:].lower() == "position" and axis in "XYZ":
                local_t[:, "XYZ".index(axis)] = values
            else:
                raise ValueError(f"unknown channel {name!r} of joint {sk.names[j]}")
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
    """'mixamorig:LeftUpLeg' -> ('left', 'upleg'); 'UpperLeg_R' -> ('right', 'upperleg');
    'CC_Base_L_Thigh' -> ('left', 'thigh')."""
    n = _RIG_PREFIX.sub("", name.lower())
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
        raise ValueError(f"joints not found for {missing}; joints in the file: {names}")
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


def foot_points(motion: BvhMotion, positions: np.ndarray, ends: dict[int, np.ndarray],
                found: dict[str, int]) -> np.ndarray:
    """(F, P, 3): every joint and end site at or below the ankles (toes, heels): the floor."""
    sk = motion.skeleton
    joints = [j for side in ("left", "right") for j in sk.subtree(found[f"{side}_ankle"])]
    points = [positions[:, joints]] + [ends[j][:, None] for j in joints if j in ends]
    return np.concatenate(points, axis=1)
