"""Ground truth with other keypoint sets maps to COCO-17 by joint name."""

import json

import cv2
import numpy as np
import pytest

from pose_ros import skeleton as sk
from pose_ros.errors import PoseRosError
from pose_ros.eval.datasets import (
    AREA_FROM_BOX,
    identify_topology,
    load_keypoint_dataset,
    merge,
    normalise_name,
)

DATASETS = list(sk.DATASET_TOPOLOGIES.values())
C = sk.COCO17.index


@pytest.mark.parametrize("topo", DATASETS, ids=lambda t: t.name)
def test_dataset_topologies_are_consistent(topo):
    n = topo.num_keypoints
    assert len(set(topo.keypoint_names)) == n
    assert len(set(map(frozenset, topo.limbs))) == len(topo.limbs)
    perm = topo.flip_permutation()
    assert {frozenset((perm[a], perm[b])) for a, b in topo.limbs} == set(
        map(frozenset, topo.limbs))
    idx = sk.index_map(topo, sk.COCO17)
    for coco_joint, j in enumerate(idx):
        if j >= 0:
            assert topo.keypoint_names[j] == sk.COCO17.keypoint_names[coco_joint]
    # every set shares at least the 12 limb joints with COCO-17
    assert (idx[5:] >= 0).all()


def test_shared_joints_per_set():
    assert (sk.CROWDPOSE14_TO_COCO17 >= 0).sum() == 12
    assert (sk.MPII16_TO_COCO17 >= 0).sum() == 12
    assert (sk.POSETRACK17_TO_COCO17 >= 0).sum() == 15    # + nose and ears
    assert sk.AIC14_TO_COCO17[C("left_shoulder")] == 3
    assert sk.MPII16_TO_COCO17[C("right_ankle")] == 0


def test_names_identify_the_set():
    aic = ["Right Shoulder", "Right Elbow", "Right Wrist", "Left Shoulder", "Left Elbow",
           "Left Wrist", "Right Hip", "Right Knee", "Right Ankle", "Left Hip", "Left Knee",
           "Left Ankle", "Head top", "Neck"]
    assert identify_topology(aic) is sk.AIC14
    assert normalise_name("Upper-neck") == "upper_neck"
    with pytest.raises(PoseRosError, match="unknown keypoint set"):
        identify_topology(["a", "b"])


def write_image(path, width=64, height=48):
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))


def test_crowdpose_file_maps_to_coco17(tmp_path):
    write_image(tmp_path / "a.jpg")
    kp = np.zeros((14, 3))
    kp[0] = (10, 20, 2)      # left_shoulder
    kp[11] = (30, 40, 1)     # right_ankle
    kp[12] = (5, 5, 2)       # head: not in COCO-17
    gt = {"images": [{"id": 7, "file_name": "a.jpg"}],
          "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40],
                           "keypoints": kp.reshape(-1).tolist()}],
          "categories": [{"id": 1, "name": "person",
                          "keypoints": list(sk.CROWDPOSE14.keypoint_names)}]}
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    ds = load_keypoint_dataset(tmp_path / "gt.json")
    assert ds.topology is sk.CROWDPOSE14
    assert ds.images[0]["width"] == 64 and ds.images[0]["height"] == 48   # read from the file
    ann = ds.annotations[0]
    coco = np.array(ann["keypoints"]).reshape(17, 3)
    assert coco[C("left_shoulder")].tolist() == [10, 20, 2]
    assert coco[C("right_ankle")].tolist() == [30, 40, 1]
    assert coco[C("nose")].tolist() == [0, 0, 0]
    assert ann["num_keypoints"] == 2 and ann["iscrowd"] == 0
    assert ann["area"] == pytest.approx(AREA_FROM_BOX * 30 * 40)


def test_mpii_list_format(tmp_path):
    write_image(tmp_path / "m.jpg")
    joints = np.arange(32, dtype=float).reshape(16, 2) + 1
    vis = np.ones(16)
    vis[9] = 0
    (tmp_path / "mpii.json").write_text(json.dumps(
        [{"image": "m.jpg", "joints": joints.tolist(), "joints_vis": vis.tolist(),
          "center": [31, 21], "scale": 0.2}]))
    ds = load_keypoint_dataset(tmp_path / "mpii.json")
    coco = np.array(ds.annotations[0]["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(coco[C("right_ankle")], [0, 1, 2])     # 1-based -> 0-based
    np.testing.assert_allclose(coco[C("left_wrist")], [30, 31, 2])
    assert ds.annotations[0]["bbox"] == [10.0, 0.0, 40.0, 40.0]


def test_bad_ground_truth_errors_say_what_to_do(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(PoseRosError, match="neither COCO"):
        load_keypoint_dataset(tmp_path / "x.json")
    gt = {"images": [{"id": 1, "file_name": "missing.jpg", "width": 5, "height": 5}],
          "annotations": [], "categories": [{"id": 1, "keypoints": list(sk.COCO17.keypoint_names)}]}
    (tmp_path / "y.json").write_text(json.dumps(gt))
    with pytest.raises(PoseRosError, match="--images"):
        load_keypoint_dataset(tmp_path / "y.json")
    with pytest.raises(PoseRosError, match="unknown keypoint set"):
        load_keypoint_dataset(tmp_path / "y.json", keypoint_set="openpose25")


def test_merge_renumbers(tmp_path):
    write_image(tmp_path / "a.jpg")
    gt = {"images": [{"id": 5, "file_name": "a.jpg", "width": 64, "height": 48}],
          "annotations": [{"id": 3, "image_id": 5, "keypoints": [1.0, 1.0, 2.0] * 17,
                           "bbox": [0, 0, 4, 4], "area": 10.0}],
          "categories": [{"id": 1, "keypoints": list(sk.COCO17.keypoint_names)}]}
    (tmp_path / "g.json").write_text(json.dumps(gt))
    one = load_keypoint_dataset(tmp_path / "g.json")
    both = merge([one, one])
    assert [im["id"] for im in both.images] == [1, 2]
    assert [(a["id"], a["image_id"]) for a in both.annotations] == [(1, 1), (2, 2)]
    assert both.num_people == 2 and both.annotations[0]["area"] == 10.0


def test_posetrack_ignore_regions_drop_predictions_on_spectators(tmp_path):
    """PoseTrack's ignore regions (unannotated crowds) are read, and a prediction lying mostly
    in one is not scored (eval2d.drop_ignored), while one on an annotated person stays."""
    from pose_ros.eval.coco import Prediction
    from pose_ros.eval.datasets import ignored_predictions
    from pose_ros.eval.eval2d import drop_ignored, score

    write_image(tmp_path / "p.jpg", 200, 100)
    person = np.zeros((17, 3))
    person[:, 0] = np.linspace(20, 40, 17)
    person[:, 1] = np.linspace(10, 90, 17)
    person[:, 2] = 2
    posetrack = person[[0] + [0] * 4 + list(range(5, 17))]      # nose, head_bottom/top, ears
    gt = {"images": [{"id": 1, "file_name": "p.jpg", "width": 200, "height": 100,
                      "ignore_regions_x": [[120, 190, 190, 120]],
                      "ignore_regions_y": [[0, 0, 100, 100]]}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [15, 5, 30, 90],
                           "keypoints": posetrack.reshape(-1).tolist()}],
          "categories": [{"id": 1, "name": "person",
                          "keypoints": list(sk.POSETRACK17.keypoint_names)}]}
    (tmp_path / "pt.json").write_text(json.dumps(gt))
    ds = load_keypoint_dataset(tmp_path / "pt.json")
    assert len(ds.images[0]["ignore_regions"]) == 1
    good = np.array(ds.annotations[0]["keypoints"]).reshape(17, 3)   # x 20-40: the dancer
    good[good[:, 2] == 0, :2] = (30, 50)                  # eyes: not in PoseTrack
    spectator = good + [130, 0, 0]                        # all inside the region (x >= 120)
    straddling = good + [93, 0, 0]                        # 13 of 17 points inside
    edge = good + [86, 0, 0]                              # 5 of 17 inside
    kp = np.stack([good, spectator, straddling, edge])
    assert ignored_predictions(ds.images[0], kp).tolist() == [False, True, True, False]
    preds = [Prediction(1, k, s) for k, s in zip(kp[:2], (0.5, 0.9))]
    assert drop_ignored(ds, preds) == preds[:1]
    # the spectator scored above the dancer would halve the AP; ignored, it costs nothing
    result = score(ds, preds)
    assert result["AP"] == pytest.approx(1.0)
    assert result["predictions_ignored"] == 1 and result["AP_with_ignored"] < 0.6
    # predictions made for a ground-truth box are never dropped
    boxed = [Prediction(1, spectator, 0.9, gt_id=1)]
    assert drop_ignored(ds, boxed) == boxed


def test_posetrack_ignore_region_with_unpaired_corners_is_one_clear_error(tmp_path):
    write_image(tmp_path / "p.jpg", 200, 100)
    gt = {"images": [{"id": 1, "file_name": "p.jpg", "width": 200, "height": 100,
                      "ignore_regions_x": [[120, 190, 190, 120]],
                      "ignore_regions_y": [[0, 0, 100]]}],
          "annotations": [],
          "categories": [{"id": 1, "name": "person",
                          "keypoints": list(sk.POSETRACK17.keypoint_names)}]}
    (tmp_path / "pt.json").write_text(json.dumps(gt))
    with pytest.raises(PoseRosError, match="ignore_regions_x and ignore_regions_y"):
        load_keypoint_dataset(tmp_path / "pt.json")
