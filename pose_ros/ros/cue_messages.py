"""People's cues and hands -> pose_ros/msg/CuesArray, through the same message factory as
messages.py (rclpy classes in the node, rosbags classes offline and in tests)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pose_ros.person import FramePoses, Hand, Person
from pose_ros.ros.messages import MessageFactory, header_msg, point_msg
from pose_ros.skeleton import HAND21

EVENT_CODES = {"start": 1, "stop": 2}
NAN = float("nan")


def hand_msg(factory: MessageFactory, hand: Hand) -> Any:
    return factory(
        "pose_ros/msg/Hand", side=hand.side, score=float(hand.score),
        keypoints=[factory("pose_ros/msg/Keypoint2D", x=x, y=y, score=s)
                   for x, y, s in hand.keypoints_2d.astype(np.float64).tolist()],
        points_hand=[point_msg(factory, p) for p in hand.world_m.astype(np.float64)])


def _number(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else NAN


def person_cues_msg(factory: MessageFactory, person: Person) -> Any:
    """One Person with cues (person.cues: cues.engine.PersonCues) -> pose_ros/msg/PersonCues."""
    c = person.cues
    events = {(e.name, e.side): EVENT_CODES[e.kind] for e in c.events}
    cues = [factory("pose_ros/msg/Cue", name=q.name, side=q.side, active=bool(q.active),
                    confidence=float(q.confidence), event=events.get((q.name, q.side), 0))
            for q in c.cues]
    ray = c.pointing
    fields: dict[str, Any] = {"pointing": ray is not None, "pointing_target_valid": False}
    if ray is not None:
        x, y, z = (float(v) for v in ray.direction)
        fields.update(pointing_side=ray.side, pointing_origin=point_msg(factory, ray.origin_m),
                      pointing_direction=factory("geometry_msgs/msg/Vector3", x=x, y=y, z=z))
        if ray.target_m is not None:
            fields.update(pointing_target_valid=True,
                          pointing_target=point_msg(factory, ray.target_m))
    return factory("pose_ros/msg/PersonCues", id=int(person.track_id), cues=cues,
                   distance=_number(c.distance_m), approach_speed=_number(c.approach_speed_mps),
                   facing_angle=_number(c.facing_deg), closest=bool(c.closest),
                   hands=[hand_msg(factory, h) for h in person.hands], **fields)


def cues_array_msg(factory: MessageFactory, frame: FramePoses) -> Any:
    """The cues of every person of a frame (people without cues are left out)."""
    return factory("pose_ros/msg/CuesArray",
                   header=header_msg(factory, frame.stamp_ns, frame.frame_id),
                   hand_keypoint_names=list(HAND21.keypoint_names),
                   people=[person_cues_msg(factory, p) for p in frame.people
                           if p.cues is not None])
