"""3D evaluation from the documented npz layout: a synthetic walk seen by a known camera."""

import numpy as np
import pytest

from pose_ros.camera import CameraIntrinsics
from pose_ros.errors import PoseRosError
from pose_ros.eval.eval3d import errors_mm, evaluate_npz
from pose_ros.models.lifter import Lifter
from pose_ros.skeleton import BLAZEPOSE33, COCO17, H36M17, lifter_inputs_from_coco17

FACE_M = {"nose": (0.0, 0.02, 0.1), "left_eye": (0.035, 0.05, 0.08),
          "right_eye": (-0.035, 0.05, 0.08), "left_ear": (0.08, 0.0, 0.0),
          "right_ear": (-0.08, 0.0, 0.0)}


def coco_from_lifter_joints(joints: np.ndarray) -> np.ndarray:
    """(T, 17 lifter joints, 3) -> (T, 17 COCO joints, 3), the face placed around the head so
    that mid-ears is the head (as skeleton.LIFTER_FROM_COCO17 defines it)."""
    out = np.zeros((len(joints), 17, 3))
    for i, name in enumerate(COCO17.keypoint_names):
        if name in FACE_M:
            out[:, i] = joints[:, H36M17.index("head")] + FACE_M[name]
        else:
            out[:, i] = joints[:, H36M17.index(name)]
    return out


@pytest.fixture(scope="module")
def lifter():
    return Lifter.load()


@pytest.fixture
def walk_npz(tmp_path, walk_take):
    """The conftest walk (y up) towards a camera at hip height, from 6.6 to 3.0 m."""
    cam = CameraIntrinsics.guess(640, 480)
    # turned 180 degrees about x (a rotation, so left stays left): walks towards the camera
    joints = walk_take[:90].astype(np.float64) * [1, -1, -1] + [0.0, 0.95, 6.6]
    coco = coco_from_lifter_joints(joints)
    kp2d = np.concatenate([cam.project(coco), np.ones((*coco.shape[:2], 1))], axis=-1)
    world = np.zeros((len(joints), 33, 3))
    for i, name in enumerate(COCO17.keypoint_names):
        world[:, BLAZEPOSE33.index(name)] = coco[:, i] - joints[:, H36M17.index("pelvis")]
    path = tmp_path / "walk.npz"
    np.savez(path, keypoints_2d=kp2d, joints_3d_m=joints, image_size=np.array([640, 480]),
             sequence=np.repeat([0, 1], [60, 30]), blazepose_world_m=world)
    return path


def test_npz_scores_the_lifter_and_blazepose_world(walk_npz, lifter):
    out = evaluate_npz(walk_npz, lifter)
    assert out["frames"] == 90 and out["sequences"] == 2
    assert out["intrinsics"]["guessed"]
    lifter = out["lifter"]
    assert lifter["poses"] == 90
    # The procedural walk is unlike CMU mocap (the lifter's own protocol gives ~117 mm on it);
    # a lifter fed wrongly scaled or shifted 2D lands near the 415 mm of a pose at the pelvis.
    assert lifter["pmpjpe_mm"] <= lifter["mpjpe_mm"] < 200
    assert set(lifter["per_joint_mm"]) == set(H36M17.keypoint_names)
    # world landmarks built from the ground truth itself score zero
    assert out["blazepose_world"]["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)


def test_npz_layout_errors_name_the_array(tmp_path, lifter):
    path = tmp_path / "bad.npz"
    np.savez(path, keypoints_2d=np.zeros((4, 17, 3)))
    with pytest.raises(PoseRosError, match="joints_3d_m"):
        evaluate_npz(path, lifter)
    np.savez(path, keypoints_2d=np.zeros((4, 17, 3)), joints_3d_m=np.zeros((4, 17, 3)))
    with pytest.raises(PoseRosError, match="camera_k"):
        evaluate_npz(path, lifter)
    np.savez(path, keypoints_2d=np.zeros((4, 17, 3)), joints_3d_m=np.zeros((3, 17, 3)),
             image_size=np.array([640, 480]))
    with pytest.raises(PoseRosError, match="joints_3d_m has shape"):
        evaluate_npz(path, lifter)


def test_npz_lifts_each_frame_from_its_own_sequence_history(walk_npz, lifter):
    """The npz path equals the pipeline's per-track streaming, restarted per sequence."""
    out = evaluate_npz(walk_npz, lifter)
    data = np.load(walk_npz)
    cam = CameraIntrinsics.guess(640, 480)
    inputs = lifter.normalize(lifter_inputs_from_coco17(data["keypoints_2d"]), cam)
    preds, stream = [], None
    for i, seq in enumerate(data["sequence"]):
        if i == 0 or seq != data["sequence"][i - 1]:
            stream = lifter.stream()
        preds.append(lifter.step([stream], inputs[i:i + 1])[0])
    expected = errors_mm(np.stack(preds), data["joints_3d_m"])
    assert out["lifter"]["mpjpe_mm"] == pytest.approx(expected["mpjpe_mm"], rel=1e-4)
    assert out["lifter"]["pmpjpe_mm"] == pytest.approx(expected["pmpjpe_mm"], rel=1e-4)
