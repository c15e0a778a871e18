"""Multi-scale detection: tile geometry, the tile budget, and a small person (a real photograph
shrunk into a large frame) that only the tiles find, with the real BlazePose detector; two
PoseTrack dancers whom only a neighbouring tile's view finds (skips without ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_ros.detection import (
    DETECTOR_MIN_FRACTION,
    MIN_TILE_PX,
    TILE_MAX_ROI,
    MultiScaleDetector,
    seen_whole,
    tile_holding,
    tile_regions,
)
from pose_ros.models import store


def test_tiles_cover_the_image_level_by_level():
    tiles = tile_regions(1280, 720, 2)
    sides = sorted(set(tiles[:, 2].round().tolist()))
    assert sides == [360.0, 720.0]
    for side in sides:
        level = tiles[tiles[:, 2].round() == side]
        lo, hi = level[:, :2] - side / 2, level[:, :2] + side / 2
        assert (lo >= -1e-3).all() and (hi[:, 0] <= 1280 + 1e-3).all()
        assert (hi[:, 1] <= 720 + 1e-3).all()
        # neighbours overlap by at least a third of the side: a person up to that size lies
        # whole in some tile
        xs, ys = np.unique(lo[:, 0].round(3)), np.unique(lo[:, 1].round(3))
        assert np.diff(xs).max(initial=0) <= side * 2 / 3 + 1e-3
        assert np.diff(ys).max(initial=0) <= side * 2 / 3 + 1e-3
        assert xs[0] == 0 and xs[-1] + side == pytest.approx(1280)
    assert (tiles[:, 3] == 0).all()


def test_no_tiles_where_they_add_nothing():
    assert len(tile_regions(640, 480, 0)) == 0
    # a square image's level-1 tile is the whole frame: only level 2 is searched
    assert set(tile_regions(480, 480, 2)[:, 2].round().tolist()) == {240.0}
    # tiles are never upscaled past the limit: a 240-line image gets level 1 only
    assert tile_regions(426, 240, 3)[:, 2].min() >= MIN_TILE_PX
    assert set(tile_regions(426, 240, 3)[:, 2].round().tolist()) == {240.0}


def test_a_tile_keeps_the_people_it_sees_whole():
    tile = np.array([[200.0, 200.0, 200.0, 0.0]])          # x, y in [100, 300]
    # face boxes (x0, y0, x1, y1) and (hip, scale point) giving a region of side 2*1.25*d
    faces = np.array([[180, 120, 220, 160],                 # inside
                      [280, 120, 320, 160],                 # crosses the right edge
                      [180, 120, 220, 160]], np.float64)    # inside, but a body too big
    hip = np.array([200.0, 250.0])
    d_ok, d_big = 60.0, TILE_MAX_ROI * 200 / 2.5 + 1
    keypoints = np.stack([[hip, hip - [0, d_ok]], [hip, hip - [0, d_ok]],
                          [hip, hip - [0, d_big]]])
    kept = seen_whole(np.repeat(tile, 3, axis=0), faces, keypoints)
    assert kept.tolist() == [True, False, False]


def test_budget_all_tiles_first_then_one_every_n_frames_skipping_covered():
    detector = MultiScaleDetector(None, tile_levels=2, tile_every_n_frames=3)
    n = len(tile_regions(1280, 720, 2))
    none = np.zeros((0, 4))
    assert list(detector.due_tiles(1280, 720, none)) == list(range(n))
    due = [list(detector.due_tiles(1280, 720, none)) for _ in range(9)]
    assert due == [[], [], [0], [], [], [1], [], [], [2]]
    # a tracked person's box over tile 3's centre: the round robin passes it over
    centre = tile_regions(1280, 720, 2)[3, :2]
    covered = np.array([[*(centre - 5), *(centre + 5)]])
    due = [list(detector.due_tiles(1280, 720, covered)) for _ in range(3)]
    assert due == [[], [], [4]]
    detector.reset()
    assert len(detector.due_tiles(1280, 720, none)) == n
    with pytest.raises(ValueError):
        MultiScaleDetector(None, tile_levels=-1)


def test_a_person_just_lost_is_looked_for_first_where_they_were():
    """When a tile is due, the smallest tile holding a lost person's last box whole is searched
    instead of the round robin's, even where a tracked person's box covers it (someone half
    behind another); without a lost person the round robin goes on."""
    grid = tile_regions(1280, 720, 2)
    lost = np.array([[900.0, 300.0, 1000.0, 500.0]])
    tile = tile_holding(grid, lost[0])
    cx, cy, side, _ = grid[tile]
    assert cx - side / 2 <= 900 and cx + side / 2 >= 1000 and cy - side / 2 <= 300 \
        and cy + side / 2 >= 500
    assert side == grid[:, 2].min()               # a level-2 tile holds it: the finer level
    assert tile_holding(grid, np.array([0.0, 0.0, 1280.0, 720.0])) is None
    detector = MultiScaleDetector(None, tile_levels=2, tile_every_n_frames=2)
    detector.due_tiles(1280, 720, np.zeros((0, 4)))             # the first frame's full scan
    due = [list(detector.due_tiles(1280, 720, lost, lost)) for _ in range(2)]
    assert due == [[], [tile]]
    due = [list(detector.due_tiles(1280, 720, np.zeros((0, 4)))) for _ in range(2)]
    assert due == [[], [0]]


@pytest.fixture(scope="module")
def blazepose():
    pytest.importorskip("skimage", reason="scikit-image (test extra) ships the photograph")
    try:
        store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available: {exc}")
    import torch

    from pose_ros.models.blazepose import BlazePose

    threads = torch.get_num_threads()
    yield BlazePose()
    torch.set_num_threads(threads)


def test_small_person_found_by_the_tiles_only(blazepose):
    """The astronaut photo at 180 px in a 1280 x 720 frame: 0.14 of the long side, below the
    whole-frame detector's range (DETECTOR_MIN_FRACTION); level-2 tiles see it at 0.5."""
    from pose_ros.io.demo import astronaut_bgr

    photo = cv2.resize(astronaut_bgr(), (180, 180), interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 96, np.uint8)
    frame[440:620, 860:1040] = photo
    rgb = np.ascontiguousarray(frame[..., ::-1])
    assert 180 / 1280 < DETECTOR_MIN_FRACTION
    assert blazepose.detect(rgb) == []
    detector = MultiScaleDetector(blazepose, tile_levels=2)
    found = detector.detect(rgb, True, detector.due_tiles(1280, 720, np.zeros((0, 4))))
    assert found.passes == 1 + len(tile_regions(1280, 720, 2))
    # the views that saw the person (tiles of two levels) merged into one detection
    assert len(found.rois) == 1, [r.center_px for r in found.rois]
    for roi in found.rois:
        assert 860 < roi.center_px[0] < 1040 and 440 < roi.center_px[1] < 720
    people = blazepose.landmarks(rgb, found.rois[:1])
    assert people[0].presence > 0.9
    nose = people[0].keypoints_px[0]
    assert 860 < nose[0] < 1040 and 440 < nose[1] < 620
    # whole frame only (tile_levels 0): nobody, as MediaPipe
    plain = MultiScaleDetector(blazepose, tile_levels=0)
    assert plain.detect(rgb, True, plain.due_tiles(1280, 720, np.zeros((0, 4)))).rois == []


POSETRACK = (Path(__file__).resolve().parents[2] / "shared" / "data" / "annotated"
             / "posetrack18" / "annotations" / "test_posetrack18_val.json")


@pytest.mark.skipif(not POSETRACK.is_file(), reason="../shared/data/annotated is absent")
def test_dancers_seen_whole_by_a_neighbouring_tile_are_found(blazepose):
    """Two PoseTrack dancers (186 and 362 px tall in 1920 x 1080) whom the tile holding their
    box centre misses get a pose (OKS >= 0.5) because every tile that sees them whole may keep
    them (seen_whole); the old rule (only the tile whose core held their box centre) gave them
    OKS 0.0 and found only the two dancers checked last here."""
    from pose_ros.eval.datasets import load_keypoint_dataset
    from pose_ros.skeleton import BLAZEPOSE33_TO_COCO17
    from pose_ros.tracking import COCO17_SIGMAS

    ds = load_keypoint_dataset(POSETRACK)
    image = next(im for im in ds.images if "012834_mpii_test/000000" in im["file_name"])
    rgb = np.ascontiguousarray(cv2.imread(image["path"])[..., ::-1])
    height, width = rgb.shape[:2]
    detector = MultiScaleDetector(blazepose, tile_levels=2)
    found = detector.detect(rgb, True, detector.due_tiles(width, height, np.zeros((0, 4))))
    people = [p for p in blazepose.landmarks(rgb, found.rois) if p.presence >= 0.5]
    pred = np.stack([p.keypoints_px[BLAZEPOSE33_TO_COCO17, :2] for p in people])
    oks = {}
    for ann in ds.annotations_of(image["id"]):
        gt = np.array(ann["keypoints"], np.float64).reshape(-1, 3)
        seen = gt[:, 2] > 0
        d2 = ((pred - gt[None, :, :2]) ** 2).sum(-1)
        per_joint = np.exp(-d2 / (2 * ann["area"] * (2 * COCO17_SIGMAS) ** 2))
        oks[ann["id"]] = ((per_joint * seen).sum(-1) / max(seen.sum(), 1)).max()
    for ann_id in (1012834000000, 1012834000005, 1012834000003, 1012834000007):
        assert oks[ann_id] >= 0.5, {k: round(v, 2) for k, v in oks.items()}
