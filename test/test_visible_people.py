"""bench/visible_people.py's scoring: a labelled point pairs with one published box holding it."""

import importlib.util
import json
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1] / "bench"
spec = importlib.util.spec_from_file_location("visible_people", BENCH / "visible_people.py")
visible_people = importlib.util.module_from_spec(spec)
spec.loader.exec_module(visible_people)


def test_each_point_pairs_with_at_most_one_box_that_holds_it():
    points = np.array([[10.0, 10.0], [12.0, 12.0], [100.0, 100.0], [50.0, 50.0]])
    boxes = np.array([[0, 0, 20, 20], [40, 40, 60, 60], [45, 45, 200, 200]], np.float64)
    # two points in the first box: the one nearer its centre gets it; the far point has the
    # third box; the fourth point, in both others, takes the second (nearer centre)
    assert visible_people.pair(points, boxes).tolist() == [0, -1, 2, 1]
    assert visible_people.pair(points, np.zeros((0, 4))).tolist() == [-1] * 4


def test_share_of_frames_missing_someone():
    rows = [{"frame": 0, "people": 2, "no_pose": 1, "no_pose_clear": 0, "clear": 1, "extra": 0},
            {"frame": 10, "people": 1, "no_pose": 0, "no_pose_clear": 0, "clear": 1, "extra": 2},
            {"frame": 20, "people": 1, "no_pose": 1, "no_pose_clear": 1, "clear": 1, "extra": 0},
            {"frame": 30, "people": 1, "no_pose": 1, "no_pose_clear": 0, "clear": 0, "extra": 0}]
    s = visible_people.summarize(rows)
    assert (s["frames"], s["people"], s["no_pose"], s["extra"]) == (4, 5, 3, 2)
    assert s["share_frames_missing_someone"] == 3 / 4
    assert s["share_frames_missing_someone_clear"] == 1 / 3    # frame 30 has no clear person


def test_labels_name_real_clips_and_every_tenth_frame():
    labels = json.loads((BENCH / "visible_people.json").read_text())["clips"]
    assert set(labels) == {"test_video_structuralize.mp4", "demo_skeleton.mp4",
                           "single_person_demo.mp4", "multi_person_demo.mp4"}
    for spec_ in labels.values():
        width, height = spec_["size"]
        for frame, people in spec_["frames"].items():
            assert int(frame) % 10 == 0
            for p in people:
                assert 0 <= p["xy"][0] < width and 0 <= p["xy"][1] < height
