"""REP-155 output (hri.py): the geometry always; the messages with rosbags types parsed from
hri_msgs' own .msg files where they are installed (a ROS build with hri_msgs, or HRI_MSGS_DIR
pointing at its msg/ folder), skipped otherwise: their definitions are not copied here."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import numpy as np
import pytest
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.ros.hri import (
    SKELETON2D_NAMES,
    HriIds,
    body_rotation,
    body_transform_msg,
    ids_list_msg,
    roi_msg,
    skeleton2d_msg,
    skeleton2d_points,
)
from pose_ros.ros.messages import RosbagsFactory
from pose_ros.ros.msgdefs import typestore as pose_typestore
from pose_ros.skeleton import COCO17

HRI_TYPES = ("IdsList", "NormalizedPointOfInterest2D", "NormalizedRegionOfInterest2D",
             "Skeleton2D")


def facing_person(track_id: int = 4) -> Person:
    """COCO-17 person facing the camera: their left on the image's right (+x), up is -y."""
    idx = COCO17.index
    kp3 = np.zeros((17, 4))
    kp3[:, 3] = 1.0
    for side, s in (("left", 1.0), ("right", -1.0)):
        kp3[idx(f"{side}_shoulder"), :3] = [0.2 * s, -0.5, 3.0]
        kp3[idx(f"{side}_hip"), :3] = [0.1 * s, 0.0, 3.0]
    kp2 = np.column_stack([np.linspace(100, 500, 17), np.linspace(50, 450, 17), np.full(17, 0.9)])
    return Person(track_id=track_id, score=0.8, bbox_px=[-10, 20, 320, 500], keypoints_2d=kp2,
                  keypoints_3d=kp3, root_camera_m=np.array([0.0, 0.0, 3.0]),
                  depth_source=DepthSource.MONOCULAR)


def frame(people) -> FramePoses:
    return FramePoses(stamp_ns=5_000_000_123, frame_id="camera_optical", width=640, height=480,
                      skeleton="coco17", keypoint_names=COCO17.keypoint_names, people=people)


def test_ids_are_rep155_strings_stable_per_track():
    ids = HriIds()
    assert ids(3) == ids(3) != ids(4)
    assert ids(3).isalnum() and ids(3).islower() and HriIds("ab")(12) == "ab12"


def test_skeleton2d_order_and_body_axes():
    person = facing_person()
    points = skeleton2d_points(person, COCO17, 640, 480)
    assert points.shape == (18, 3) and SKELETON2D_NAMES[1] == "neck"
    kp = person.keypoints_2d
    neck = (kp[COCO17.index("left_shoulder"), :2] + kp[COCO17.index("right_shoulder"), :2]) / 2
    np.testing.assert_allclose(points[1, :2] * [640, 480], neck)
    np.testing.assert_allclose(points[14, :2] * [640, 480], kp[COCO17.index("left_eye"), :2])
    rot = body_rotation(person, COCO17)
    # forward (x) toward the camera (-z), left (y) = image right (+x), up (z) = image up (-y)
    np.testing.assert_allclose(rot, [[0, 1, 0], [0, 0, -1], [-1, 0, 0]], atol=1e-9)


def hri_msg_dir() -> Path | None:
    candidates = [os.environ.get("HRI_MSGS_DIR", "")] + glob.glob("/opt/ros/*/share/hri_msgs/msg")
    for c in candidates:
        if c and all((Path(c) / f"{n}.msg").is_file() for n in HRI_TYPES):
            return Path(c)
    return None


@pytest.fixture(scope="module")
def hri_typestore():
    folder = hri_msg_dir()
    if folder is None:
        pytest.skip("hri_msgs .msg files not installed (ROS with hri_msgs, or HRI_MSGS_DIR)")
    ts = get_typestore(Stores.ROS2_JAZZY)
    ts.register({k: v for k, v in pose_typestore().fielddefs.items()
                 if k.startswith("pose_ros/")})
    for name in HRI_TYPES:
        ts.register(get_types_from_msg((folder / f"{name}.msg").read_text(),
                                       f"hri_msgs/msg/{name}"))
    return ts


def round_trip(ts, msg):
    return ts.deserialize_cdr(ts.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def test_hri_messages_with_hri_msgs_definitions(hri_typestore):
    ts = hri_typestore
    f = RosbagsFactory(ts)
    ids = HriIds("abcd")
    people = [facing_person(4), facing_person(9)]
    poses = frame(people)
    tracked = round_trip(ts, ids_list_msg(f, poses, ids))
    assert list(tracked.ids) == ["abcd4", "abcd9"] and tracked.header.frame_id == "camera_optical"
    roi = round_trip(ts, roi_msg(f, poses, people[0]))
    assert (roi.xmin, roi.xmax) == (0.0, 0.5) and roi.ymax == 1.0
    assert roi.ymin == pytest.approx(20 / 480) and roi.c == pytest.approx(0.8)
    skeleton = round_trip(ts, skeleton2d_msg(f, poses, people[0]))
    assert len(skeleton.skeleton) == 18
    assert skeleton.skeleton[0].x == pytest.approx(100 / 640)   # NOSE
    tf = body_transform_msg(f, poses, people[0], ids)
    assert tf.child_frame_id == "body_abcd4" and tf.transform.translation.z == 3.0
    q = tf.transform.rotation
    assert np.isclose(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2, 1.0)
