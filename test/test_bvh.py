"""BVH parsing, forward kinematics, joint naming and units, on files the tests write."""

from __future__ import annotations

import numpy as np
import pytest

from pose_ros.skeleton import H36M17
from pose_ros.train import bvh

# A small humanoid in the CMU "MotionBuilder" naming; {rot} is the channel order of the joints.
CMU_STYLE = """HIERARCHY
ROOT Hips
{{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition {rot}
  JOINT LHipJoint {{ OFFSET 0 0 0 CHANNELS 3 {rot}
    JOINT LeftUpLeg {{ OFFSET 10 0 0 CHANNELS 3 {rot}
      JOINT LeftLeg {{ OFFSET 0 -40 0 CHANNELS 3 {rot}
        JOINT LeftFoot {{ OFFSET 0 -40 0 CHANNELS 3 {rot}
          End Site {{ OFFSET 0 0 10 }} }} }} }} }}
  JOINT RHipJoint {{ OFFSET 0 0 0 CHANNELS 3 {rot}
    JOINT RightUpLeg {{ OFFSET -10 0 0 CHANNELS 3 {rot}
      JOINT RightLeg {{ OFFSET 0 -40 0 CHANNELS 3 {rot}
        JOINT RightFoot {{ OFFSET 0 -40 0 CHANNELS 3 {rot}
          End Site {{ OFFSET 0 0 10 }} }} }} }} }}
  JOINT Spine {{ OFFSET 0 20 0 CHANNELS 3 {rot}
    JOINT Neck {{ OFFSET 0 30 0 CHANNELS 3 {rot}
      JOINT Head {{ OFFSET 0 15 0 CHANNELS 3 {rot}
        End Site {{ OFFSET 0 20 0 }} }} }}
    JOINT LeftShoulder {{ OFFSET 15 25 0 CHANNELS 3 {rot}
      JOINT LeftArm {{ OFFSET 5 0 0 CHANNELS 6 Xposition Yposition Zposition {rot}
        JOINT LeftForeArm {{ OFFSET 25 0 0 CHANNELS 3 {rot}
          JOINT LeftHand {{ OFFSET 25 0 0 CHANNELS 3 {rot}
            End Site {{ OFFSET 5 0 0 }} }} }} }} }}
    JOINT RightShoulder {{ OFFSET -15 25 0 CHANNELS 3 {rot}
      JOINT RightArm {{ OFFSET -5 0 0 CHANNELS 3 {rot}
        JOINT RightForeArm {{ OFFSET -25 0 0 CHANNELS 3 {rot}
          JOINT RightHand {{ OFFSET -25 0 0 CHANNELS 3 {rot}
            End Site {{ OFFSET -5 0 0 }} }} }} }} }} }}
}}
MOTION
Frames: {frames}
Frame Time: {dt}
{motion}
"""


def rot(axis: str, deg: float) -> np.ndarray:
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return {"X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def write_take(tmp_path, order: str, frames: np.ndarray, names=None, dt=1 / 120) -> str:
    rot_channels = " ".join(f"{a}rotation" for a in order)
    text = CMU_STYLE.format(rot=rot_channels, frames=len(frames), dt=dt,
                            motion="\n".join(" ".join(f"{v:.6f}" for v in row) for row in frames))
    for old, new in (names or {}).items():
        text = text.replace(f"JOINT {old} ", f"JOINT {new} ")
    path = tmp_path / f"take_{order}.bvh"
    path.write_text(text)
    return str(path)


N_CHANNELS = 6 + 3 * 19 + 3  # root 6, 19 joints x 3, LeftArm has 3 extra position channels


@pytest.mark.parametrize("order", ["ZYX", "XYZ"])
def test_forward_kinematics_matches_hand_computation(tmp_path, order):
    rng = np.random.default_rng(0)
    frames = np.zeros((3, N_CHANNELS))
    frames[:, :3] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    frames[:, 3:6] = rng.uniform(-40, 40, (3, 3))    # root rotation
    frames[:, 6 + 3:6 + 6] = rng.uniform(-60, 60, (3, 3))  # LeftUpLeg rotation
    motion = bvh.parse_bvh(open(write_take(tmp_path, order, frames)).read())
    pos, ends = bvh.forward_kinematics(motion)
    names = motion.skeleton.names
    for f in range(3):
        r_root = np.eye(3)
        for axis, angle in zip(order, frames[f, 3:6]):
            r_root = r_root @ rot(axis, angle)
        r_leg = np.eye(3)
        for axis, angle in zip(order, frames[f, 9:12]):
            r_leg = r_leg @ rot(axis, angle)
        root = frames[f, :3]
        up_leg = root + r_root @ [10, 0, 0]
        knee = up_leg + r_root @ r_leg @ [0, -40, 0]
        np.testing.assert_allclose(pos[f, names.index("Hips")], root, atol=1e-5)
        np.testing.assert_allclose(pos[f, names.index("LeftUpLeg")], up_leg, atol=1e-5)
        np.testing.assert_allclose(pos[f, names.index("LeftLeg")], knee, atol=1e-5)
        foot = pos[f, names.index("LeftFoot")]
        np.testing.assert_allclose(ends[names.index("LeftFoot")][f] - foot,
                                   r_root @ r_leg @ [0, 0, 10], atol=1e-5)


def test_position_channels_of_a_non_root_joint_replace_its_offset(tmp_path):
    frames = np.zeros((1, N_CHANNELS))
    arm = bvh.parse_bvh(open(write_take(tmp_path, "ZXY", frames)).read()).skeleton.names
    # LeftArm's channels start after root (6) + 9 joints x 3 before it in file order
    col = 6 + 3 * arm.index("LeftArm") - 3
    frames[0, col:col + 3] = [1, 2, 3]
    motion = bvh.parse_bvh(open(write_take(tmp_path, "ZXY", frames)).read())
    pos, _ = bvh.forward_kinematics(motion)
    names = motion.skeleton.names
    np.testing.assert_allclose(pos[0, names.index("LeftArm")] - pos[0, names.index("LeftShoulder")],
                               [1, 2, 3])  # not the OFFSET (5, 0, 0) plus them


@pytest.mark.parametrize("renames", [
    {},  # MotionBuilder-style CMU names
    {"LeftUpLeg": "mixamorig:LeftUpLeg", "LeftLeg": "mixamorig:LeftLeg",
     "LeftShoulder": "mixamorig:LeftShoulder", "LeftArm": "mixamorig:LeftArm"},
    {"LeftUpLeg": "UpperLeg_L", "RightUpLeg": "UpperLeg_R", "LeftLeg": "l_knee",
     "RightLeg": "r_knee", "LeftHand": "Hand_L", "RightHand": "Hand_R"},
    {"LeftUpLeg": "lThigh", "LeftLeg": "lShin", "LeftFoot": "lFoot", "LeftArm": "lShldr",
     "LeftForeArm": "lForeArm", "LeftHand": "lHand", "LeftShoulder": "lCollar"},  # Poser style
])
def test_joint_names_are_matched_through_synonyms(tmp_path, renames):
    frames = np.zeros((2, N_CHANNELS))
    frames[:, 42:45] = [5, 0, 0]  # LeftArm's position channels: its bone, as in its OFFSET
    motion = bvh.parse_bvh(open(write_take(tmp_path, "ZXY", frames, names=renames)).read())
    found = bvh.joint_map(motion.skeleton.names)
    pos, _ = bvh.forward_kinematics(motion)
    take = bvh.lifter_joints(pos, found)
    idx = H36M17.index
    # rest pose: the left hip is +x of the pelvis, the shoulder (LeftArm, not the clavicle) higher
    assert take[0, idx("left_hip"), 0] > take[0, idx("pelvis"), 0]
    shoulder_x = take[0, idx("left_shoulder"), 0] - take[0, idx("thorax"), 0]
    np.testing.assert_allclose(shoulder_x, 20, rtol=1e-5)


def test_iclone_names_are_matched():
    names = ["CC_Base_Hip", "CC_Base_Pelvis", "CC_Base_L_Thigh", "CC_Base_L_Calf",
             "CC_Base_L_Foot", "CC_Base_L_ThighTwist01", "CC_Base_R_Thigh", "CC_Base_R_Calf",
             "CC_Base_R_Foot", "CC_Base_Head", "CC_Base_L_Clavicle", "CC_Base_L_Upperarm",
             "CC_Base_L_Forearm", "CC_Base_L_Hand", "CC_Base_R_Clavicle", "CC_Base_R_Upperarm",
             "CC_Base_R_Forearm", "CC_Base_R_Hand"]
    found = bvh.joint_map(names)
    assert names[found["left_hip"]] == "CC_Base_L_Thigh"
    assert names[found["right_shoulder"]] == "CC_Base_R_Upperarm"
    assert names[found["head"]] == "CC_Base_Head"


def test_missing_joints_are_listed(tmp_path):
    frames = np.zeros((1, N_CHANNELS))
    path = write_take(tmp_path, "ZYX", frames, names={"LeftForeArm": "Widget", "Head": "Top"})
    with pytest.raises(ValueError, match=r"left_elbow.*head|head.*left_elbow"):
        bvh.joint_map(bvh.parse_bvh(open(path).read()).skeleton.names)


@pytest.mark.parametrize("bad, reason", [
    ("Frame Time: 0.0083333\n", "Frame Time"),
    ("1 2 3\n", "expected"),
])
def test_malformed_motion_is_described(tmp_path, bad, reason):
    text = open(write_take(tmp_path, "ZYX", np.zeros((1, N_CHANNELS)))).read()
    if reason == "Frame Time":
        text = text.replace("Frame Time: ", "Frame Length: ")
    else:
        text = text.rstrip("\n").rsplit("\n", 1)[0] + "\n" + bad
    with pytest.raises(ValueError, match=reason):
        bvh.parse_bvh(text)
