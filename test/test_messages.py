"""Our msg/ files with rosbags: parsing, CDR round trips of messages built by messages.py, MCAP."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.ros.messages import RosbagsFactory, skeleton_array_msg
from pose_ros.ros.msgdefs import message_definitions, typestore
from pose_ros.skeleton import COCO17

SKELETON_ARRAY = "pose_ros/msg/SkeletonArray"


def make_frame(stamp_ns: int = 1_732_000_000_123_456_789, n_people: int = 3) -> FramePoses:
    rng = np.random.default_rng(0)
    people = []
    for i in range(n_people):
        k = COCO17.num_keypoints
        kp2d = np.column_stack([rng.uniform(0, 640, k), rng.uniform(0, 480, k),
                                rng.uniform(0, 1, k)])
        kp3d = None
        root = None
        source = DepthSource.NONE
        if i > 0:  # first person 2D only, others with 3D
            kp3d = np.column_stack([rng.normal(0, 0.5, (k, 3)), rng.uniform(0, 1, k)])
            root = rng.normal(0, 1, 3) + [0, 0, 3]
            source = DepthSource.IMAGE if i == 1 else DepthSource.MONOCULAR
        people.append(Person(track_id=7 + i, score=0.5 + 0.1 * i, bbox_px=[10 * i, 20, 100, 200],
                             keypoints_2d=kp2d, keypoints_3d=kp3d, root_camera_m=root,
                             depth_source=source))
    return FramePoses(stamp_ns=stamp_ns, frame_id="camera_color_optical_frame", width=640,
                      height=480, skeleton=COCO17.name, keypoint_names=COCO17.keypoint_names,
                      people=people)


def assert_matches(msg, frame: FramePoses) -> None:
    assert msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec == frame.stamp_ns
    assert msg.header.frame_id == frame.frame_id
    assert msg.skeleton == frame.skeleton
    assert list(msg.keypoint_names) == list(frame.keypoint_names)
    assert len(msg.skeletons) == len(frame.people)
    for sk, person in zip(msg.skeletons, frame.people):
        assert sk.id == person.track_id
        assert sk.score == pytest.approx(person.score, abs=1e-6)
        np.testing.assert_allclose(sk.bbox, person.bbox_px, atol=1e-4)
        got = np.array([[k.x, k.y, k.score] for k in sk.keypoints])
        np.testing.assert_allclose(got, person.keypoints_2d, atol=1e-4)
        assert sk.depth_source == int(person.depth_source)
        if person.keypoints_3d is None:
            assert len(sk.keypoints_3d) == 0
            assert (sk.root.x, sk.root.y, sk.root.z) == (0.0, 0.0, 0.0)
        else:
            got3 = np.array([[k.position.x, k.position.y, k.position.z, k.score]
                             for k in sk.keypoints_3d])
            np.testing.assert_allclose(got3, person.keypoints_3d, atol=1e-5)
            np.testing.assert_allclose([sk.root.x, sk.root.y, sk.root.z], person.root_camera_m)


def test_every_msg_file_parses_with_the_standard_types():
    ts = typestore()
    for name in message_definitions():
        assert f"pose_ros/msg/{name}" in ts.types
    consts = {c[0]: c[2] for c in ts.fielddefs["pose_ros/msg/Skeleton"][0]}
    assert consts == {"DEPTH_NONE": DepthSource.NONE, "DEPTH_IMAGE": DepthSource.IMAGE,
                      "DEPTH_MONOCULAR": DepthSource.MONOCULAR}


def test_skeleton_array_round_trips_through_cdr():
    ts = typestore()
    frame = make_frame()
    msg = skeleton_array_msg(RosbagsFactory(ts), frame)
    data = ts.serialize_cdr(msg, SKELETON_ARRAY)
    back = ts.deserialize_cdr(data, SKELETON_ARRAY)
    assert_matches(back, frame)


def test_empty_frame_round_trips():
    ts = typestore()
    frame = make_frame(n_people=0)
    back = ts.deserialize_cdr(ts.serialize_cdr(skeleton_array_msg(RosbagsFactory(ts), frame),
                                               SKELETON_ARRAY), SKELETON_ARRAY)
    assert back.skeletons == []


def test_mcap_with_skeleton_arrays_reads_back(tmp_path):
    ts = typestore()
    factory = RosbagsFactory(ts)
    frames = [make_frame(stamp_ns=1_000_000_000 * (100 + i) + i) for i in range(5)]
    bag = tmp_path / "bag"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/pose/skeletons", SKELETON_ARRAY, typestore=ts)
        for frame in frames:
            writer.write(conn, frame.stamp_ns, ts.serialize_cdr(
                skeleton_array_msg(factory, frame), SKELETON_ARRAY))
    assert list(bag.glob("*.mcap")), "the writer must produce an .mcap file"
    with Reader(bag) as reader:
        records = list(reader.messages())
        assert [c.msgtype for c in reader.connections] == [SKELETON_ARRAY]
    assert len(records) == len(frames)
    for (conn, timestamp, raw), frame in zip(records, frames):
        assert timestamp == frame.stamp_ns
        assert_matches(ts.deserialize_cdr(raw, conn.msgtype), frame)
