"""REP-155 (ROS4HRI) output: our people as hri_msgs bodies, through the message factory.

For each published person (a "body" in REP-155's words):
- its id on /humans/bodies/tracked (hri_msgs/IdsList);
- /humans/bodies/<id>/roi (hri_msgs/NormalizedRegionOfInterest2D): the box, normalized by the
  image size, confidence = person score;
- /humans/bodies/<id>/skeleton2d (hri_msgs/Skeleton2D): the 18 points of its NOSE..RIGHT_EAR
  constants, normalized; NECK (not a COCO joint) is the shoulders' midpoint;
- a TF frame body_<id>, parent the image's frame: origin at the pelvis (the published root),
  x forward out of the chest, y to the person's left, z up the trunk (REP-103 body axes), only
  when the person has a 3D root.

Ids are REP-155 strings: a short tag drawn once per output object (so ids of two runs differ
even though track ids restart at 1) + the track id; an id is never reused within a run.
hri_msgs is only needed where these messages are built (the node's RosFactory, or rosbags
types from its .msg files); nothing here imports it.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.ros.messages import MessageFactory, header_msg
from pose_ros.skeleton import Topology, get_topology

# hri_msgs/Skeleton2D's constants, in order (NECK = 1 is derived)
SKELETON2D_NAMES = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
    "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
    "left_knee", "left_ankle", "left_eye", "right_eye", "left_ear", "right_ear",
)


class HriIds:
    """Track id -> REP-155 body id ("<tag><track id>", e.g. "kqzp7"), stable within a run."""

    def __init__(self, tag: str | None = None) -> None:
        self.tag = tag if tag is not None else "".join(
            secrets.choice(string.ascii_lowercase) for _ in range(4))

    def __call__(self, track_id: int) -> str:
        return f"{self.tag}{int(track_id)}"


def ids_list_msg(factory: MessageFactory, frame: FramePoses, ids: HriIds) -> Any:
    return factory("hri_msgs/msg/IdsList", header=header_msg(factory, frame.stamp_ns,
                                                              frame.frame_id),
                   ids=[ids(p.track_id) for p in frame.people])


def roi_msg(factory: MessageFactory, frame: FramePoses, person: Person) -> Any:
    x0, y0, x1, y1 = (float(v) for v in person.bbox_px)
    w, h = float(frame.width), float(frame.height)
    return factory("hri_msgs/msg/NormalizedRegionOfInterest2D",
                   header=header_msg(factory, frame.stamp_ns, frame.frame_id),
                   xmin=min(max(x0 / w, 0.0), 1.0), ymin=min(max(y0 / h, 0.0), 1.0),
                   xmax=min(max(x1 / w, 0.0), 1.0), ymax=min(max(y1 / h, 0.0), 1.0),
                   c=float(person.score))


def skeleton2d_points(person: Person, topology: Topology, width: int,
                      height: int) -> np.ndarray:
    """(18, 3) normalized x, y in [0, 1] and confidence, in Skeleton2D's order."""
    kp = person.keypoints_2d.astype(np.float64)
    out = np.zeros((len(SKELETON2D_NAMES), 3))
    for i, name in enumerate(SKELETON2D_NAMES):
        if name == "neck":
            a, b = kp[topology.index("left_shoulder")], kp[topology.index("right_shoulder")]
            out[i] = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, min(a[2], b[2])]
        else:
            out[i] = kp[topology.index(name)]
    out[:, 0] /= width
    out[:, 1] /= height
    out[:, :2] = out[:, :2].clip(0.0, 1.0)
    return out


def skeleton2d_msg(factory: MessageFactory, frame: FramePoses, person: Person) -> Any:
    points = skeleton2d_points(person, get_topology(frame.skeleton), frame.width, frame.height)
    return factory("hri_msgs/msg/Skeleton2D",
                   header=header_msg(factory, frame.stamp_ns, frame.frame_id),
                   skeleton=[factory("hri_msgs/msg/NormalizedPointOfInterest2D", x=x, y=y, c=c)
                             for x, y, c in points.tolist()])


def body_rotation(person: Person, topology: Topology) -> np.ndarray | None:
    """3x3 rotation camera optical frame <- body frame (columns: forward, left, up)."""
    k = person.keypoints_3d[:, :3].astype(np.float64)
    left = k[topology.index("left_shoulder")] - k[topology.index("right_shoulder")] \
        + k[topology.index("left_hip")] - k[topology.index("right_hip")]
    up = (k[topology.index("left_shoulder")] + k[topology.index("right_shoulder")]
          - k[topology.index("left_hip")] - k[topology.index("right_hip")])
    if np.linalg.norm(up) < 1e-6 or np.linalg.norm(left) < 1e-6:
        return None
    up /= np.linalg.norm(up)
    left -= (left @ up) * up
    if np.linalg.norm(left) < 1e-6:
        return None
    left /= np.linalg.norm(left)
    return np.column_stack([np.cross(left, up), left, up])


def body_transform_msg(factory: MessageFactory, frame: FramePoses, person: Person,
                       ids: HriIds) -> Any | None:
    """TransformStamped image frame -> body_<id>; None without a 3D root."""
    if (person.keypoints_3d is None or person.root_camera_m is None
            or person.depth_source == DepthSource.NONE):
        return None
    rotation = body_rotation(person, get_topology(frame.skeleton))
    if rotation is None:
        return None
    qx, qy, qz, qw = Rotation.from_matrix(rotation).as_quat()
    x, y, z = (float(v) for v in person.root_camera_m)
    return factory(
        "geometry_msgs/msg/TransformStamped",
        header=header_msg(factory, frame.stamp_ns, frame.frame_id),
        child_frame_id=f"body_{ids(person.track_id)}",
        transform=factory("geometry_msgs/msg/Transform",
                          translation=factory("geometry_msgs/msg/Vector3", x=x, y=y, z=z),
                          rotation=factory("geometry_msgs/msg/Quaternion", x=float(qx),
                                           y=float(qy), z=float(qz), w=float(qw))))
