"""CuesArray / PersonCues / Cue / Hand from our msg/ files with rosbags: built by
cue_messages.py, serialized to CDR and read back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pose_ros.cues.engine import Cue, CueEvent, PersonCues, PointingRay
from pose_ros.person import FramePoses, Hand, Person
from pose_ros.ros.cue_messages import cues_array_msg
from pose_ros.ros.messages import RosbagsFactory
from pose_ros.ros.msgdefs import typestore
from pose_ros.skeleton import COCO17, HAND21


def frame_with_cues() -> FramePoses:
    rng = np.random.default_rng(2)
    people = []
    for i in range(2):
        person = Person(track_id=3 + i, score=0.9, bbox_px=[0, 0, 10, 10],
                        keypoints_2d=np.zeros((17, 3)))
        ray = PointingRay("right", np.array([0.1, -0.5, 2.0]), np.array([0.0, 0.6, -0.8]),
                          np.array([0.1, 1.2, 0.5]) if i == 0 else None)
        person.cues = PersonCues(
            3 + i, [Cue("hand_raised", "left", True, 0.9), Cue("waving", "left", False, 0.1),
                    Cue("facing", "", True, 1.0)],
            [CueEvent("hand_raised", "left", "start", 1.0, 0.9)], ray if i == 0 else None,
            distance_m=2.1 if i == 0 else None, approach_speed_mps=0.3, facing_deg=12.0,
            closest=i == 0)
        if i == 0:
            person.hands = [Hand("left", 0.95, np.column_stack([rng.uniform(0, 640, (21, 2)),
                                                                np.full(21, 0.95)]),
                                 rng.normal(0, 0.05, (21, 3)))]
        people.append(person)
    return FramePoses(stamp_ns=1_700_000_000_000_000_001, frame_id="cam", width=640,
                      height=480, skeleton="coco17", keypoint_names=COCO17.keypoint_names,
                      people=people)


def test_cues_array_round_trip():
    ts = typestore()
    frame = frame_with_cues()
    msg = cues_array_msg(RosbagsFactory(ts), frame)
    back = ts.deserialize_cdr(ts.serialize_cdr(msg, "pose_ros/msg/CuesArray"),
                              "pose_ros/msg/CuesArray")
    assert back.header.frame_id == "cam" and back.header.stamp.nanosec == 1
    assert list(back.hand_keypoint_names) == list(HAND21.keypoint_names)
    first, second = back.people
    assert first.id == 3 and first.closest and not second.closest
    assert [(c.name, c.side, c.active, c.event) for c in first.cues] == [
        ("hand_raised", "left", True, 1), ("waving", "left", False, 0), ("facing", "", True, 0)]
    assert first.pointing and first.pointing_side == "right" and first.pointing_target_valid
    assert (first.pointing_direction.y, first.pointing_target.y) == (0.6, 1.2)
    assert not second.pointing and not second.pointing_target_valid
    assert math.isclose(first.distance, 2.1, rel_tol=1e-6) and math.isnan(second.distance)
    (hand,) = first.hands
    assert hand.side == "left" and len(hand.keypoints) == 21 and len(hand.points_hand) == 21
    np.testing.assert_allclose([[k.x, k.y] for k in hand.keypoints],
                               frame.people[0].hands[0].keypoints_2d[:, :2], atol=1e-3)
    assert second.hands == []


def test_cue_markers_ray_target_and_raised_hand():
    from pose_ros.person import DepthSource
    from pose_ros.ros.markers import NS_POINTING, NS_RAISED, NS_TARGET, marker_array_msg

    frame = frame_with_cues()
    person = frame.people[0]
    person.keypoints_3d = np.column_stack([np.random.default_rng(0).normal(0, 0.3, (17, 3))
                                           + [0, 0, 2], np.ones(17)]).astype(np.float32)
    person.root_camera_m = np.array([0.0, 0.0, 2.0])
    person.depth_source = DepthSource.MONOCULAR
    msg = marker_array_msg(RosbagsFactory(typestore()), frame)
    by_ns = {m.ns: m for m in msg.markers}
    ray = by_ns[NS_POINTING]
    assert [(p.x, p.y, p.z) for p in ray.points] == [(0.1, -0.5, 2.0), (0.1, 1.2, 0.5)]
    assert by_ns[NS_TARGET].pose.position.y == 1.2
    wrist = person.keypoints_3d[COCO17.index("left_wrist")]
    np.testing.assert_allclose([by_ns[NS_RAISED].pose.position.x,
                                by_ns[NS_RAISED].pose.position.z], wrist[[0, 2]], atol=1e-6)
    assert sum(m.ns == NS_RAISED for m in msg.markers) == 1   # only the left hand is raised


def test_cues_in_jsonl_and_on_the_annotated_image():
    jsonschema = pytest.importorskip("jsonschema")
    from pose_ros.draw import cue_text, draw_people
    from pose_ros.io.sinks import POSES_JSONL_SCHEMA, frame_record

    frame = frame_with_cues()
    record = frame_record(0, frame)
    jsonschema.validate(record, POSES_JSONL_SCHEMA)
    cues = record["people"][0]["cues"]
    assert cues["active"] == ["hand_raised/left", "facing"] and cues["closest"]
    assert cues["events"][0]["kind"] == "start" and cues["pointing"]["target"] == [0.1, 1.2, 0.5]
    assert len(cues["hands"][0]["keypoints"]) == 21
    assert cue_text(frame.people[0]) == "hand_raised L, facing"
    image = np.zeros((480, 640, 3), np.uint8)
    drawn = draw_people(image, frame.people, COCO17)
    hand = frame.people[0].hands[0].keypoints_2d[:, :2].astype(int)
    assert drawn[hand[:, 1].clip(0, 479), hand[:, 0].clip(0, 639)].any()   # hand lines drawn
