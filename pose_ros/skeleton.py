"""Keypoint topologies as data: names, limbs for drawing, left/right pairs, and maps between them.

Every other module takes joint orders from here, so a topology is defined exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Colours (RGB, 0-255) for drawing: one per body side, so a mirrored skeleton is easy to spot.
SIDE_COLOURS_RGB = {"left": (0, 140, 255), "right": (255, 120, 0), "centre": (40, 200, 60)}


@dataclass(frozen=True)
class Topology:
    """A named keypoint set.

    Attributes:
        name: topology name as published in SkeletonArray.skeleton.
        keypoint_names: joint names in array order.
        limbs: (a, b) index pairs drawn as lines.
        flip_pairs: (left, right) index pairs swapped by a horizontal mirror.
    """

    name: str
    keypoint_names: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    flip_pairs: tuple[tuple[int, int], ...]

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def index(self, name: str) -> int:
        return self.keypoint_names.index(name)

    def side(self, i: int) -> str:
        """'left', 'right' or 'centre' for keypoint i, from its name."""
        name = self.keypoint_names[i]
        if name.startswith("left_"):
            return "left"
        if name.startswith("right_"):
            return "right"
        return "centre"

    def limb_side(self, limb: tuple[int, int]) -> str:
        """A limb is left/right when both ends are on that side, else centre."""
        a, b = self.side(limb[0]), self.side(limb[1])
        return a if a == b else "centre"

    def flip_permutation(self) -> np.ndarray:
        """Index array that reorders keypoints after a horizontal mirror."""
        perm = np.arange(self.num_keypoints)
        for left, right in self.flip_pairs:
            perm[left], perm[right] = right, left
        return perm


def _pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """All (left_x, right_x) index pairs, derived from the names so they cannot drift."""
    pairs = []
    for i, name in enumerate(names):
        if name.startswith("left_"):
            pairs.append((i, names.index("right_" + name[len("left_"):])))
    return tuple(pairs)


def _limbs(names: tuple[str, ...], named: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((names.index(a), names.index(b)) for a, b in named)


_COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_BODY_LIMBS = [
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"),
    ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
]
COCO17 = Topology(
    name="coco17",
    keypoint_names=_COCO17_NAMES,
    limbs=_limbs(_COCO17_NAMES, _BODY_LIMBS + [
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
        ("right_eye", "right_ear"),
    ]),
    flip_pairs=_pairs(_COCO17_NAMES),
)

_BLAZEPOSE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
    "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
BLAZEPOSE33 = Topology(
    name="blazepose33",
    keypoint_names=_BLAZEPOSE33_NAMES,
    limbs=_limbs(_BLAZEPOSE33_NAMES, _BODY_LIMBS + [
        ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
        ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"),
        ("right_eye_inner", "right_eye"), ("right_eye", "right_eye_outer"),
        ("right_eye_outer", "right_ear"), ("mouth_left", "mouth_right"),
        ("left_wrist", "left_pinky"), ("left_wrist", "left_index"), ("left_pinky", "left_index"),
        ("left_wrist", "left_thumb"), ("right_wrist", "right_pinky"),
        ("right_wrist", "right_index"), ("right_pinky", "right_index"),
        ("right_wrist", "right_thumb"), ("left_ankle", "left_heel"),
        ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
        ("right_ankle", "right_heel"), ("right_heel", "right_foot_index"),
        ("right_ankle", "right_foot_index"),
    ]),
    flip_pairs=_pairs(_BLAZEPOSE33_NAMES),
)

# The 17-joint body of Human3.6M-style lifters (VideoPose3D order). "neck" and "head" are defined
# so that both a 2D detector and motion capture can produce them (see LIFTER_FROM_COCO17):
# head = centre of the head (mid-ears), neck = halfway between thorax and head.
_H36M17_NAMES = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist",
)
H36M17 = Topology(
    name="h36m17",
    keypoint_names=_H36M17_NAMES,
    limbs=_limbs(_H36M17_NAMES, [
        ("pelvis", "right_hip"), ("right_hip", "right_knee"), ("right_knee", "right_ankle"),
        ("pelvis", "left_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
        ("pelvis", "spine"), ("spine", "thorax"), ("thorax", "neck"), ("neck", "head"),
        ("thorax", "left_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("thorax", "right_shoulder"), ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
    ]),
    flip_pairs=_pairs(_H36M17_NAMES),
)

# MediaPipe's 21 hand keypoints (hand_landmark_full), one hand; published per hand, not as a body.
_HAND21_NAMES = (
    "wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "pinky_mcp", "pinky_pip", "pinky_dip", "pinky_tip",
)
HAND21 = Topology(
    name="hand21",
    keypoint_names=_HAND21_NAMES,
    limbs=tuple((a, a + 1) for base in (0, 4, 8, 12, 16) for a in range(base + 1, base + 4))
    + tuple((0, base + 1) for base in (0, 4, 8, 12, 16)) + ((5, 9), (9, 13), (13, 17)),
    flip_pairs=(),
)

TOPOLOGIES = {t.name: t for t in (COCO17, BLAZEPOSE33, H36M17)}


def get_topology(name: str) -> Topology:
    try:
        return TOPOLOGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown skeleton {name!r}: use one of {sorted(TOPOLOGIES)}"
        ) from None


def index_map(source: Topology, target: Topology) -> np.ndarray:
    """Indices into `source` for each joint of `target`, matched by name (-1 where absent)."""
    return np.array(
        [source.keypoint_names.index(n) if n in source.keypoint_names else -1
         for n in target.keypoint_names],
        dtype=np.int64,
    )


BLAZEPOSE33_TO_COCO17 = index_map(BLAZEPOSE33, COCO17)


def _lifter_weights() -> np.ndarray:
    """(17 lifter joints, 17 COCO joints) weights: lifter joint = weights @ COCO keypoints.

    pelvis = mid-hip, thorax = mid-shoulder, spine = midway pelvis-thorax, head = mid-ears,
    neck = midway thorax-head; limbs are the COCO joints of the same name.
    """
    c = COCO17.index
    w = np.zeros((H36M17.num_keypoints, COCO17.num_keypoints), dtype=np.float32)
    for j, name in enumerate(H36M17.keypoint_names):
        if name in COCO17.keypoint_names:
            w[j, c(name)] = 1.0
    pelvis = {c("left_hip"): 0.5, c("right_hip"): 0.5}
    thorax = {c("left_shoulder"): 0.5, c("right_shoulder"): 0.5}
    head = {c("left_ear"): 0.5, c("right_ear"): 0.5}
    for name, parts in (
        ("pelvis", [pelvis]), ("thorax", [thorax]), ("head", [head]),
        ("spine", [pelvis, thorax]), ("neck", [thorax, head]),
    ):
        for part in parts:
            for k, v in part.items():
                w[H36M17.index(name), k] += v / len(parts)
    return w


# Linear map from COCO-17 2D keypoints to the lifter's 17 joints (rows sum to 1).
LIFTER_FROM_COCO17 = _lifter_weights()


def lifter_inputs_from_coco17(keypoints: np.ndarray) -> np.ndarray:
    """(..., 17, 3) COCO x, y, score -> (..., 17, 3) lifter joints.

    Positions are weighted means; the score of a derived joint is the minimum score of the joints
    it is made from, so a guessed part never looks more certain than its weakest source.
    """
    xy = np.einsum("jk,...kc->...jc", LIFTER_FROM_COCO17, keypoints[..., :2])
    used = LIFTER_FROM_COCO17 > 0
    scores = np.where(used, keypoints[..., None, :, 2], np.inf).min(axis=-1)
    return np.concatenate([xy, scores[..., None]], axis=-1).astype(np.float32)


# Linear map from BlazePose-33 points to the lifter's 17 joints: LIFTER_FROM_COCO17 applied to
# BlazePose's 17 COCO-named points, so 2D keypoints and world landmarks make the same joints.
LIFTER_FROM_BLAZEPOSE33 = LIFTER_FROM_COCO17 @ np.eye(
    BLAZEPOSE33.num_keypoints, dtype=np.float32)[BLAZEPOSE33_TO_COCO17]


def lifter_world_from_blazepose33(world_m: np.ndarray) -> np.ndarray:
    """(..., 33, 3) BlazePose world landmarks -> (..., 17, 3) H36M17 joints, metres, pelvis at 0.

    BlazePose's world landmarks (PoseLandmarks.world_m) are metres, origin between its hip
    landmarks, in the axes of a camera looking along the ray to the person (x right, y down, z
    along the ray: BlazePose sees a crop); models/lifter.normalize_world turns them onto the
    camera's axes. Joints are made as for the lifter's 2D input (LIFTER_FROM_COCO17): limbs by
    name; pelvis = mid-hips, thorax = mid-shoulders, spine = midway, head = mid-ears, neck =
    midway thorax-head.

    Joint definitions. Motion capture (the lifters' training data) gives joint centres: the BVH
    skeleton's hips are the femur heads, shoulders the glenohumeral joints, head the head joint
    at the top of the neck (about level with the ears); pelvis = midway between the hip joint
    centres. BlazePose's points are surface landmarks in the style of COCO annotations: its hip
    landmarks sit about 5 cm below the mocap hip joint centres (its trunk is
    1.29 thighs long against 1.0 for mocap skeletons; pose_ros/train/pose_aug.py, measured on
    real video by tools/measure_blazepose_world.py), so the pelvis they define is lower too.
    This map keeps BlazePose's definition. What is published follows the 2D keypoints' own
    points: `world` gives BlazePose's points as they are; lifters trained with the keypoint
    definition augmentation (pose_aug.keypoint_definition: hips moved toward BlazePose's, the
    same in input and target) give 3D that projects onto the 2D it came from; weights trained
    before it follow the mocap joint centres (see the weights' metadata).
    """
    joints = np.einsum("jk,...kc->...jc", LIFTER_FROM_BLAZEPOSE33,
                       np.asarray(world_m, dtype=np.float32))
    return joints - joints[..., H36M17.index("pelvis"):H36M17.index("pelvis") + 1, :]


def lifter_to_topology(target: Topology) -> np.ndarray:
    """Per joint of `target`, the lifter joint that gives its 3D position, or -1 (not estimated).

    Joints of the same name are taken directly. Face joints (nose, eyes, ears, mouth) have no
    lifter joint: callers place them at the lifter's head with score 0.
    """
    return index_map(H36M17, target)


# Keypoint sets of other 2D datasets, for evaluation (pose_ros/eval/datasets.py). Names are each
# dataset's own joint names in snake case, so every map to COCO-17 is a match by name
# (index_map) and scores only the joints a dataset shares with COCO-17. Joints COCO-17 lacks
# (head top, neck, pelvis...) keep the dataset's meaning and are not scored.
_CROWDPOSE14_NAMES = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "head", "neck",
)
# CrowdPose (and ExLPose, which uses the same 14 joints): "head" is the top of the head.
CROWDPOSE14 = Topology(
    name="crowdpose14",
    keypoint_names=_CROWDPOSE14_NAMES,
    limbs=_limbs(_CROWDPOSE14_NAMES, _BODY_LIMBS + [
        ("head", "neck"), ("neck", "left_shoulder"), ("neck", "right_shoulder"),
    ]),
    flip_pairs=_pairs(_CROWDPOSE14_NAMES),
)

_AIC14_NAMES = (
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "head_top", "neck",
)
AIC14 = Topology(
    name="aic14",
    keypoint_names=_AIC14_NAMES,
    limbs=_limbs(_AIC14_NAMES, _BODY_LIMBS + [
        ("head_top", "neck"), ("neck", "left_shoulder"), ("neck", "right_shoulder"),
    ]),
    flip_pairs=_pairs(_AIC14_NAMES),
)

# MPII (and MHP, which uses the same 16 joints).
_MPII16_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "pelvis", "thorax", "upper_neck", "head_top",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
)
MPII16 = Topology(
    name="mpii16",
    keypoint_names=_MPII16_NAMES,
    limbs=_limbs(_MPII16_NAMES, _BODY_LIMBS + [
        ("pelvis", "left_hip"), ("pelvis", "right_hip"), ("pelvis", "thorax"),
        ("thorax", "upper_neck"), ("upper_neck", "head_top"),
        ("thorax", "left_shoulder"), ("thorax", "right_shoulder"),
    ]),
    flip_pairs=_pairs(_MPII16_NAMES),
)

_JHMDB15_NAMES = (
    "neck", "belly", "head", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
    "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
    "right_ankle", "left_ankle",
)
JHMDB15 = Topology(
    name="jhmdb15",
    keypoint_names=_JHMDB15_NAMES,
    limbs=_limbs(_JHMDB15_NAMES, _BODY_LIMBS + [
        ("neck", "head"), ("neck", "belly"), ("neck", "left_shoulder"),
        ("neck", "right_shoulder"),
    ]),
    flip_pairs=_pairs(_JHMDB15_NAMES),
)

# PoseTrack 18: COCO-17 with head_bottom / head_top in place of the eyes (usually unlabelled ears).
_POSETRACK17_NAMES = ("nose", "head_bottom", "head_top") + _COCO17_NAMES[3:]
POSETRACK17 = Topology(
    name="posetrack17",
    keypoint_names=_POSETRACK17_NAMES,
    limbs=_limbs(_POSETRACK17_NAMES, _BODY_LIMBS + [
        ("nose", "head_bottom"), ("head_bottom", "head_top"), ("nose", "left_ear"),
        ("nose", "right_ear"), ("head_bottom", "left_shoulder"),
        ("head_bottom", "right_shoulder"),
    ]),
    flip_pairs=_pairs(_POSETRACK17_NAMES),
)

# Ground-truth keypoint sets that evaluation maps to COCO-17 (COCO-17 itself included).
DATASET_TOPOLOGIES = {t.name: t for t in (COCO17, CROWDPOSE14, AIC14, MPII16, JHMDB15,
                                          POSETRACK17)}
CROWDPOSE14_TO_COCO17 = index_map(CROWDPOSE14, COCO17)
AIC14_TO_COCO17 = index_map(AIC14, COCO17)
MPII16_TO_COCO17 = index_map(MPII16, COCO17)
JHMDB15_TO_COCO17 = index_map(JHMDB15, COCO17)
POSETRACK17_TO_COCO17 = index_map(POSETRACK17, COCO17)
