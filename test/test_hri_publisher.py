"""hri_publisher.py without ROS: which REP-155 topics a node gets as bodies come and go (messages
built with rosbags types parsed from the installed hri_msgs definitions), and, with hri_msgs
missing, one warning that names the fix and no topics. The live node is tested in the ROS block
(test_node_ros.py)."""

from __future__ import annotations

import sys

from test_hri import facing_person, frame, hri_typestore  # noqa: F401  (fixture)

from pose_ros.ros.hri import HriIds
from pose_ros.ros.hri_publisher import TRACKED_TOPIC, HriPublisher, body_topic
from pose_ros.ros.messages import RosbagsFactory, RosFactory


class _Log:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, text: str) -> None:
        self.warnings.append(text)


class _Publisher:
    def __init__(self, msg_type: type, topic: str) -> None:
        self.msg_type, self.topic, self.sent = msg_type, topic, []

    def publish(self, msg) -> None:
        assert isinstance(msg, self.msg_type), (msg, self.msg_type)
        self.sent.append(msg)


class _RecordingNode:
    """The three node methods HriPublisher uses, recording what it asks for."""

    def __init__(self) -> None:
        self.log = _Log()
        self.publishers: dict[str, _Publisher] = {}
        self.destroyed: list[str] = []

    def get_logger(self) -> _Log:
        return self.log

    def create_publisher(self, msg_type: type, topic: str, depth: int) -> _Publisher:
        assert topic not in self.publishers, f"{topic} advertised twice"
        self.publishers[topic] = _Publisher(msg_type, topic)
        return self.publishers[topic]

    def destroy_publisher(self, publisher: _Publisher) -> None:
        self.destroyed.append(publisher.topic)
        del self.publishers[publisher.topic]


def test_without_hri_msgs_one_warning_and_no_topics(monkeypatch):
    monkeypatch.setitem(sys.modules, "hri_msgs", None)       # as if not installed
    monkeypatch.setitem(sys.modules, "hri_msgs.msg", None)
    node = _RecordingNode()
    out = HriPublisher(node, RosFactory(), send_transforms=None)
    assert not out.enabled and node.publishers == {}
    (text,) = node.log.warnings
    assert "hri_msgs is not installed" in text and "hri-msgs" in text and "Fix:" in text
    out.publish(frame([facing_person(4)]))   # nothing published, nothing fails
    assert node.publishers == {} and node.log.warnings == [text]


def test_bodies_get_topics_while_tracked(hri_typestore):  # noqa: F811
    ts = hri_typestore
    node, sent_tf = _RecordingNode(), []
    out = HriPublisher(node, RosbagsFactory(ts), sent_tf.extend, ids=HriIds("abcd"))
    assert out.enabled and set(node.publishers) == {TRACKED_TOPIC}

    no_root = facing_person(9)
    no_root.root_camera_m = None
    out.publish(frame([facing_person(4), no_root]))
    assert set(node.publishers) == {TRACKED_TOPIC} | {
        body_topic(b, t) for b in ("abcd4", "abcd9") for t in ("roi", "skeleton2d")}
    assert list(node.publishers[TRACKED_TOPIC].sent[-1].ids) == ["abcd4", "abcd9"]
    skeleton = node.publishers[body_topic("abcd9", "skeleton2d")].sent[-1]
    assert skeleton.__msgtype__ == "hri_msgs/msg/Skeleton2D" and len(skeleton.skeleton) == 18
    # TF only for bodies with a 3D root
    assert [t.child_frame_id for t in sent_tf] == ["body_abcd4"]

    out.publish(frame([facing_person(9)]))          # body 4 left: its topics go
    assert sorted(node.destroyed) == [body_topic("abcd4", "roi"), body_topic("abcd4", "skeleton2d")]
    assert list(node.publishers[TRACKED_TOPIC].sent[-1].ids) == ["abcd9"]
    assert len(node.publishers[body_topic("abcd9", "roi")].sent) == 2   # same publisher kept
    out.publish(frame([]))
    assert set(node.publishers) == {TRACKED_TOPIC}
    assert list(node.publishers[TRACKED_TOPIC].sent[-1].ids) == []
