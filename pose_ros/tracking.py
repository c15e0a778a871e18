"""Track ids across frames: Hungarian matching on keypoint similarity (OKS) or box IoU, with gating.

Life cycle: a new detection opens a TENTATIVE track; it becomes CONFIRMED after `min_hits`
consecutive matches (at once during the first `min_hits` frames of a run, so people present
from the start appear immediately); a tentative track that misses a frame is dropped; a confirmed
track that misses becomes LOST, keeps its id while it coasts on a constant-velocity prediction,
and is pruned after `max_age_frames` misses. So memory stays flat on endless streams, and ids
(unsigned, counted up from 1) are never reused within a run.

The tracker only assigns ids and runs this life cycle; what the pipeline keeps about a person
between frames (ROI, lifter history, filters) is a PersonState it owns, keyed by track id
(person_state.py), and dropped when an update reports the track removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from scipy.optimize import linear_sum_assignment

# COCO keypoint sigmas (cocoapi), the per-joint spread OKS uses for the 17 COCO joints.
COCO17_SIGMAS = np.array([
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062,
    0.107, 0.107, 0.087, 0.087, 0.089, 0.089], dtype=np.float64)


ORIGIN_MIN_IOU = 0.1   # box overlap that lets a tracking-mode result keep its origin track


class TrackState(Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"


@dataclass(frozen=True)
class TrackerParams:
    """Tracking parameters.

    Attributes:
        metric: "oks" (keypoints; separates people whose boxes overlap) or "iou" (boxes).
        min_similarity: gate; a pair less similar than this is never matched.
        min_hits: consecutive matches before a tentative track is confirmed.
        max_age_frames: misses after which a lost track is pruned.
        min_keypoint_score: keypoints below this score are ignored by OKS.
    """

    metric: str = "oks"
    min_similarity: float = 0.3
    min_hits: int = 3
    max_age_frames: int = 30
    min_keypoint_score: float = 0.3

    def __post_init__(self) -> None:
        if self.metric not in ("oks", "iou"):
            raise ValueError(f"tracking metric must be 'oks' or 'iou', got {self.metric!r}")
        if not 0.0 <= self.min_similarity < 1.0:
            raise ValueError(f"min_similarity must be in [0, 1), got {self.min_similarity}")
        if self.min_hits < 1 or self.max_age_frames < 0:
            raise ValueError("min_hits must be >= 1 and max_age_frames >= 0")


@dataclass(eq=False)
class Track:
    """One tracked person: its id, life-cycle state and the motion the matching predicts from."""

    track_id: int
    keypoints: np.ndarray          # (K, 3) last matched x_px, y_px, score
    bbox_px: np.ndarray            # (4,) last matched box
    score: float
    stamp_s: float                 # stamp of the last match
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1                  # consecutive matches
    misses: int = 0                # consecutive frames without a match
    velocity_px_s: np.ndarray = field(default_factory=lambda: np.zeros(2))

    @property
    def matched(self) -> bool:
        """True when the track was matched in the latest update."""
        return self.misses == 0

    def predicted(self, stamp_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints and box moved by the track's velocity to stamp_s (constant velocity)."""
        shift = self.velocity_px_s * max(stamp_s - self.stamp_s, 0.0)
        keypoints = self.keypoints.copy()
        keypoints[:, :2] += shift
        return keypoints, self.bbox_px + np.tile(shift, 2)


@dataclass
class Update:
    """The result of one tracker update.

    Attributes:
        tracks: per detection (same order), the track it now belongs to.
        lost: confirmed tracks that became lost in this update.
        removed: tracks deleted in this update (their resources can be dropped).
    """

    tracks: list[Track]
    lost: list[Track]
    removed: list[Track]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) boxes x0, y0, x1, y1 -> (N, M) intersection over union."""
    a = a[:, None, :]
    b = b[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def centre_similarity(boxes: np.ndarray, ref_boxes: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) -> (N, M): 1 - distance between box centres / the reference box's
    longer side, clipped at 0 (1: same place; 0: a body length away or more)."""
    centre = (boxes[:, None, :2] + boxes[:, None, 2:]) / 2
    ref_centre = (ref_boxes[None, :, :2] + ref_boxes[None, :, 2:]) / 2
    size = np.maximum((ref_boxes[:, 2:] - ref_boxes[:, :2]).max(axis=1), 1.0)[None, :]
    return np.clip(1.0 - np.linalg.norm(centre - ref_centre, axis=-1) / size, 0.0, 1.0)


def oks(a: np.ndarray, b: np.ndarray, areas_b: np.ndarray, sigmas: np.ndarray,
        min_score: float) -> np.ndarray:
    """Object keypoint similarity, (N, K, 3) vs (M, K, 3) -> (N, M).

    `b` plays the role of the ground truth (its box areas set the scale); joints count where
    both sides score >= min_score. Pairs with no joint in common get 0.
    """
    d2 = ((a[:, None, :, :2] - b[None, :, :, :2]) ** 2).sum(-1)          # (N, M, K)
    var = (2.0 * sigmas) ** 2                                             # (K,)
    e = d2 / (2.0 * var[None, None, :] * np.maximum(areas_b, 1.0)[None, :, None])
    both = (a[:, None, :, 2] >= min_score) & (b[None, :, :, 2] >= min_score)
    count = both.sum(-1)
    return np.where(count > 0, (np.exp(-e) * both).sum(-1) / np.maximum(count, 1), 0.0)


def keypoint_agreement(keypoints: np.ndarray, areas: np.ndarray, sigmas: np.ndarray,
                       min_score: float, min_similarity: float = 0.75) -> np.ndarray:
    """(N, K, 3) -> (N, N): fraction of joints confident in both that lie close together.

    Two results of the 2D model on overlapping regions can agree on the visible joints (face,
    shoulders) and disagree on guessed ones (hips out of view), which lowers their OKS; the
    fraction of agreeing joints still says they are one person. Close = per-joint OKS term
    >= min_similarity, on the larger of the two areas.
    """
    d2 = ((keypoints[:, None, :, :2] - keypoints[None, :, :, :2]) ** 2).sum(-1)
    area = np.maximum(np.maximum(areas[:, None], areas[None, :]), 1.0)
    close = np.exp(-d2 / (2.0 * (2.0 * sigmas) ** 2 * area[..., None])) >= min_similarity
    both = (keypoints[:, None, :, 2] >= min_score) & (keypoints[None, :, :, 2] >= min_score)
    count = both.sum(-1)
    return np.where(count > 0, (close & both).sum(-1) / np.maximum(count, 1), 0.0)


class Tracker:
    """Assigns stable ids to per-frame detections. Not thread-safe: one tracker per stream."""

    def __init__(self, params: TrackerParams | None = None,
                 sigmas: np.ndarray | None = None) -> None:
        """sigmas: per-keypoint OKS spread; default COCO's for 17 joints, else 0.07 each."""
        self.params = params or TrackerParams()
        self.sigmas = sigmas
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart ids at 1 (a new run)."""
        self.tracks: list[Track] = []
        self._next_id = 1
        self._frames = 0

    @property
    def active(self) -> list[Track]:
        """Tracks matched in the latest update (tentative and confirmed)."""
        return [t for t in self.tracks if t.matched]

    def _sigmas(self, num_keypoints: int) -> np.ndarray:
        if self.sigmas is not None:
            return np.asarray(self.sigmas, dtype=np.float64)
        if num_keypoints == len(COCO17_SIGMAS):
            return COCO17_SIGMAS
        return np.full(num_keypoints, 0.07)

    def similarity(self, keypoints: np.ndarray, bboxes_px: np.ndarray,
                   stamp_s: float) -> np.ndarray:
        """(N detections, M tracks) similarity of detections to the tracks' predictions."""
        if not self.tracks or len(keypoints) == 0:
            return np.zeros((len(keypoints), len(self.tracks)))
        predicted = [t.predicted(stamp_s) for t in self.tracks]
        track_kps = np.stack([p[0] for p in predicted]).astype(np.float64)
        track_boxes = np.stack([p[1] for p in predicted]).astype(np.float64)
        if self.params.metric == "iou":
            return box_iou(np.asarray(bboxes_px, np.float64), track_boxes)
        areas = (track_boxes[:, 2] - track_boxes[:, 0]) * (track_boxes[:, 3] - track_boxes[:, 1])
        sim = oks(np.asarray(keypoints, np.float64), track_kps, areas,
                  self._sigmas(keypoints.shape[1]), self.params.min_keypoint_score)
        # A lost track's pose is frames old and moved by a stale velocity: OKS against it is ~0
        # even for the same person found again a step away (on the basketball clip re-found
        # people took new ids this way), so a box centre near its last one also counts.
        lost = np.array([t.state is TrackState.LOST for t in self.tracks])
        if lost.any():
            last = np.stack([t.bbox_px for t in self.tracks]).astype(np.float64)
            sim = np.where(lost[None, :], np.maximum(sim, centre_similarity(
                np.asarray(bboxes_px, np.float64), last)), sim)
        return sim

    def update(self, keypoints: np.ndarray, bboxes_px: np.ndarray, scores: np.ndarray,
               stamp_s: float, origins: list[Track | None] | None = None) -> Update:
        """Match this frame's detections to the tracks.

        Args:
            keypoints: (N, K, 3) x_px, y_px, score per detection (N may be 0).
            bboxes_px: (N, 4) boxes.
            scores: (N,) person scores.
            stamp_s: frame stamp in seconds (for velocities and predictions).
            origins: per detection, the track whose ROI it was found in (tracking mode), or
                None. The origin wins among the tracks that pass the gate, so two tracks on
                one person do not trade the id; and it passes the gate also when only the
                boxes overlap (IoU >= ORIGIN_MIN_IOU), so a fast mover the 2D model followed
                keeps its id before its velocity is known.
        """
        p = self.params
        keypoints = np.asarray(keypoints, dtype=np.float32).reshape(len(bboxes_px), -1, 3) \
            if len(bboxes_px) else np.zeros((0, 0, 3), np.float32)
        bboxes_px = np.asarray(bboxes_px, dtype=np.float32).reshape(-1, 4)
        self._frames += 1
        sim = self.similarity(keypoints, bboxes_px, stamp_s)
        if origins is not None and sim.size:
            index = {id(t): c for c, t in enumerate(self.tracks)}
            for r, origin in enumerate(origins):
                c = index.get(id(origin))
                if c is None:
                    continue
                box = origin.predicted(stamp_s)[1][None].astype(np.float64)
                overlap = box_iou(bboxes_px[r:r + 1].astype(np.float64), box)[0, 0]
                if sim[r, c] >= p.min_similarity or overlap >= ORIGIN_MIN_IOU:
                    sim[r, c] = max(sim[r, c], p.min_similarity) + 1.0   # origin bonus
        rows, cols = linear_sum_assignment(-sim) if sim.size else ([], [])
        det_track: list[Track | None] = [None] * len(bboxes_px)
        matched_tracks: set[int] = set()
        for r, c in zip(rows, cols, strict=True):
            if sim[r, c] >= p.min_similarity:
                det_track[r] = self.tracks[c]
                matched_tracks.add(c)

        lost, removed, kept = [], [], []
        for i, track in enumerate(self.tracks):
            if i in matched_tracks:
                kept.append(track)
                continue
            track.misses += 1
            track.hits = 0
            if track.state is TrackState.TENTATIVE or track.misses > p.max_age_frames:
                removed.append(track)
                continue
            if track.state is TrackState.CONFIRMED:
                track.state = TrackState.LOST
                lost.append(track)
            kept.append(track)
        self.tracks = kept

        for d, track in enumerate(det_track):
            if track is None:
                track = Track(track_id=self._next_id, keypoints=keypoints[d],
                              bbox_px=bboxes_px[d], score=float(scores[d]), stamp_s=stamp_s)
                self._next_id += 1
                self.tracks.append(track)
                det_track[d] = track
            else:
                self._refresh(track, keypoints[d], bboxes_px[d], float(scores[d]), stamp_s)
            if track.state is not TrackState.CONFIRMED and (
                    track.hits >= p.min_hits or self._frames <= p.min_hits):
                track.state = TrackState.CONFIRMED
        return Update(tracks=det_track, lost=lost, removed=removed)  # type: ignore[arg-type]

    @staticmethod
    def _refresh(track: Track, keypoints: np.ndarray, bbox_px: np.ndarray, score: float,
                 stamp_s: float) -> None:
        dt_s = stamp_s - track.stamp_s
        if dt_s > 0:
            centre_shift = (bbox_px[:2] + bbox_px[2:] - track.bbox_px[:2] - track.bbox_px[2:]) / 2
            velocity = centre_shift / dt_s
            # Lost tracks restart their velocity estimate; matched ones smooth it.
            track.velocity_px_s = velocity if track.misses else (
                0.5 * track.velocity_px_s + 0.5 * velocity)
        track.keypoints, track.bbox_px, track.score = keypoints, bbox_px, score
        track.stamp_s = stamp_s
        track.hits = track.hits + 1 if track.misses == 0 else 1
        track.misses = 0
        if track.state is TrackState.LOST:
            track.state = TrackState.CONFIRMED
