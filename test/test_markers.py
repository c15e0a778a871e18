"""Markers: per-person LINE_LIST/SPHERE_LIST/TEXT, stable namespace+id, lifetime, header, CDR."""

from __future__ import annotations

import numpy as np
import pytest

from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.ros.markers import (
    LINE_LIST,
    NS_JOINTS,
    NS_LABELS,
    NS_LIMBS,
    SPHERE_LIST,
    TEXT_VIEW_FACING,
    MarkerStyle,
    marker_array_msg,
)
from pose_ros.ros.messages import RosbagsFactory
from pose_ros.ros.msgdefs import typestore
from pose_ros.skeleton import COCO17, H36M17, SIDE_COLOURS_RGB, lifter_to_topology

TS = typestore()
FACTORY = RosbagsFactory(TS)
MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"


def person_with_3d(track_id: int, root, source=DepthSource.MONOCULAR) -> Person:
    rng = np.random.default_rng(track_id)
    k = COCO17.num_keypoints
    kp3d = np.column_stack([rng.normal(0, 0.3, (k, 3)) + root, np.full(k, 0.9)])
    kp3d[lifter_to_topology(COCO17) < 0, 3] = 0.0        # face joints: not estimated
    kp2d = np.column_stack([rng.uniform(0, 640, k), rng.uniform(0, 480, k), np.full(k, 0.9)])
    return Person(track_id=track_id, score=0.9, bbox_px=[0, 0, 10, 10], keypoints_2d=kp2d,
                  keypoints_3d=kp3d, root_camera_m=np.asarray(root, float), depth_source=source)


def frame_of(people) -> FramePoses:
    return FramePoses(stamp_ns=1_700_000_000_250_000_000, frame_id="/cam_optical", width=640,
                      height=480, skeleton="coco17", keypoint_names=COCO17.keypoint_names,
                      people=people)


def test_markers_per_person_with_3d_only():
    people = [person_with_3d(4, [0.5, 0.1, 3.0]), person_with_3d(9, [-1.0, 0.0, 4.0],
                                                                 DepthSource.IMAGE)]
    no_root = person_with_3d(11, [0, 0, 0], DepthSource.NONE)
    only_2d = Person(track_id=12, score=0.5, bbox_px=[0, 0, 1, 1],
                     keypoints_2d=np.zeros((17, 3)))
    style = MarkerStyle(lifetime_s=0.75)
    msg = marker_array_msg(FACTORY, frame_of(people + [no_root, only_2d]), style)
    # CDR round trip: the message is valid for a bag or a publisher.
    msg = TS.deserialize_cdr(TS.serialize_cdr(msg, MARKER_ARRAY), MARKER_ARRAY)
    assert len(msg.markers) == 6
    by_key = {(m.ns, m.id): m for m in msg.markers}
    assert set(by_key) == {(ns, i) for ns in (NS_LIMBS, NS_JOINTS, NS_LABELS) for i in (4, 9)}
    for m in msg.markers:
        assert m.header.frame_id == "cam_optical"
        assert m.header.stamp.sec == 1_700_000_000 and m.header.stamp.nanosec == 250_000_000
        assert (m.lifetime.sec, m.lifetime.nanosec) == (0, 750_000_000)
        assert m.action == 0 and m.pose.orientation.w == 1.0

    estimated = np.flatnonzero(lifter_to_topology(COCO17) >= 0)
    person = people[0]
    limbs = by_key[(NS_LIMBS, 4)]
    assert limbs.type == LINE_LIST
    drawn = [(a, b) for a, b in COCO17.limbs if a in estimated and b in estimated]
    assert len(limbs.points) == 2 * len(drawn) == len(limbs.colors)
    a, b = drawn[0]
    got = [[p.x, p.y, p.z] for p in limbs.points[:2]]
    np.testing.assert_allclose(got, person.keypoints_3d[[a, b], :3], atol=1e-6)
    side = COCO17.limb_side((a, b))
    np.testing.assert_allclose([limbs.colors[0].r, limbs.colors[0].g, limbs.colors[0].b],
                               np.array(SIDE_COLOURS_RGB[side]) / 255, atol=1e-6)

    joints = by_key[(NS_JOINTS, 4)]
    assert joints.type == SPHERE_LIST and len(joints.points) == len(estimated)
    assert joints.scale.x == pytest.approx(style.joint_diameter_m)

    label = by_key[(NS_LABELS, 9)]
    assert label.type == TEXT_VIEW_FACING
    assert label.text == f"9  {np.linalg.norm([-1.0, 0.0, 4.0]):.1f} m"
    head_y = people[1].keypoints_3d[people[1].keypoints_3d[:, 3] > 0.2, 1].min()
    assert label.pose.position.y < head_y                 # above the head (y down)


def test_empty_frame_gives_empty_array():
    msg = marker_array_msg(FACTORY, frame_of([]))
    assert list(msg.markers) == []


def test_works_for_h36m_topology_too():
    k = H36M17.num_keypoints
    person = Person(track_id=1, score=1.0, bbox_px=[0, 0, 1, 1], keypoints_2d=np.zeros((k, 3)),
                    keypoints_3d=np.column_stack([np.zeros((k, 3)) + [0, 0, 2], np.ones(k)]),
                    root_camera_m=[0, 0, 2], depth_source=DepthSource.MONOCULAR)
    frame = FramePoses(stamp_ns=1, frame_id="c", width=1, height=1, skeleton="h36m17",
                       keypoint_names=H36M17.keypoint_names, people=[person])
    msg = marker_array_msg(FACTORY, frame)
    assert len(msg.markers[0].points) == 2 * len(H36M17.limbs)
