"""People -> visualization_msgs/MarkerArray for RViz and Foxglove, through the message factory.

Per person with a 3D position in the camera (depth_source IMAGE or MONOCULAR): a LINE_LIST of
limbs coloured per body side, a SPHERE_LIST of joints, and a TEXT_VIEW_FACING label "id  2.4 m"
above the head. Namespaces are fixed and the marker id is the track id, so a person's markers are
replaced in place frame after frame; a short lifetime makes departed people vanish without
DELETE bookkeeping. People whose 3D is pelvis-relative (DEPTH_NONE) or absent get no markers:
drawn at the camera origin they would mislead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pose_ros.messages import MessageFactory, header_msg, point_msg
from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.skeleton import SIDE_COLOURS_RGB, Topology, get_topology

MARKER = "visualization_msgs/msg/Marker"
LINE_LIST, SPHERE_LIST, TEXT_VIEW_FACING = 5, 7, 9
ADD = 0
NS_LIMBS, NS_JOINTS, NS_LABELS = "skeleton_limbs", "skeleton_joints", "skeleton_labels"


@dataclass(frozen=True)
class MarkerStyle:
    """Marker look and life.

    Attributes:
        lifetime_s: how long a marker stays without an update (departed people vanish).
        min_score: joints below this 3D score are not drawn (face joints have score 0).
        line_width_m, joint_diameter_m, text_height_m: sizes in metres.
    """

    lifetime_s: float = 0.5
    min_score: float = 0.2
    line_width_m: float = 0.03
    joint_diameter_m: float = 0.06
    text_height_m: float = 0.15


def _colour(factory: MessageFactory, rgb: tuple[int, int, int], alpha: float = 1.0) -> Any:
    r, g, b = (c / 255.0 for c in rgb)
    return factory("std_msgs/msg/ColorRGBA", r=r, g=g, b=b, a=alpha)


def _duration(factory: MessageFactory, seconds: float) -> Any:
    sec, nanosec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
    return factory("builtin_interfaces/msg/Duration", sec=sec, nanosec=nanosec)


def _identity_pose(factory: MessageFactory, position=(0.0, 0.0, 0.0)) -> Any:
    return factory("geometry_msgs/msg/Pose", position=point_msg(factory, position),
                   orientation=factory("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0,
                                       w=1.0))


def _scale(factory: MessageFactory, x: float, y: float, z: float) -> Any:
    return factory("geometry_msgs/msg/Vector3", x=x, y=y, z=z)


def has_camera_3d(person: Person) -> bool:
    return person.keypoints_3d is not None and person.depth_source != DepthSource.NONE


def person_markers(factory: MessageFactory, header: Any, person: Person, topology: Topology,
                   style: MarkerStyle) -> list[Any]:
    """The three markers of one person (empty when the person has no camera-frame 3D)."""
    if not has_camera_3d(person):
        return []
    xyz = person.keypoints_3d[:, :3].astype(np.float64)
    good = person.keypoints_3d[:, 3] >= style.min_score
    marker_id = int(person.track_id) % 2**31          # Marker.id is int32
    common = dict(header=header, id=marker_id, action=ADD,
                  lifetime=_duration(factory, style.lifetime_s), frame_locked=False)

    limbs = [(a, b) for a, b in topology.limbs if good[a] and good[b]]
    points, colours = [], []
    for a, b in limbs:
        colour = _colour(factory, SIDE_COLOURS_RGB[topology.limb_side((a, b))])
        points += [point_msg(factory, xyz[a]), point_msg(factory, xyz[b])]
        colours += [colour, colour]
    w = style.line_width_m
    markers = [factory(MARKER, ns=NS_LIMBS, type=LINE_LIST, pose=_identity_pose(factory),
                       scale=_scale(factory, w, 0.0, 0.0), color=_colour(factory, (255, 255, 255)),
                       points=points, colors=colours, **common)]

    joints = np.flatnonzero(good)
    d = style.joint_diameter_m
    markers.append(factory(
        MARKER, ns=NS_JOINTS, type=SPHERE_LIST, pose=_identity_pose(factory),
        scale=_scale(factory, d, d, d), color=_colour(factory, (255, 255, 255)),
        points=[point_msg(factory, xyz[j]) for j in joints],
        colors=[_colour(factory, SIDE_COLOURS_RGB[topology.side(int(j))]) for j in joints],
        **common))

    top = xyz[good] if good.any() else xyz
    above_head = top[np.argmin(top[:, 1])] - np.array([0.0, 0.25, 0.0])   # y points down
    distance_m = float(np.linalg.norm(person.root_camera_m)) \
        if person.root_camera_m is not None else float("nan")
    markers.append(factory(
        MARKER, ns=NS_LABELS, type=TEXT_VIEW_FACING, pose=_identity_pose(factory, above_head),
        scale=_scale(factory, 0.0, 0.0, style.text_height_m),
        color=_colour(factory, (255, 255, 255)), text=f"{person.track_id}  {distance_m:.1f} m",
        **common))
    return markers


def marker_array_msg(factory: MessageFactory, frame: FramePoses,
                     style: MarkerStyle | None = None) -> Any:
    """All people of a frame -> MarkerArray; header (stamp, frame_id) copied from the image."""
    style = style or MarkerStyle()
    topology = get_topology(frame.skeleton)
    header = header_msg(factory, frame.stamp_ns, frame.frame_id.lstrip("/"))
    markers = []
    for person in frame.people:
        markers += person_markers(factory, header, person, topology, style)
    return factory("visualization_msgs/msg/MarkerArray", markers=markers)
