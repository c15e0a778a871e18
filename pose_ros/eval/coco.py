"""2D accuracy: COCO keypoint AP/AR (pycocotools, OKS with the standard sigmas) and PCK@0.2.

Two protocols, both scored on the same ground truth:
  * "end_to_end": the whole 2D pipeline on each image (our detector, then the landmark model),
    every image on its own (tracks reset);
  * "gt_boxes": the usual top-down protocol, crop by each ground-truth box: the image inside the
    box (enlarged by 25 % on each side) goes to BlazePose's detector, whose best detection gives
    the region of interest (hip-centred, framed as the landmark model was trained, also for a
    person cut by the image border); the landmark model then runs on every box's region in one
    batch. A box where the detector finds no one gets an upright square region around the box
    (side 1.25 x its longer side). On the annotated smoke-check images (46 people) this scored
    AP 0.358 against 0.334 for the box region refined once by the landmarks' own next region.

Prediction score (COCO ranks by it) = pose presence x mean keypoint score of the 17 joints.
PCK@0.2 counts a labelled limb joint (shoulders, elbows, wrists, hips, knees, ankles) as correct
when it is within 0.2 x the torso diameter (left shoulder to right hip, else right shoulder to
left hip) of the ground truth, or 0.2 x the box's longer side where neither diagonal is labelled.
Each ground-truth person is paired with at most one prediction (Hungarian on OKS); a person
without a prediction counts all its joints as missed.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from pose_ros.skeleton import COCO17
from pose_ros.tracking import COCO17_SIGMAS, oks

PROTOCOLS = ("end_to_end", "gt_boxes")
LIMB_JOINTS = np.array([COCO17.index(n) for n in COCO17.keypoint_names[5:]])  # the 12 limbs
PCK_ALPHA = 0.2
GT_BOX_SCALE = 1.25     # crop = box enlarged by this factor; fallback region side / longer side
COCO_STAT_NAMES = ("AP", "AP50", "AP75", "AP_M", "AP_L", "AR", "AR50", "AR75", "AR_M", "AR_L")


@dataclass
class Prediction:
    """One predicted person: (17, 3) COCO-17 x_px, y_px, score, and a ranking score.

    gt_id: the ground-truth annotation it was made for (gt_boxes protocol), else None.
    """

    image_id: int
    keypoints: np.ndarray
    score: float
    gt_id: int | None = None

    def coco_result(self) -> dict:
        kp = np.column_stack([self.keypoints[:, :2], np.ones(17)])
        return {"image_id": int(self.image_id), "category_id": 1,
                "keypoints": kp.reshape(-1).round(2).tolist(), "score": float(self.score)}


def person_score(presence: float, keypoints: np.ndarray) -> float:
    return float(presence * keypoints[:, 2].mean())


def coco_keypoint_stats(gt: dict, predictions: list[Prediction]) -> dict[str, float]:
    """pycocotools' 10 keypoint numbers (AP, AP50, ..., AR_L) for COCO-17 ground truth `gt` (a
    COCO dict: images, annotations, categories). -1 means no ground truth in that size range."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = COCO()
        results = []
        for i, p in enumerate(predictions, start=1):
            r = p.coco_result()
            x, y = p.keypoints[:, 0], p.keypoints[:, 1]
            r.update(id=i, bbox=[float(x.min()), float(y.min()), float(np.ptp(x)),
                                 float(np.ptp(y))], area=float(np.ptp(x) * np.ptp(y)))
            results.append(r)
        coco_dt.dataset = {"images": gt["images"], "annotations": results,
                           "categories": gt["categories"]}
        coco_dt.createIndex()
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.kpt_oks_sigmas = COCO17_SIGMAS.copy()
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(COCO_STAT_NAMES, (float(s) for s in ev.stats)))


def keypoint_oks(pred: np.ndarray, gt: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """(D, 17, 2+) predictions vs (G, 17, 3) ground truth (visibility flags) -> (D, G) OKS,
    pycocotools' formula over the labelled joints of each ground-truth person."""
    pred_all = np.concatenate([pred[..., :2], np.ones((*pred.shape[:-1], 1))], axis=-1)
    labelled = np.concatenate([gt[..., :2], (gt[..., 2:3] > 0).astype(np.float64)], axis=-1)
    return oks(pred_all, labelled, areas, COCO17_SIGMAS, min_score=0.5)


def torso_normalizer(gt: np.ndarray, bbox_xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 3), (N, 4) -> PCK reference length per person, and whether it is a torso
    diagonal (else the box's longer side)."""
    c = COCO17.index
    out = np.maximum(bbox_xywh[:, 2], bbox_xywh[:, 3]).astype(np.float64)
    is_torso = np.zeros(len(gt), bool)
    for a, b in (("right_shoulder", "left_hip"), ("left_shoulder", "right_hip")):
        ok = (gt[:, c(a), 2] > 0) & (gt[:, c(b), 2] > 0)
        length = np.linalg.norm(gt[:, c(a), :2] - gt[:, c(b), :2], axis=-1)
        ok &= length > 0
        out = np.where(ok, length, out)
        is_torso |= ok
    return out, is_torso


def pck_hits(pred: np.ndarray, gt: np.ndarray, normalizer: np.ndarray,
             alpha: float = PCK_ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """(N, 17, 2+) predictions (NaN = none), (N, 17, 3) ground truth, (N,) lengths ->
    (N, 12) correct and (N, 12) labelled, for the limb joints."""
    p, g = pred[:, LIMB_JOINTS, :2], gt[:, LIMB_JOINTS]
    dist = np.linalg.norm(p - g[..., :2], axis=-1)
    labelled = g[..., 2] > 0
    correct = labelled & (dist <= alpha * normalizer[:, None])   # NaN (no prediction): False
    return correct, labelled


def pck_summary(correct: np.ndarray, labelled: np.ndarray) -> dict:
    per_joint = correct.sum(0) / np.maximum(labelled.sum(0), 1)
    return {"pck": float(correct.sum() / max(labelled.sum(), 1)),
            "per_joint": dict(zip([COCO17.keypoint_names[j] for j in LIMB_JOINTS],
                                  per_joint.round(4).tolist())),
            "joints_scored": int(labelled.sum())}


def match_people(pred: np.ndarray, gt: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """Per ground-truth person, the index of its prediction (Hungarian on OKS; -1 = none)."""
    out = np.full(len(gt), -1)
    if len(pred) and len(gt):
        sim = keypoint_oks(pred, gt, areas)
        rows, cols = linear_sum_assignment(-sim)
        keep = sim[rows, cols] > 0
        out[cols[keep]] = rows[keep]
    return out


def roi_from_box(bbox_xywh):
    """Upright square ROI around a ground-truth box (the fallback region)."""
    from pose_ros.models.roi import Roi

    x, y, w, h = (float(v) for v in bbox_xywh)
    return Roi(np.array([x + w / 2, y + h / 2]), GT_BOX_SCALE * max(w, h), 0.0)


def roi_in_box(blazepose, image_rgb: np.ndarray, bbox_xywh):
    """BlazePose's best detection inside the enlarged box, in image pixels (see the module
    docstring); the fallback region when it finds no one."""
    from pose_ros.models.roi import Roi

    x, y, w, h = (float(v) for v in bbox_xywh)
    height, width = image_rgb.shape[:2]
    margin_w, margin_h = (GT_BOX_SCALE - 1) / 2 * w, (GT_BOX_SCALE - 1) / 2 * h
    x0, y0 = max(int(np.floor(x - margin_w)), 0), max(int(np.floor(y - margin_h)), 0)
    x1 = min(int(np.ceil(x + w + margin_w)), width)
    y1 = min(int(np.ceil(y + h + margin_h)), height)
    found = []
    if x1 - x0 >= 2 and y1 - y0 >= 2:
        found = blazepose.detect(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]))
    if not found:
        return roi_from_box(bbox_xywh)
    best = found[0]
    return Roi(best.center_px + np.array([x0, y0], np.float32), best.size_px,
               best.rotation_rad, best.score)


def predict_end_to_end(estimator, image_bgr: np.ndarray, image_id: int) -> list[Prediction]:
    """The 2D pipeline (detector, landmarks, tracking's duplicate removal) on one image."""
    estimator.reset()
    people = estimator(image_bgr, 0.0)
    return [Prediction(image_id, p.keypoints_2d.astype(np.float64),
                       person_score(p.score, p.keypoints_2d)) for p in people]


def predict_gt_boxes(blazepose, image_rgb: np.ndarray, annotations: list[dict]
                     ) -> list[Prediction]:
    """The landmark model on each ground-truth box's region, one batch for the image."""
    if not annotations:
        return []
    rois = [roi_in_box(blazepose, image_rgb, a["bbox"]) for a in annotations]
    results = blazepose.landmarks(image_rgb, rois)
    return [Prediction(a["image_id"], r.coco17().astype(np.float64),
                       person_score(r.presence, r.coco17()), gt_id=a["id"])
            for a, r in zip(annotations, results, strict=True)]
