"""The node's REP-155 topics: /humans/bodies/tracked and, per body, /humans/bodies/<id>/roi and
/humans/bodies/<id>/skeleton2d, plus the body_<id> TF frames (messages built by hri.py).

The node hands itself in (create_publisher, destroy_publisher, get_logger), its message factory
(which also gives the message classes) and a function that sends TransformStamped messages;
this module imports no rclpy, so the plain test suite runs it. Per-body publishers are made when
a body appears and destroyed when it leaves, as REP-155 expects of per-body topics. Without
hri_msgs the output switches itself off with one warning naming the fix, and the node keeps
running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pose_ros.person import FramePoses
from pose_ros.ros.hri import HriIds, body_transform_msg, ids_list_msg, roi_msg, skeleton2d_msg

TRACKED_TOPIC = "/humans/bodies/tracked"
HRI_TYPES = {"tracked": "hri_msgs/msg/IdsList", "roi": "hri_msgs/msg/NormalizedRegionOfInterest2D",
             "skeleton2d": "hri_msgs/msg/Skeleton2D"}


def body_topic(body_id: str, name: str) -> str:
    return f"/humans/bodies/{body_id}/{name}"


class HriPublisher:
    """REP-155 bodies for a node; `enabled` is False when hri_msgs is missing.

    `factory` builds messages and gives their classes (`factory.message_class(msgtype)`:
    messages.RosFactory in the node). `ids` names the bodies (a fresh run tag by default).
    """

    def __init__(self, node: Any, factory: Any,
                 send_transforms: Callable[[list], None] | None, *, qos_depth: int = 10,
                 ids: HriIds | None = None) -> None:
        self.node, self.factory, self.send_transforms = node, factory, send_transforms
        self.qos_depth = qos_depth
        self.ids = ids if ids is not None else HriIds()
        self.bodies: dict[str, tuple[Any, Any]] = {}   # body id -> (roi, skeleton2d) publishers
        try:
            self.classes = {k: factory.message_class(t) for k, t in HRI_TYPES.items()}
        except ImportError as exc:
            node.get_logger().warning(
                f"hri_output is on but hri_msgs is not installed ({exc}): no REP-155 topics, the "
                "other outputs go on. Fix: install ros-$ROS_DISTRO-hri-msgs (or build "
                "ros4hri/hri_msgs) and source it, or set hri_output: false")
            self.enabled = False
            return
        self.enabled = True
        self.tracked = node.create_publisher(self.classes["tracked"], TRACKED_TOPIC, qos_depth)

    def publish(self, poses: FramePoses) -> None:
        if not self.enabled:
            return
        f = self.factory
        self.tracked.publish(ids_list_msg(f, poses, self.ids))
        current = {self.ids(p.track_id): p for p in poses.people}
        for gone in sorted(set(self.bodies) - set(current)):
            for publisher in self.bodies.pop(gone):
                self.node.destroy_publisher(publisher)
        transforms = []
        for body_id, person in current.items():
            if body_id not in self.bodies:
                self.bodies[body_id] = tuple(
                    self.node.create_publisher(self.classes[name], body_topic(body_id, name),
                                               self.qos_depth)
                    for name in ("roi", "skeleton2d"))
            roi_pub, skeleton_pub = self.bodies[body_id]
            roi_pub.publish(roi_msg(f, poses, person))
            skeleton_pub.publish(skeleton2d_msg(f, poses, person))
            transform = body_transform_msg(f, poses, person, self.ids)
            if transform is not None:
                transforms.append(transform)
        if transforms and self.send_transforms is not None:
            self.send_transforms(transforms)
