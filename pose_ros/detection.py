"""Person detection at more than one scale: BlazePose's detector on the whole frame and on
overlapping square tiles of it, merged by the detector's own weighted NMS.

BlazePose's detector (224 x 224 input, made for people near the camera) finds a person reliably
only down to about 0.3 of its input's side: 22 annotated people of ../shared/data/annotated,
scaled onto a grey canvas, were found (score >= 0.5) in 82 % of cases at 0.28 of the side,
73 % at 0.22, 41 % at 0.18 and 9 % at 0.12. On the whole letterboxed frame that is 0.3 of the
long side (384 px in a 1280 x 720 frame: a person closer than ~4 m with a 70-degree lens), so
smaller people are looked for in tiles: level k has square tiles of side short_side / 2**(k-1)
(and no less than MIN_TILE_PX, at most 2x upscaling), overlapping by a third, so level 1 finds
people down to ~0.3 x the short side and level 2 down to ~0.15 x (108 px at 720p: ~14 m).

Budget: a tile costs one detector pass (as much as the whole frame). After a reset (first frame,
single images) every tile is searched at once; then one tile every `tile_every_n_frames`
frames, round robin, skipping tiles whose centre a tracked person's box already covers; while
someone is lost, the due tile is the one that holds their last box whole instead. People
found are handed back with the detector's boxes and keypoints, so the caller can tell a
re-detection of someone it tracks from a newcomer (`new_people`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pose_ros.models import blazepose_detector as det
from pose_ros.models.roi import Roi, letterbox_roi, rois_from_points

DETECTOR_MIN_FRACTION = 0.3   # smallest person the detector finds reliably / its input side
TILE_STRIDE = 2.0 / 3.0       # tiles overlap by a third of their side
MIN_TILE_PX = 160             # tiles are upscaled at most 1.4x (more made false people in video)
ROI_NMS_IOU = 0.5             # detections whose ROIs overlap this much are one person
TILE_MAX_ROI = 2.0            # a tile keeps people whose ROI is at most this x its side
LEVEL_RATIO = 2.0             # tile side shrinks by this from one level to the next


def tile_regions(width: int, height: int, levels: int) -> np.ndarray:
    """(N, 4) square tiles (cx, cy, side, 0) covering the image, coarse levels first.

    Level k: side = short side / 2**(k-1) (>= MIN_TILE_PX), stride 2/3 of the side, the last
    row and column flush with the image's edges. A level whose tiles would cover the image in
    one tile (a square image at level 1) adds nothing to the whole-frame pass and is skipped.
    """
    out = []
    short = min(width, height)
    for k in range(levels):
        side = short / LEVEL_RATIO ** k
        if side < MIN_TILE_PX:
            break
        xs = _starts(width, side)
        ys = _starts(height, side)
        if len(xs) * len(ys) == 1:
            continue
        x0, y0 = np.meshgrid(xs, ys)
        centres = np.stack([x0.ravel() + side / 2, y0.ravel() + side / 2], axis=1)
        out.append(np.column_stack([centres, np.full(len(centres), side),
                                    np.zeros(len(centres))]))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 4), np.float32)


def _starts(length: int, side: float) -> np.ndarray:
    count = max(int(np.ceil((length - side) / (side * TILE_STRIDE) - 1e-6)), 0) + 1
    return np.linspace(0.0, length - side, count) if count > 1 else np.zeros(1)


def seen_whole(tiles: np.ndarray, boxes_px: np.ndarray, keypoints_px: np.ndarray) -> np.ndarray:
    """(N,) whether tile i (N, 4: cx, cy, side, 0) sees detection i whole: its face box lies
    inside the tile and its region of interest is at most TILE_MAX_ROI x the tile's side.

    This replaced a rule that kept a person only from the one tile whose core (the tile less
    half its overlaps) held their box centre: when that tile's view of them was the one the
    detector missed (on ../shared/data/annotated posetrack18, two dancers of 362 and 186 px
    seen at 0.87 and 0.65 by a neighbouring tile), they were lost; now every tile that sees
    them whole adds its candidates and the weighted NMS merges them.
    """
    half = tiles[:, 2:3] / 2
    inside = ((boxes_px[:, :2] >= tiles[:, :2] - half).all(axis=1)
              & (boxes_px[:, 2:] <= tiles[:, :2] + half).all(axis=1))
    size = rois_from_points(keypoints_px[:, 0], keypoints_px[:, 1])[:, 2]
    return inside & (size <= TILE_MAX_ROI * tiles[:, 2])


@dataclass
class Found:
    """People found in one frame, best first (source pixels).

    Attributes:
        rois: the landmark model's regions of interest.
        boxes_px: (N, 4) the detector's boxes (head and shoulders).
        keypoints_px: (N, 4, 2) mid-hip, body-size point, mid-shoulder, upper-body point.
        passes: detector inputs run (whole frame + tiles).
    """

    rois: list[Roi]
    boxes_px: np.ndarray
    keypoints_px: np.ndarray
    passes: int


class MultiScaleDetector:
    """BlazePose's detector on the frame and on tiles, on a budget (see the module docstring).

    Args:
        blazepose: a models.blazepose.BlazePose (its detector and threshold are used).
        tile_levels: tile levels (0: whole frame only, as MediaPipe).
        tile_every_n_frames: one tile is searched every this many frames (round robin).
    """

    def __init__(self, blazepose, *, tile_levels: int = 2, tile_every_n_frames: int = 10) -> None:
        if tile_levels < 0 or tile_every_n_frames < 1:
            raise ValueError("tile_levels must be >= 0 and tile_every_n_frames >= 1")
        self.blazepose = blazepose
        self.tile_levels = tile_levels
        self.tile_every_n_frames = tile_every_n_frames
        self._grid_for: tuple[int, int] | None = None
        self.reset()

    def reset(self) -> None:
        """A new stream: the next call searches every tile."""
        self._full_scan = True
        self._next_tile = 0
        self._frames = 0

    def _tiles(self, width: int, height: int) -> np.ndarray:
        if self._grid_for != (width, height):
            self._grid_for = (width, height)
            self._grid = tile_regions(width, height, self.tile_levels)
            self._next_tile = 0
        return self._grid

    def tile_boxes(self, width: int, height: int, tiles: np.ndarray) -> np.ndarray:
        """(N, 4) square regions (cx, cy, side, 0) of the given tile indices."""
        return self._tiles(width, height)[tiles]

    def due_tiles(self, width: int, height: int, covered_px: np.ndarray,
                  lost_px: np.ndarray | None = None) -> np.ndarray:
        """Indices of the tiles to search in this frame (advances the schedule by a frame).

        covered_px: (M, 4) boxes of tracked people; a tile whose centre one of them covers is
        skipped in the round robin (its person is tracked; the whole-frame pass still runs
        every detect_every_n_frames for newcomers there). lost_px: (L, 4) last boxes of people
        just lost: when a tile is due, the one that holds the first of them whole is searched
        instead of the round robin's, covered or not (a person half behind someone tracked is
        where the coverage rule would never look)."""
        grid = self._tiles(width, height)
        if not len(grid):
            return np.zeros(0, int)
        if self._full_scan:
            self._full_scan = False
            self._frames = 0
            return np.arange(len(grid))
        self._frames += 1
        if self._frames % self.tile_every_n_frames:
            return np.zeros(0, int)
        if lost_px is not None and len(lost_px):
            tile = tile_holding(grid, np.asarray(lost_px, np.float64)[0])
            if tile is not None:
                return np.array([tile])
        covered = _covered(grid[:, :2], covered_px)
        for step in range(len(grid)):
            i = (self._next_tile + step) % len(grid)
            if not covered[i]:
                self._next_tile = i + 1
                return np.array([i])
        return np.zeros(0, int)

    def detect(self, image, whole_frame: bool, tiles: np.ndarray) -> Found:
        """The detector on the whole frame (when asked) and on the given tiles, in one batch;
        candidates merged by weighted NMS. image: an RGB array or a BlazePose FrameInput."""
        height, width = image.shape[:2]
        regions = [letterbox_roi(width, height)] if whole_frame else []
        if len(tiles):
            regions.append(self.tile_boxes(width, height, tiles))
        if not regions:
            return Found([], np.zeros((0, 4), np.float32), np.zeros((0, 4, 2), np.float32), 0)
        regions_arr = np.concatenate(regions)
        scores, boxes, keypoints, region = self.blazepose.detect_regions(image, regions_arr)
        # A tile keeps the people it sees whole: their face box inside the tile and their
        # region no bigger than TILE_MAX_ROI x its side. A bigger person is a coarser view's,
        # and a tile that sees part of someone guesses a smaller body that would pull the
        # merged ROI off. Views that see the same person whole merge in the weighted NMS.
        from_tile = region >= (1 if whole_frame else 0)
        if from_tile.any():
            keep = ~from_tile
            keep[from_tile] = seen_whole(regions_arr[region[from_tile]], boxes[from_tile],
                                         keypoints[from_tile])
            scores, boxes, keypoints = scores[keep], boxes[keep], keypoints[keep]
        found = det.detections(scores, boxes, keypoints)
        keep = distinct_rois(found.rois)
        rois = [Roi(r[:2], r[2], r[3], s)
                for r, s in zip(found.rois[keep], found.scores[keep], strict=True)]
        return Found(rois, found.boxes_px[keep], found.keypoints_px[keep], len(regions_arr))


def distinct_rois(rois: np.ndarray, iou_threshold: float = ROI_NMS_IOU) -> np.ndarray:
    """Indices of the (N, 4) ROIs (best first) that overlap no better one by iou_threshold.

    One person seen at two scales gives two detections whose boxes (head and shoulders, sized
    by each view's guess of the body) can overlap too little for the weighted NMS, while their
    regions of interest, hip-centred squares, nearly coincide."""
    half = rois[:, 2:3] / 2
    boxes = np.concatenate([rois[:, :2] - half, rois[:, :2] + half], axis=1).astype(np.float64)
    keep: list[int] = []
    for i in range(len(rois)):
        if not keep or (_iou(boxes[i], boxes[keep]) < iou_threshold).all():
            keep.append(i)
    return np.array(keep, dtype=int)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=1)
    union = (box[2:] - box[:2]).prod() + (boxes[:, 2:] - boxes[:, :2]).prod(axis=1) - inter
    return inter / np.maximum(union, 1e-9)


def tile_holding(tiles: np.ndarray, box_px: np.ndarray) -> int | None:
    """The smallest of the (N, 4) tiles that holds box_px (x0, y0, x1, y1) whole, the nearest
    to its centre among those; None if none does."""
    half = tiles[:, 2] / 2
    inside = ((tiles[:, 0] - half <= box_px[0]) & (tiles[:, 1] - half <= box_px[1])
              & (tiles[:, 0] + half >= box_px[2]) & (tiles[:, 1] + half >= box_px[3]))
    if not inside.any():
        return None
    centre = (box_px[:2] + box_px[2:]) / 2
    distance = np.linalg.norm(tiles[:, :2] - centre, axis=1)
    order = np.lexsort((distance, tiles[:, 2]))
    return int(next(i for i in order if inside[i]))


def _covered(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N,) whether each point lies inside one of the (M, 4) boxes."""
    if not len(boxes):
        return np.zeros(len(points), bool)
    p = points[:, None, :]
    return ((p >= boxes[None, :, :2]) & (p <= boxes[None, :, 2:])).all(axis=2).any(axis=1)
