"""Body proposals: people BlazePose's detector misses, found in a person mask of the tiles.

BlazePose's detector finds a face and extrapolates the body, so a person whose face it does not
see (turned away, blurred, small) can stay unfound while plainly visible: on the basketball clip
in ../shared/data/video the player in blue goes without a pose from frame 140 to 240, his best
detector candidate in any tile scoring 0.5 at most until frame 250. MediaPipe's selfie segmentation
(models/segmentation.py) marks person pixels whatever the pose, so each tile the detector
searches is also segmented (unless a known person's region of interest holds its centre, as
the round robin skips covered tiles): a connected person region at least MIN_HEIGHT of the
tile's side whose centre no known person's region of interest holds becomes an upright landmark
ROI (side ROI_SCALE x the region's longer side, centred on it). The landmark model's presence
and the pipeline's duplicate rules then decide whether it is a new person.

Measured (README, "People the detector misses, body proposals"): the basketball player is
found from frame 220; no change on the annotated images; 5-7 ms per segmented tile on the CPU
here.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose_ros.models.roi import Roi, crop_cv2
from pose_ros.models.segmentation import INPUT_SIZE, PersonSegmenter

MASK_THRESHOLD = 0.5    # person probability of a mask pixel
MIN_HEIGHT = 0.25       # a region shorter than this share of the tile's side is not proposed
ROI_SCALE = 1.25        # ROI side / the region's longer side (the landmark model's framing)
PROPOSAL_SCORE = 0.0    # a proposal has no detector score; presence decides


def mask_rois(masks: np.ndarray, tiles: np.ndarray, min_height: float = MIN_HEIGHT
              ) -> np.ndarray:
    """(K, 4) upright ROIs (cx, cy, side, 0) in source pixels, one per connected person region
    of each (N, S, S) mask that is at least min_height x S tall; tiles (N, 4) are the square
    regions (cx, cy, side, 0) the masks were cut from."""
    out = []
    for mask, (cx, cy, side, _) in zip(masks, tiles, strict=True):
        scale = side / mask.shape[0]
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            (mask >= MASK_THRESHOLD).astype(np.uint8))
        x, y, w, h = stats[1:count, :4].T.astype(np.float64)
        tall = h >= min_height * mask.shape[0]
        if tall.any():
            out.append(np.column_stack([
                cx - side / 2 + scale * (x + w / 2)[tall],
                cy - side / 2 + scale * (y + h / 2)[tall],
                ROI_SCALE * scale * np.maximum(w, h)[tall], np.zeros(int(tall.sum()))]))
    return np.concatenate(out) if out else np.zeros((0, 4))


def untaken(rois: np.ndarray, taken: list[Roi]) -> np.ndarray:
    """(K,) whether no taken ROI's (axis-aligned) square holds the centre of each of the (K, 4)
    regions (cx, cy, ...)."""
    if not taken or not len(rois):
        return np.ones(len(rois), bool)
    known = np.array([[*r.center_px, r.size_px / 2] for r in taken], np.float64)
    offset = np.abs(rois[:, None, :2] - known[None, :, :2])
    return ~(offset <= known[None, :, 2:3]).all(axis=2).any(axis=1)


class BodyProposals:
    """Landmark ROIs from the person mask of the given tiles (see the module docstring)."""

    def __init__(self, segmenter: PersonSegmenter) -> None:
        self.segmenter = segmenter

    def __call__(self, frame, tiles: np.ndarray, taken: list[Roi]) -> list[Roi]:
        """frame: a BlazePose FrameInput; tiles: (N, 4) square regions; taken: the ROIs of the
        people already tracked or detected in this frame."""
        tiles = np.asarray(tiles, np.float64)
        tiles = tiles[untaken(tiles, taken)]   # as the round robin: a covered tile is skipped
        if not len(tiles):
            return []
        crops = crop_cv2(frame.pixels, np.asarray(tiles, np.float32), INPUT_SIZE, "zero")
        if frame.bgr:
            crops = crops[..., ::-1]
        rois = mask_rois(self.segmenter.masks(np.ascontiguousarray(crops)), tiles)
        return [Roi(r[:2], r[2], 0.0, PROPOSAL_SCORE) for r in rois[untaken(rois, taken)]]
