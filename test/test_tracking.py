"""Tracking: ids survive crossing and occlusion, are never reused, and memory stays bounded."""

from __future__ import annotations

import numpy as np
import pytest

from pose_ros.tracking import (
    Tracker,
    TrackerParams,
    TrackState,
    box_iou,
    centre_similarity,
    oks,
)

# A standing person in COCO-17 order, in units of body height, feet at y = 0, centred on x = 0.
_TEMPLATE = np.array([
    [0.0, -0.93], [-0.02, -0.95], [0.02, -0.95], [-0.05, -0.93], [0.05, -0.93],
    [-0.12, -0.80], [0.12, -0.80], [-0.16, -0.62], [0.16, -0.62], [-0.18, -0.46],
    [0.18, -0.46], [-0.08, -0.50], [0.08, -0.50], [-0.09, -0.27], [0.09, -0.27],
    [-0.09, -0.03], [0.09, -0.03]])


def person(cx: float, feet_y: float, height: float, rng=None, noise_px: float = 0.0):
    """(17, 3) keypoints and (4,) box of a synthetic person."""
    xy = _TEMPLATE * height + np.array([cx, feet_y])
    if rng is not None and noise_px:
        xy = xy + rng.normal(0, noise_px, xy.shape)
    kps = np.concatenate([xy, np.full((17, 1), 0.9)], axis=1)
    box = np.array([xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()])
    return kps, box


def frame(people):
    if not people:
        return np.zeros((0, 17, 3)), np.zeros((0, 4)), np.zeros(0)
    kps, boxes = zip(*people, strict=True)
    return np.stack(kps), np.stack(boxes), np.full(len(people), 0.9)


def test_oks_and_iou_basics():
    a, box_a = person(100, 400, 300)
    b, box_b = person(400, 400, 300)
    sim = oks(np.stack([a, b]), np.stack([a, b]), np.array([300.0 * 60] * 2),
              np.full(17, 0.07), 0.3)
    assert sim[0, 0] == pytest.approx(1.0) and sim[1, 1] == pytest.approx(1.0)
    assert sim[0, 1] < 1e-3
    iou = box_iou(np.stack([box_a, box_b]), np.stack([box_a, box_b]))
    np.testing.assert_allclose(np.diag(iou), 1.0)
    assert iou[0, 1] == 0.0


@pytest.mark.parametrize("metric", ["oks", "iou"])
def test_crossing_people_keep_their_ids(metric):
    """Two people walk past each other (one nearer, so bigger); one is hidden for 6 frames."""
    rng = np.random.default_rng(0)
    tracker = Tracker(TrackerParams(metric=metric))
    ids_a, ids_b = set(), set()
    for f in range(90):
        t = f / 30.0
        a = person(50 + 8 * f, 450, 320, rng, 2.0)      # walks right, near the camera
        b = person(770 - 8 * f, 380, 220, rng, 2.0)     # walks left, farther away
        hidden_b = 42 <= f < 48                          # behind A around the crossing
        people = [a] if hidden_b else [a, b]
        kps, boxes, scores = frame(people)
        update = tracker.update(kps, boxes, scores, t)
        ids_a.add(update.tracks[0].track_id)
        if not hidden_b:
            ids_b.add(update.tracks[1].track_id)
    assert ids_a == {1}
    assert ids_b == {2}


def test_lifecycle_tentative_confirmed_lost_pruned():
    params = TrackerParams(min_hits=3, max_age_frames=5)
    tracker = Tracker(params)
    still, _ = person(100, 400, 300), None
    tracker.update(*frame([still]), 0.0)                 # frame 1: confirmed at once
    assert tracker.tracks[0].state is TrackState.CONFIRMED
    for f in range(1, 5):                                # let the run start-up window pass
        tracker.update(*frame([still]), f / 30)
    newcomer = person(600, 400, 300)
    up = tracker.update(*frame([still, newcomer]), 5 / 30)
    assert up.tracks[1].state is TrackState.TENTATIVE and up.tracks[1].track_id == 2
    tracker.update(*frame([still, newcomer]), 6 / 30)
    up = tracker.update(*frame([still, newcomer]), 7 / 30)
    assert up.tracks[1].state is TrackState.CONFIRMED

    up = tracker.update(*frame([still]), 8 / 30)           # newcomer leaves: lost, kept
    assert [t.track_id for t in up.lost] == [2]
    assert {t.track_id: t.state for t in tracker.tracks}[2] is TrackState.LOST
    for f in range(9, 14):
        up = tracker.update(*frame([still]), f / 30)
    assert [t.track_id for t in tracker.tracks] == [1]   # pruned after max_age misses
    assert [t.track_id for t in up.removed] == [2]

    blip = person(900, 400, 300)                           # a one-frame false positive
    tracker.update(*frame([still, blip]), 14 / 30)
    up = tracker.update(*frame([still]), 15 / 30)
    assert [t.track_id for t in up.removed] == [3] and not up.lost  # tentative: dropped


def test_lost_track_reacquired_with_same_id():
    tracker = Tracker(TrackerParams(max_age_frames=10))
    for f in range(5):
        tracker.update(*frame([person(300 + 5 * f, 400, 300)]), f / 30)
    for f in range(5, 10):
        tracker.update(*frame([]), f / 30)
    up = tracker.update(*frame([person(350, 400, 300)]), 10 / 30)
    assert up.tracks[0].track_id == 1 and up.tracks[0].state is TrackState.CONFIRMED


def test_lost_track_found_again_after_a_turn_keeps_its_id():
    """A walker fast to the right is lost for 12 frames, then found a short step from where
    they were last seen, walking back: the coasting prediction is far off (OKS ~0), but the
    last box's centre is near, so the id is kept (the basketball clip's re-found players took
    new ids here)."""
    tracker = Tracker(TrackerParams(max_age_frames=30, min_hits=1))
    for f in range(5):
        tracker.update(*frame([person(300 + 20 * f, 400, 150)]), f / 30)
    for f in range(5, 17):
        tracker.update(*frame([]), f / 30)
    back = frame([person(350, 400, 150)])
    assert tracker.similarity(back[0], back[1], 17 / 30).max() >= 0.3
    up = tracker.update(*back, 17 / 30)
    assert up.tracks[0].track_id == 1
    # someone two body lengths away is not that person
    tracker = Tracker(TrackerParams(max_age_frames=30, min_hits=1))
    tracker.update(*frame([person(300, 400, 150)]), 0.0)
    tracker.update(*frame([]), 1 / 30)
    assert tracker.update(*frame([person(600, 400, 150)]), 2 / 30).tracks[0].track_id == 2


def test_centre_similarity():
    ref = np.array([[100.0, 100.0, 150.0, 300.0]])      # 200 px tall
    boxes = np.array([[100.0, 100.0, 150.0, 300.0], [150.0, 100.0, 200.0, 300.0],
                      [400.0, 100.0, 450.0, 300.0]])
    np.testing.assert_allclose(centre_similarity(boxes, ref)[:, 0], [1.0, 0.75, 0.0])


def test_ids_never_reused_and_memory_bounded_over_10000_frames():
    """People come and go for 10,000 frames: ids only grow, the track list stays small."""
    rng = np.random.default_rng(1)
    params = TrackerParams(max_age_frames=15)
    tracker = Tracker(params)
    live: dict[int, tuple[float, float, float, int]] = {}   # key -> cx, vx, height, frames left
    next_key = 0
    seen_ids: list[int] = []
    first_frame_of_id: dict[int, int] = {}
    max_tracks = 0
    removed_ids: set[int] = set()
    for f in range(10_000):
        if rng.random() < 0.05 and len(live) < 4:
            live[next_key] = (rng.uniform(50, 1800), rng.uniform(-200, 200),
                              rng.uniform(150, 400), int(rng.integers(10, 120)))
            next_key += 1
        people = []
        for key in list(live):
            cx, vx, h, left = live[key]
            people.append(person(cx, 500, h, rng, 1.5))
            live[key] = (cx + vx / 30, vx, h, left - 1)
            if left <= 1:
                del live[key]
        up = tracker.update(*frame(people), f / 30)
        assert not removed_ids & {t.track_id for t in up.tracks}
        removed_ids |= {t.track_id for t in up.removed}
        for track in up.tracks:
            if track.track_id not in first_frame_of_id:
                first_frame_of_id[track.track_id] = f
                seen_ids.append(track.track_id)
        max_tracks = max(max_tracks, len(tracker.tracks))
    assert seen_ids == sorted(seen_ids) and len(set(seen_ids)) == len(seen_ids)
    assert len(seen_ids) >= 300              # many people came and went
    # At most 4 visible people plus those still coasting within max_age.
    assert max_tracks <= 4 + 8, max_tracks
    assert len(tracker.tracks) <= 12


def test_gating_rejects_far_detections():
    tracker = Tracker()
    tracker.update(*frame([person(100, 400, 300)]), 0.0)
    up = tracker.update(*frame([person(1500, 400, 300)]), 1 / 30)
    assert up.tracks[0].track_id == 2
    assert tracker.tracks[0].state is TrackState.LOST


def test_reset_restarts_ids():
    tracker = Tracker()
    tracker.update(*frame([person(100, 400, 300)]), 0.0)
    tracker.reset()
    up = tracker.update(*frame([person(100, 400, 300)]), 0.0)
    assert up.tracks[0].track_id == 1 and len(tracker.tracks) == 1


def test_bad_params_rejected():
    with pytest.raises(ValueError, match="metric"):
        TrackerParams(metric="euclid")


def test_keypoint_agreement_finds_duplicates_with_different_guesses():
    """Two results for one person agree on the face and shoulders but guess the hips apart."""
    a, box = person(300, 450, 300)
    b = a.copy()
    b[11:, :2] += [40.0, 60.0]                       # hips, knees, ankles guessed elsewhere
    other, _ = person(325, 450, 300)                 # another person, 25 px to the right
    area = (box[2] - box[0]) * (box[3] - box[1])
    from pose_ros.tracking import COCO17_SIGMAS, keypoint_agreement
    agree = keypoint_agreement(np.stack([a, b, other]), np.full(3, area), COCO17_SIGMAS, 0.3)
    assert agree[0, 1] >= 0.5 and agree[0, 2] < 0.2
    assert agree[0, 0] == 1.0


def test_origin_track_keeps_the_result_of_its_roi():
    """Two tracks on one person (a re-detection duplicate): the ROI's own track keeps it."""
    tracker = Tracker()
    a = person(300, 450, 300)
    tracker.update(*frame([a]), 0.0)
    for f in range(1, 5):
        tracker.update(*frame([a]), f / 30)
    shifted = (a[0] + [2.0, 0.0, 0.0], a[1] + 2.0)
    up = tracker.update(*frame([a, shifted]), 5 / 30)   # detector adds a near copy: track 2
    old, new = up.tracks
    assert (old.track_id, new.track_id) == (1, 2)
    # Next frame only one result survives; it came from track 2's ROI but is closer to 1.
    up = tracker.update(*frame([a]), 6 / 30, origins=[new])
    assert up.tracks[0] is new
    up = tracker.update(*frame([a]), 7 / 30, origins=[old])
    assert up.tracks[0] is old


def test_fast_mover_keeps_id_through_its_origin_roi():
    """68 px per frame, velocity not yet known: OKS fails the gate, the origin ROI still links."""
    tracker = Tracker()
    for f in range(4):
        tracker.update(*frame([person(100, 450, 300)]), f / 30)
    track = tracker.tracks[0]
    moved = person(168, 450, 300)
    assert tracker.similarity(*frame([moved])[:2], 4 / 30)[0, 0] < 0.3
    up = tracker.update(*frame([moved]), 4 / 30, origins=[track])
    assert up.tracks[0] is track
    up = Tracker().update(*frame([moved]), 0.0, origins=[None])      # no origin: new track
    assert up.tracks[0].track_id == 1
