"""Annotated images with OpenCV: skeletons coloured per body side, track ids, 3D distances.

Used by the offline runner (annotated.mp4, /pose/image_annotated in poses.mcap) and by the node's
annotated-image topic, so what a user sees offline is what the robot publishes.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose_ros.person import DepthSource, Person
from pose_ros.skeleton import HAND21, SIDE_COLOURS_RGB, Topology

_BGR = {side: (b, g, r) for side, (r, g, b) in SIDE_COLOURS_RGB.items()}
_CUE_BGR = (0, 220, 255)   # hands and active cues: the markers' signal yellow
_SUFFIX = {DepthSource.IMAGE: " (depth)", DepthSource.MONOCULAR: "", DepthSource.NONE: ""}


def label_text(person: Person) -> str:
    """'id 3  2.4 m' (distance of the pelvis from the camera) or 'id 3' without a 3D root."""
    text = f"id {person.track_id}"
    if person.root_camera_m is not None and person.depth_source != DepthSource.NONE:
        text += f"  {float(np.linalg.norm(person.root_camera_m)):.1f} m"
        text += _SUFFIX[person.depth_source]
    return text


def draw_people(image_bgr: np.ndarray, people: list[Person], topology: Topology,
                min_score: float = 0.3) -> np.ndarray:
    """A copy of the image with every person's skeleton, box and label drawn on it.

    Joints and limbs below min_score are left out. Line widths scale with the image size.
    """
    out = image_bgr.copy()
    scale = max(out.shape[:2]) / 640.0
    thickness = max(1, int(round(2 * scale)))
    radius = max(2, int(round(3 * scale)))
    font_scale = 0.5 * max(scale, 0.6)
    shift = 4                                    # sub-pixel drawing: 4 fractional bits
    for person in people:
        kps = person.keypoints_2d
        good = kps[:, 2] >= min_score
        pts = np.round(kps[:, :2] * (1 << shift)).astype(np.int64)
        for a, b in topology.limbs:
            if good[a] and good[b]:
                cv2.line(out, tuple(pts[a]), tuple(pts[b]), _BGR[topology.limb_side((a, b))],
                         thickness, cv2.LINE_AA, shift)
        for j in np.flatnonzero(good):
            cv2.circle(out, tuple(pts[j]), radius << shift, _BGR[topology.side(int(j))], -1,
                       cv2.LINE_AA, shift)
        x0, y0, x1, y1 = (int(round(v)) for v in person.bbox_px)
        cv2.rectangle(out, (x0, y0), (x1, y1), (220, 220, 220), 1, cv2.LINE_AA)
        text = label_text(person)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        ty = max(y0 - 4, th + 2)
        cv2.rectangle(out, (x0, ty - th - 2), (x0 + tw + 4, ty + base - 2), (0, 0, 0), -1)
        cv2.putText(out, text, (x0 + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)
        _draw_hands_and_cues(out, person, x0, y1, thickness, font_scale, shift)
    return out


def cue_text(person: Person) -> str:
    """The active cues, e.g. 'hand_raised L, facing' ('' when none or cues are off)."""
    if person.cues is None:
        return ""
    return ", ".join(f"{c.name} {c.side[0].upper()}" if c.side else c.name
                     for c in person.cues.cues if c.active)


def _draw_hands_and_cues(out: np.ndarray, person: Person, x0: int, y1: int, thickness: int,
                         font_scale: float, shift: int) -> None:
    """Hand skeletons (thin, in the cue colour) and the active cues under the box."""
    for hand in person.hands:
        pts = np.round(hand.keypoints_2d[:, :2] * (1 << shift)).astype(np.int64)
        for a, b in HAND21.limbs:
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), _CUE_BGR, max(1, thickness // 2),
                     cv2.LINE_AA, shift)
    text = cue_text(person)
    if text:
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        ty = min(y1 + th + 6, out.shape[0] - base - 1)
        cv2.rectangle(out, (x0, ty - th - 2), (x0 + tw + 4, ty + base - 2), (0, 0, 0), -1)
        cv2.putText(out, text, (x0 + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    _CUE_BGR, thickness, cv2.LINE_AA)
