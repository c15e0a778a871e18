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

from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.ros.messages import MessageFactory, header_msg, point_msg
from pose_ros.skeleton import SIDE_COLOURS_RGB, Topology, get_topology

MARKER = "visualization_msgs/msg/Marker"
ARROW, SPHERE, LINE_LIST, SPHERE_LIST, TEXT_VIEW_FACING = 0, 2, 5, 7, 9
ADD = 0
NS_LIMBS, NS_JOINTS, NS_LABELS = "skeleton_limbs", "skeleton_joints", "skeleton_labels"
NS_POINTING, NS_TARGET, NS_RAISED = "pointing_ray", "pointing_target", "raised_hand"
CUE_RGB = (255, 220, 0)          # pointing rays, targets and raised hands: one signal colour
RAY_LENGTH_M = 2.0               # drawn length of a ray that meets no floor


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


def cue_markers(factory: MessageFactory, header: Any, person: Person,
                topology: Topology, style: MarkerStyle) -> list[Any]:
    """A pointing ray (arrow from the eyes to the floor target, or RAY_LENGTH_M long), its
    target (sphere) and a sphere on each raised hand's wrist; nothing without cues or 3D."""
    cues = person.cues
    if cues is None or not has_camera_3d(person):
        return []
    marker_id = int(person.track_id) % 2**31
    common = dict(header=header, action=ADD, lifetime=_duration(factory, style.lifetime_s),
                  frame_locked=False, color=_colour(factory, CUE_RGB, 0.9),
                  pose=_identity_pose(factory))
    markers = []
    ray = cues.pointing
    if ray is not None:
        end = ray.target_m if ray.target_m is not None else ray.origin_m \
            + RAY_LENGTH_M * ray.direction
        w = style.line_width_m
        markers.append(factory(MARKER, ns=NS_POINTING, id=marker_id, type=ARROW,
                               scale=_scale(factory, w, 2 * w, 3 * w),
                               points=[point_msg(factory, ray.origin_m), point_msg(factory, end)],
                               **common))
        if ray.target_m is not None:
            d = 0.25
            markers.append(factory(MARKER, ns=NS_TARGET, id=marker_id, type=SPHERE,
                                   scale=_scale(factory, d, d, 0.02), **{
                                       **common, "pose": _identity_pose(factory, ray.target_m)}))
    for k, side in enumerate(("left", "right")):
        wrist = f"{side}_wrist"
        if cues.active("hand_raised", side) and wrist in topology.keypoint_names:
            d = 3 * style.joint_diameter_m
            xyz = person.keypoints_3d[topology.index(wrist), :3]
            markers.append(factory(MARKER, ns=NS_RAISED, id=2 * marker_id % 2**31 + k,
                                   type=SPHERE, scale=_scale(factory, d, d, d),
                                   **{**common, "pose": _identity_pose(factory, xyz)}))
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
        markers += cue_markers(factory, header, person, topology, style)
    return factory("visualization_msgs/msg/MarkerArray", markers=markers)
