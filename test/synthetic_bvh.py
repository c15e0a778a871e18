"""Small BVH files written by the tests: one body and motion in many encodings of the format.

The body is known in metres; `write` encodes it in a unit, with 3- or 6-channel joints, a zero
pose lying along x, z up, or a T-pose first frame; `expected` gives what a correct reader must
return (world positions of every joint in metres, y up).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.spatial.transform import Rotation

# name, parent, offset (metres, y up, upright zero pose facing +z; left = +x)
JOINTS = [
    ("Hips", -1, (0.0, 0.95, 0.0)),
    ("LeftUpLeg", 0, (0.09, -0.06, 0.0)), ("LeftLeg", 1, (0.0, -0.43, 0.0)),
    ("LeftFoot", 2, (0.0, -0.42, 0.0)),
    ("RightUpLeg", 0, (-0.09, -0.06, 0.0)), ("RightLeg", 4, (0.0, -0.43, 0.0)),
    ("RightFoot", 5, (0.0, -0.42, 0.0)),
    ("Spine", 0, (0.0, 0.12, 0.0)), ("Chest", 7, (0.0, 0.25, 0.0)),
    ("Neck", 8, (0.0, 0.18, 0.0)), ("Head", 9, (0.0, 0.12, 0.0)),
    ("LeftShoulder", 8, (0.05, 0.15, 0.0)), ("LeftArm", 11, (0.13, 0.0, 0.0)),
    ("LeftForeArm", 12, (0.28, 0.0, 0.0)), ("LeftHand", 13, (0.25, 0.0, 0.0)),
    ("RightShoulder", 8, (-0.05, 0.15, 0.0)), ("RightArm", 15, (-0.13, 0.0, 0.0)),
    ("RightForeArm", 16, (-0.28, 0.0, 0.0)), ("RightHand", 17, (-0.25, 0.0, 0.0)),
]
END_SITES = {3: (0.0, -0.07, 0.13), 6: (0.0, -0.07, 0.13), 10: (0.0, 0.12, 0.0),
             14: (0.08, 0.0, 0.0), 18: (-0.08, 0.0, 0.0)}
NAMES = [j[0] for j in JOINTS]
PARENTS = [j[1] for j in JOINTS]
OFFSETS = np.array([j[2] for j in JOINTS])
# the floor is the lowest foot point: the toe end site, 0.07 below the ankle
ANKLE_HEIGHT_M = 0.07
HEAD_HEIGHT_M = 0.95 + 0.12 + 0.25 + 0.18 + 0.12 - (0.95 - 0.06 - 0.43 - 0.42 - 0.07)


def motion(frames: int = 90, seed: int = 0, t_pose_first: bool = False):
    """Local rotations (F, J, 3, 3) and root positions (F, 3) in metres: a swaying, stepping body
    that stands upright with straight legs part of the time."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, frames)
    euler = np.zeros((frames, len(JOINTS), 3))  # degrees about x, y, z
    euler[:, 0, 1] = 30 * np.sin(t / 2)                  # turning
    stepping = t > np.pi                                 # stands still for the first half
    for hip, knee, sign in ((1, 2, 1), (4, 5, -1)):
        euler[:, hip, 0] = -20 * np.sin(t) * sign * (np.sin(t) * sign > 0) * stepping
        euler[:, knee, 0] = 25 * np.clip(np.sin(t + 0.5) * sign, 0, None) * stepping
    for arm, sign in ((12, 1), (16, -1)):
        euler[:, arm, 2] = -sign * 70 + 5 * np.sin(t)   # arms down by the sides
        euler[:, arm + 1, 1] = 20 * sign
    euler[:, 10] = rng.normal(0, 5, (frames, 3))
    if t_pose_first:
        euler[0] = 0.0                                   # zero rotations: arms out (T-pose)
    rot = Rotation.from_euler("xyz", euler.reshape(-1, 3), degrees=True).as_matrix()
    root = np.stack([0.3 * np.sin(t), 0.01 * np.cos(2 * t), 0.8 * t / (2 * np.pi)], 1)
    return rot.reshape(frames, len(JOINTS), 3, 3), root + OFFSETS[0]


def expected(rot: np.ndarray, root: np.ndarray) -> np.ndarray:
    """(F, J, 3) world positions in metres (y up) by forward kinematics."""
    frames = len(rot)
    world_r = np.empty_like(rot)
    pos = np.empty((frames, len(JOINTS), 3))
    for j, parent in enumerate(PARENTS):
        if parent < 0:
            world_r[:, j], pos[:, j] = rot[:, j], root
        else:
            world_r[:, j] = world_r[:, parent] @ rot[:, j]
            pos[:, j] = pos[:, parent] + world_r[:, parent] @ OFFSETS[j]
    return pos


def write(rot: np.ndarray, root: np.ndarray, *, units_m: float = 0.01, six: bool = False,
          along_x: bool = False, z_up: bool = False, order: str = "ZXY",
          rename: dict | None = None) -> str:
    """BVH text of the motion; see the module docstring for the encodings."""
    frames = len(rot)
    c = np.eye(3)
    if along_x:  # the zero pose lies along x: every frame turned by C, rotations compensate
        c = Rotation.from_euler("z", -90, degrees=True).as_matrix()
    g = np.eye(3)
    if z_up:     # the whole scene in a z-up world
        g = Rotation.from_euler("x", 90, degrees=True).as_matrix()
    offsets = OFFSETS @ c  # C^T o
    local = np.einsum("ij,fkjl,lm->fkim", c.T, rot, c)  # C^T R C
    local[:, 0] = g @ rot[:, 0] @ c
    root_pos = root @ g.T
    names = [(rename or {}).get(n, n) for n in NAMES]
    lines = ["HIERARCHY"]
    rot_channels = " ".join(f"{a}rotation" for a in order)

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        kind = "ROOT" if PARENTS[j] < 0 else "JOINT"
        off = (offsets[j] if PARENTS[j] >= 0 else np.zeros(3)) / units_m
        if six and PARENTS[j] >= 0:
            off = off * 0 + 7.0  # the position channels replace this
        lines.append(f"{pad}{kind} {names[j]}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        n = 6 if six or PARENTS[j] < 0 else 3
        pos = "Xposition Yposition Zposition " if n == 6 else ""
        lines.append(f"{pad}  CHANNELS {n} {pos}{rot_channels}")
        for k in range(len(NAMES)):
            if PARENTS[k] == j:
                emit(k, depth + 1)
        if j in END_SITES:
            e = np.asarray(END_SITES[j]) @ c / units_m
            lines.extend([f"{pad}  End Site", pad + "  {",
                          f"{pad}    OFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}", pad + "  }"])
        lines.append(pad + "}")

    emit(0, 0)
    with warnings.catch_warnings():  # gimbal lock of the z-up root: any valid angles do
        warnings.simplefilter("ignore", UserWarning)
        eul = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_euler(order, degrees=True)
    eul = eul.reshape(frames, len(NAMES), 3)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1 / 30:.10f}"]
    order_of_joints = []

    def visit(j: int) -> None:
        order_of_joints.append(j)
        for k in range(len(NAMES)):
            if PARENTS[k] == j:
                visit(k)

    visit(0)
    for f in range(frames):
        row = []
        for j in order_of_joints:
            if PARENTS[j] < 0:
                row += list(root_pos[f] / units_m)
            elif six:
                row += list(offsets[j] / units_m)
            row += list(eul[f, j])
        lines.append(" ".join(f"{v:.6f}" for v in row))
    return "\n".join(lines) + "\n"
