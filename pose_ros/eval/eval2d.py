"""2D evaluation: the 2D pipeline on COCO-format ground truth, scored by coco.py's metrics.

    datasets = [load_keypoint_dataset("person_keypoints_val.json")]
    report = evaluate_2d(datasets, PoseEstimator(eval_pipeline_config()))

Several ground-truth files are scored one by one and pooled ("all"): they are merged first
(ids renumbered), every image is run once per protocol, and each file's score is taken from its
share of the merged set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import cv2
import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.eval.coco import (
    PROTOCOLS,
    Prediction,
    coco_keypoint_stats,
    match_people,
    pck_hits,
    pck_summary,
    predict_end_to_end,
    predict_gt_boxes,
    torso_normalizer,
)
from pose_ros.eval.datasets import KeypointDataset, ignored_predictions, merge
from pose_ros.eval.recall import recall_by_height
from pose_ros.pipeline import PipelineConfig

EVAL_MAX_PEOPLE = 20   # a frame of a crowd dataset can hold many people; the node default is 5


def eval_pipeline_config(**overrides) -> PipelineConfig:
    """The pipeline as evaluated: 2D only, COCO-17, no smoothing (single images)."""
    settings = {"enable_3d": False, "smoothing": False, "skeleton": "coco17",
                "max_people": EVAL_MAX_PEOPLE}
    settings.update(overrides)
    return PipelineConfig(**settings)


def read_image(path: str) -> np.ndarray:
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise PoseRosError(f"cannot read image {path}")
    return image


def run_predictions(dataset: KeypointDataset, estimator, protocols: Iterable[str],
                    progress: bool = False) -> dict[str, list[Prediction]]:
    """Per protocol, every predicted person of every image."""
    from tqdm import tqdm

    protocols = list(protocols)
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise PoseRosError(f"unknown protocol(s) {sorted(unknown)}: use {list(PROTOCOLS)}")
    out: dict[str, list[Prediction]] = {p: [] for p in protocols}
    for im in tqdm(dataset.images, unit="image", disable=not progress, dynamic_ncols=True):
        image_bgr = read_image(im["path"])
        if "end_to_end" in out:
            out["end_to_end"] += predict_end_to_end(estimator, image_bgr, im["id"])
        if "gt_boxes" in out:
            out["gt_boxes"] += predict_gt_boxes(
                estimator.blazepose, np.ascontiguousarray(image_bgr[..., ::-1]),
                dataset.scored_annotations_of(im["id"]))
    return out


def pck_of(dataset: KeypointDataset, predictions: list[Prediction]) -> dict:
    """PCK@0.2 of the limb joints; each ground-truth person paired with one prediction."""
    by_image: dict[int, list[Prediction]] = {}
    for p in predictions:
        by_image.setdefault(p.image_id, []).append(p)
    gts, preds, boxes = [], [], []
    for im in dataset.images:
        anns = dataset.scored_annotations_of(im["id"])
        if not anns:
            continue
        gt = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, 17, 3)
        mine = by_image.get(im["id"], [])
        paired = np.full((len(anns), 17, 3), np.nan)
        if mine and mine[0].gt_id is not None:
            index = {p.gt_id: p for p in mine}
            for i, a in enumerate(anns):
                if a["id"] in index:
                    paired[i] = index[a["id"]].keypoints
        elif mine:
            kp = np.stack([p.keypoints for p in mine])
            match = match_people(kp, gt, np.array([a["area"] for a in anns]))
            paired[match >= 0] = kp[match[match >= 0]]
        gts.append(gt)
        preds.append(paired)
        boxes.append(np.array([a["bbox"] for a in anns], dtype=np.float64))
    if not gts:
        return {"pck": float("nan"), "per_joint": {}, "joints_scored": 0, "people_paired": 0,
                "torso_normalized": 0}
    gt, pred, box = np.concatenate(gts), np.concatenate(preds), np.concatenate(boxes)
    normalizer, is_torso = torso_normalizer(gt, box)
    correct, labelled = pck_hits(pred, gt, normalizer)
    return {**pck_summary(correct, labelled),
            "people_paired": int((~np.isnan(pred[:, 0, 0])).sum()),
            "torso_normalized": int(is_torso.sum())}


def drop_ignored(dataset: KeypointDataset, predictions: list[Prediction]
                 ) -> list[Prediction]:
    """The predictions not lying in their image's ignore regions (PoseTrack's unannotated
    crowds: datasets.ignored_predictions); predictions made for a ground-truth box stay."""
    images = {im["id"]: im for im in dataset.images}
    by_image: dict[int, list[Prediction]] = {}
    for p in predictions:
        by_image.setdefault(p.image_id, []).append(p)
    kept = []
    for image_id, mine in by_image.items():
        free = [p for p in mine if p.gt_id is None]
        drop = ignored_predictions(images[image_id], np.array([p.keypoints for p in free])) \
            if image_id in images and free else np.zeros(len(free), bool)
        dropped = {id(p) for p, d in zip(free, drop) if d}
        kept += [p for p in mine if id(p) not in dropped]
    return kept


def score(dataset: KeypointDataset, predictions: list[Prediction]) -> dict:
    """Every number of one set; predictions in ignore regions are dropped first (and counted,
    with the AP they would have given, as predictions_ignored and AP_with_ignored)."""
    kept = drop_ignored(dataset, predictions)
    out = {**coco_keypoint_stats(dataset.coco_dict(), kept),
           "pck": pck_of(dataset, kept), "predictions": len(kept),
           "predictions_ignored": len(predictions) - len(kept),
           "recall_by_height": recall_by_height(dataset, kept)}
    if len(kept) < len(predictions):
        out["AP_with_ignored"] = coco_keypoint_stats(dataset.coco_dict(), predictions)["AP"]
    return out


def evaluate_2d(datasets: list[KeypointDataset], estimator,
                protocols: Iterable[str] = PROTOCOLS, progress: bool = False
                ) -> tuple[dict, dict[str, list[Prediction]]]:
    """{"datasets": {name: {...per protocol}}, "all": {...} (several files)}, and the
    predictions per protocol (image ids of the merged set)."""
    if not datasets:
        raise PoseRosError("no ground truth given")
    merged = merge(datasets)
    predictions = run_predictions(merged, estimator, protocols, progress)
    parts, start = {}, 1
    for ds in datasets:
        ids = set(range(start, start + len(ds.images)))
        start += len(ds.images)
        name = ds.name
        while name in parts:
            name += "+"
        parts[name] = dataclasses.replace(merged.subset(name, ids), topology=ds.topology)
    report: dict = {"datasets": {}}
    for name, part in parts.items():
        report["datasets"][name] = {
            "keypoint_set": part.topology.name, "images": len(part.images),
            "people": part.num_people,
            **{proto: score(part, [p for p in preds if p.image_id in
                                   {im["id"] for im in part.images}])
               for proto, preds in predictions.items()}}
    if len(parts) > 1:
        report["all"] = {"keypoint_set": "mixed", "images": len(merged.images),
                         "people": merged.num_people,
                         **{proto: score(merged, preds) for proto, preds in predictions.items()}}
    return report, predictions
