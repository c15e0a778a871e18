"""BlazePose person detector post-processing: SSD anchors, box/keypoint decoding, weighted NMS.

Mirrors MediaPipe's pose_detection_cpu graph (SsdAnchors, TensorsToDetections,
NonMaxSuppression WEIGHTED, DetectionLetterboxRemoval) and pose_detection_to_roi, but returns
every person found instead of only the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pose_ros.models.roi import project_to_source, rois_from_points

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
NUM_KEYPOINTS = 4  # mid-hip, full-body size/rotation point, mid-shoulder, upper-body point
SCORE_CLIP = 100.0
NMS_IOU = 0.3


def ssd_anchors(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """(2254, 2) anchor centres in [0, 1], MediaPipe's SsdAnchorsCalculator with fixed size.

    Consecutive layers with the same stride share one grid; each layer puts 2 anchors per cell
    (aspect ratio 1 plus the interpolated scale), all with width = height = 1.
    """
    centres, layer = [], 0
    while layer < len(strides):
        stride, per_cell = strides[layer], 0
        while layer < len(strides) and strides[layer] == stride:
            per_cell += 2
            layer += 1
        cells = int(np.ceil(input_size / stride))
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        yy, xx = np.meshgrid(grid, grid, indexing="ij")
        xy = np.stack([xx, yy], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(xy, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(centres)


@dataclass
class Detections:
    """People found in one image, best first; coordinates in source-image pixels."""

    scores: np.ndarray  # (M,)
    boxes_px: np.ndarray  # (M, 4) x0, y0, x1, y1 of the face box the detector regresses
    keypoints_px: np.ndarray  # (M, 4, 2)
    rois: np.ndarray  # (M, 4) cx, cy, size, rotation (pose_detection_to_roi)


def decode(raw_boxes: torch.Tensor, raw_scores: torch.Tensor, anchors: torch.Tensor,
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 2254, 12), (B, 2254, 1) -> scores (B, A), boxes (B, A, 4), keypoints (B, A, 4, 2).

    Coordinates are normalized to the 224 x 224 letterboxed input (x first in the tensor).
    """
    scores = torch.sigmoid(raw_scores[..., 0].clamp(-SCORE_CLIP, SCORE_CLIP))
    raw = raw_boxes / INPUT_SIZE
    centre = raw[..., 0:2] + anchors
    half = raw[..., 2:4] / 2
    boxes = torch.cat([centre - half, centre + half], dim=-1)
    keypoints = raw[..., 4:4 + 2 * NUM_KEYPOINTS].unflatten(-1, (NUM_KEYPOINTS, 2))
    return scores, boxes, keypoints + anchors[:, None, :]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, keypoints: np.ndarray,
                 iou_threshold: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's WEIGHTED non-max suppression: each cluster of boxes overlapping the best one
    by more than iou_threshold becomes one detection, its coordinates the score-weighted mean of
    the cluster's, its score the best one's. One iteration per person found."""
    order = np.argsort(-scores, kind="stable")
    out_s, out_b, out_k = [], [], []
    while len(order):
        best = order[0]
        members = _iou(boxes[best], boxes[order]) > iou_threshold
        members[0] = True  # a degenerate (zero-area) best box still forms its own cluster
        cluster = order[members]
        w = scores[cluster] / scores[cluster].sum()
        out_s.append(scores[best])
        out_b.append(np.tensordot(w, boxes[cluster], axes=1))
        out_k.append(np.tensordot(w, keypoints[cluster], axes=1))
        order = order[~members]
    count = len(out_s)
    return (np.array(out_s, dtype=np.float32).reshape(count),
            np.array(out_b, dtype=np.float32).reshape(count, 4),
            np.array(out_k, dtype=np.float32).reshape(count, NUM_KEYPOINTS, 2))


def candidates(raw_boxes: torch.Tensor, raw_scores: torch.Tensor, anchors: torch.Tensor,
               regions: torch.Tensor, threshold: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs of a batch of square regions (B, 4: cx, cy, side, rotation) -> every anchor
    scoring >= threshold, before NMS, in source pixels: scores (M,), boxes (M, 4),
    keypoints (M, 4, 2) and the region index of each (M,). Candidates of several regions (the
    letterboxed frame and tiles of it) then go through one weighted_nms together."""
    scores, boxes, keypoints = decode(raw_boxes.float(), raw_scores.float(), anchors)
    region, anchor = torch.nonzero(scores >= threshold, as_tuple=True)
    pts = torch.cat([boxes[region, anchor].reshape(-1, 2, 2), keypoints[region, anchor]], dim=1)
    pts_px = project_to_source(pts, regions[region].float()).cpu().numpy()
    return (scores[region, anchor].cpu().numpy(), pts_px[:, :2].reshape(-1, 4),
            pts_px[:, 2:], region.cpu().numpy())


def detections(scores: np.ndarray, boxes_px: np.ndarray, keypoints_px: np.ndarray
               ) -> Detections:
    """Candidates in source pixels (from any number of regions) -> people, best first:
    weighted NMS, then each person's ROI (pose_detection_to_roi)."""
    scores, boxes_px, keypoints_px = weighted_nms(scores, boxes_px, keypoints_px)
    return Detections(scores=scores, boxes_px=boxes_px, keypoints_px=keypoints_px,
                      rois=rois_from_points(keypoints_px[:, 0], keypoints_px[:, 1]))


def postprocess(raw_boxes: torch.Tensor, raw_scores: torch.Tensor, anchors: torch.Tensor,
                letterbox: torch.Tensor, threshold: float) -> Detections:
    """One image's raw detector outputs (batch 1) -> people in source pixels, best first."""
    scores, boxes, keypoints = decode(raw_boxes[:1].float(), raw_scores[:1].float(), anchors)
    keep = scores[0] >= threshold
    scores_np = scores[0][keep].cpu().numpy()
    boxes_np = boxes[0][keep].cpu().numpy()
    kps_np = keypoints[0][keep].cpu().numpy()
    scores_np, boxes_np, kps_np = weighted_nms(scores_np, boxes_np, kps_np)
    # letterboxed-normalized -> source pixels (the letterbox ROI has no rotation)
    pts = torch.from_numpy(np.concatenate([boxes_np.reshape(-1, 2, 2), kps_np], axis=1))
    pts_px = project_to_source(pts.reshape(1, -1, 2), letterbox.cpu().float())
    pts_px = pts_px.reshape(-1, 2 + NUM_KEYPOINTS, 2).numpy()
    kps_px = pts_px[:, 2:]
    return Detections(scores=scores_np, boxes_px=pts_px[:, :2].reshape(-1, 4),
                      keypoints_px=kps_px, rois=rois_from_points(kps_px[:, 0], kps_px[:, 1]))
