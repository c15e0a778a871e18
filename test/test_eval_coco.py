"""COCO AP / PCK / MPJPE: known inputs give the values worked out by hand."""

import contextlib
import io

import numpy as np
import pytest

from pose_ros.eval import coco
from pose_ros.eval.datasets import PERSON_CATEGORY
from pose_ros.eval.eval3d import causal_windows, errors_mm
from pose_ros.eval.metrics3d import mpjpe, p_mpjpe
from pose_ros.skeleton import COCO17, H36M17

C = COCO17.index


def tiny_gt() -> dict:
    """Two images, three people with all 17 joints labelled, plus one unlabelled person."""
    rng = np.random.default_rng(7)
    anns = []
    for ann_id, (image_id, x0, y0, w, h) in enumerate(
            [(1, 50, 40, 120, 300), (1, 300, 60, 100, 260), (2, 80, 30, 150, 330)], start=1):
        kp = np.column_stack([rng.uniform(x0, x0 + w, 17), rng.uniform(y0, y0 + h, 17),
                              np.full(17, 2.0)])
        anns.append({"id": ann_id, "image_id": image_id, "category_id": 1,
                     "keypoints": kp.reshape(-1).tolist(), "num_keypoints": 17,
                     "bbox": [x0, y0, w, h], "area": 0.53 * w * h, "iscrowd": 0})
    anns.append({"id": 9, "image_id": 2, "category_id": 1, "keypoints": [0.0] * 51,
                 "num_keypoints": 0, "bbox": [0, 0, 10, 10], "area": 50.0, "iscrowd": 0})
    images = [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in (1, 2)]
    return {"images": images, "annotations": anns, "categories": [PERSON_CATEGORY]}


def predictions_from(gt: dict, shift_px: float = 0.0) -> list[coco.Prediction]:
    out = []
    for a in gt["annotations"]:
        if a["num_keypoints"]:
            kp = np.array(a["keypoints"], dtype=np.float64).reshape(17, 3)
            kp[:, :2] += shift_px
            kp[:, 2] = 0.9
            out.append(coco.Prediction(a["image_id"], kp, 0.9))
    return out


def test_ap_is_one_when_predictions_equal_ground_truth():
    gt = tiny_gt()
    stats = coco.coco_keypoint_stats(gt, predictions_from(gt))
    assert stats["AP"] == pytest.approx(1.0)
    assert stats["AR"] == pytest.approx(1.0)


def test_ap_drops_when_keypoints_move():
    gt = tiny_gt()
    small = coco.coco_keypoint_stats(gt, predictions_from(gt, 4.0))["AP"]
    large = coco.coco_keypoint_stats(gt, predictions_from(gt, 15.0))["AP"]
    assert 1.0 > small > large >= 0.0


def test_no_predictions_score_zero():
    stats = coco.coco_keypoint_stats(tiny_gt(), [])
    assert stats["AP"] == 0.0 and stats["AR"] == 0.0


def test_oks_equals_pycocotools():
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = tiny_gt()
    gt["annotations"][0]["keypoints"][2::3] = [2.0] * 10 + [0.0] * 7   # some unlabelled joints
    preds = predictions_from(gt, 6.0)
    pred_kp = np.stack([p.keypoints.round(2) for p in preds[:2]])      # image 1, as written
    anns = [a for a in gt["annotations"] if a["image_id"] == 1]
    gt_kp = np.array([a["keypoints"] for a in anns]).reshape(-1, 17, 3)
    ours = coco.keypoint_oks(pred_kp, gt_kp, np.array([a["area"] for a in anns]))
    coco_gt, coco_dt = COCO(), COCO()
    coco_gt.dataset = gt
    coco_dt.dataset = {**gt, "annotations": [
        {**p.coco_result(), "id": i, "area": 1.0} for i, p in enumerate(preds, 1)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        coco_dt.createIndex()
    ev = COCOeval(coco_gt, coco_dt, "keypoints")
    ev.params.kpt_oks_sigmas = coco.COCO17_SIGMAS
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
    theirs = ev.ious[(1, 1)]                      # (D, G): equal scores keep the given order
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


def test_pck_by_hand():
    gt = np.zeros((1, 17, 3))
    gt[0, :, 2] = 2.0
    gt[0, C("left_shoulder"), :2] = (0, 0)
    gt[0, C("right_hip"), :2] = (30, 40)        # torso diagonal 50 px -> threshold 10 px
    gt[0, C("right_shoulder"), :2] = (60, 0)
    gt[0, C("left_hip"), :2] = (30, 40)         # other diagonal, also 50 px
    gt[0, C("left_ankle"), 2] = 0               # unlabelled: not scored
    normalizer, is_torso = coco.torso_normalizer(gt, np.array([[0, 0, 100, 200]]))
    assert normalizer[0] == pytest.approx(50.0) and is_torso[0]
    pred = gt.copy()
    pred[0, C("left_elbow"), 0] += 9.9          # within 10 px: correct
    pred[0, C("right_elbow"), 1] += 10.1        # beyond: wrong
    pred[0, C("left_wrist"), :2] += (6, 8)      # exactly 10 px: correct (<=)
    pred[0, C("right_wrist"), :2] = np.nan      # no prediction: wrong
    pred[0, C("left_ankle"), 0] += 1000         # unlabelled: ignored
    pred[0, C("nose"), 0] += 1000               # not a limb joint: ignored
    correct, labelled = coco.pck_hits(pred, gt, normalizer)
    assert labelled.sum() == 11
    assert correct.sum() == 9
    summary = coco.pck_summary(correct, labelled)
    assert summary["pck"] == pytest.approx(9 / 11)
    assert summary["per_joint"]["right_elbow"] == 0.0


def test_pck_falls_back_to_box_size_without_torso():
    gt = np.zeros((2, 17, 3))
    gt[:, C("left_knee"), 2] = 2
    gt[1, C("left_shoulder"), 2] = gt[1, C("right_hip"), 2] = 2
    gt[1, C("right_hip"), :2] = (0, 20)
    normalizer, is_torso = coco.torso_normalizer(gt, np.array([[0, 0, 40, 90], [0, 0, 40, 90]]))
    np.testing.assert_allclose(normalizer, [90.0, 20.0])
    assert is_torso.tolist() == [False, True]


def test_match_people_pairs_by_oks():
    gt = np.array(tiny_gt()["annotations"][0]["keypoints"]).reshape(1, 17, 3)
    other = gt.copy()
    other[..., :2] += 200
    match = coco.match_people(np.concatenate([other, gt + [1, 1, 0]]), gt, np.array([5000.0]))
    assert match.tolist() == [1]


def test_mpjpe_by_hand():
    target = np.zeros((2, 3, 3))
    pred = target.copy()
    pred[0, 0] = (3, 4, 0)       # 5
    pred[1, 2] = (0, 0, 2)       # 2; four joints with 0
    assert mpjpe(pred, target) == pytest.approx(7 / 6)


def test_p_mpjpe_is_invariant_to_a_similarity_transform():
    rng = np.random.default_rng(3)
    target = rng.normal(size=(4, 17, 3))
    pred = target + rng.normal(scale=0.05, size=target.shape)
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0],
                    [0, 0, 1]])
    moved = 2.5 * pred @ rot.T + [1.0, -2.0, 3.0]
    assert p_mpjpe(moved, target) == pytest.approx(p_mpjpe(pred, target), rel=1e-6)
    assert p_mpjpe(2.5 * target @ rot.T + 4.0, target) == pytest.approx(0.0, abs=1e-9)
    assert mpjpe(moved, target) > 10 * p_mpjpe(moved, target)


def test_errors_are_pelvis_relative_in_mm():
    rng = np.random.default_rng(4)
    target = rng.normal(size=(5, 17, 3))
    out = errors_mm(target + [0.0, 0.0, 7.0], target)      # a shifted root is no error
    assert out["mpjpe_mm"] == pytest.approx(0.0, abs=1e-9)
    pred = target.copy()
    pred[:, H36M17.index("left_wrist"), 0] += 0.017         # 17 mm on one of 17 joints
    out = errors_mm(pred, target)
    assert out["mpjpe_mm"] == pytest.approx(1.0)
    assert out["per_joint_mm"]["left_wrist"] == pytest.approx(17.0)


def test_causal_windows_restart_per_sequence():
    windows = causal_windows(np.array([0, 0, 0, 5, 5]), 3)
    assert windows.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [3, 3, 3], [3, 3, 4]]


def test_recall_by_height_buckets_found_people():
    """tiny_gt's people are 300, 260 and 330 px tall: all in 256-512; moving one person's
    prediction far off loses them."""
    from pose_ros.eval.datasets import KeypointDataset
    from pose_ros.eval.recall import recall_by_height

    gt = tiny_gt()
    ds = KeypointDataset(name="tiny", topology=COCO17, images=gt["images"],
                         annotations=gt["annotations"])
    found = recall_by_height(ds, predictions_from(gt))
    assert found["256-512px"] == {"people": 3, "found": 3, "recall": 1.0}
    assert found["0-128px"] == {"people": 0, "found": 0, "recall": None}
    preds = predictions_from(gt)
    preds[0].keypoints[:, :2] += 200.0
    assert recall_by_height(ds, preds)["all"] == {"people": 3, "found": 2, "recall": 2 / 3}
