"""Annotated images with OpenCV: skeletons coloured per body side, track ids, 3D distances.

Used by the offline runner (annotated.mp4, /pose/image_annotated in poses.mcap) and by the node's
annotated-image topic, so what a user sees offline is what the robot publishes.
"""

from __future__ import annotations

import cv2
import numpy as np

from pose_ros.person import DepthSource, Person
from pose_ros.skeleton import SIDE_COLOURS_RGB, Topology

_BGR = {side: (b, g, r) for side, (r, g, b) in SIDE_COLOURS_RGB.items()}
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
    return out
