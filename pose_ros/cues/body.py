"""What one frame shows of a person, and the instantaneous measures the cues are made of.

Everything here is per frame and stateless; cues/temporal.py adds time (waving, debouncing,
speed) and cues/engine.py holds the per-person state. Image measures use the image's "up" (the
camera is assumed roughly level in roll, as on a robot) and lengths in units of the person's
torso (shoulder centre to hip centre), so they do not depend on distance or image size. 3D
measures use the lifter's joints in the camera optical frame (x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pose_ros.person import Hand
from pose_ros.skeleton import BLAZEPOSE33, H36M17, HAND21

SIDES = ("left", "right")
_B = BLAZEPOSE33.index
_H = H36M17.index
_K = HAND21.index
FINGERS = ("index", "middle", "ring", "pinky")
INDEX_TIP_FROM_WRIST_M = 0.17    # adult wrist to index fingertip, when no hand keypoints exist
EYE_FORWARD_M = 0.08             # eyes in front of the head joint (mid-ears)


@dataclass
class BodyObservation:
    """One tracked person in one frame, as the cues need it.

    Attributes:
        track_id, stamp_s: who and when.
        keypoints_px: (33, 3) x_px, y_px, visibility in BLAZEPOSE33 order (raw landmarks).
        joints_m: (17, 3) lifter joints (H36M17 order) in the camera frame, metres: absolute
            when root_m is given, else relative to the pelvis; None without 3D.
        root_m: (3,) pelvis in the camera frame, or None when unknown.
        hands: hand model results by side ("left"/"right": the person's own left and right).
        intrinsics: the camera's (camera.CameraIntrinsics), to put pointing rays through the
            2D eyes and fingertip; None: 3D only.
    """

    track_id: int
    stamp_s: float
    keypoints_px: np.ndarray
    joints_m: np.ndarray | None = None
    root_m: np.ndarray | None = None
    hands: dict[str, Hand] = field(default_factory=dict)
    intrinsics: object | None = None

    def point(self, name: str) -> np.ndarray:
        return self.keypoints_px[_B(name)]

    def torso_px(self) -> float:
        """Shoulder-centre to hip-centre length in pixels (the unit of image measures)."""
        kp = self.keypoints_px
        sh = (kp[_B("left_shoulder"), :2] + kp[_B("right_shoulder"), :2]) / 2
        hip = (kp[_B("left_hip"), :2] + kp[_B("right_hip"), :2]) / 2
        return float(max(np.linalg.norm(sh - hip), 1.0))


def _visible(*scores: float) -> float:
    return float(min(scores))


def wrist_height(body: BodyObservation, side: str) -> tuple[float, float]:
    """(height of the wrist above the shoulder in torso units, visibility of the three joints).

    The same number with the elbow instead of the shoulder is `forearm_up`."""
    wrist, shoulder = body.point(f"{side}_wrist"), body.point(f"{side}_shoulder")
    return ((shoulder[1] - wrist[1]) / body.torso_px(),
            _visible(wrist[2], shoulder[2], body.point(f"{side}_elbow")[2]))


def forearm_up(body: BodyObservation, side: str) -> float:
    """Height of the wrist above the elbow, torso units (> 0: the forearm points up)."""
    return float((body.point(f"{side}_elbow")[1] - body.point(f"{side}_wrist")[1])
                 / body.torso_px())


def hand_offset(body: BodyObservation, side: str) -> np.ndarray:
    """(2,) the wrist's image position relative to its shoulder, torso units: still while a
    raised hand is held."""
    return (body.point(f"{side}_wrist")[:2] - body.point(f"{side}_shoulder")[:2]) \
        / body.torso_px()


def wrist_lateral(body: BodyObservation, side: str) -> float:
    """Wrist x relative to the elbow, torso units: the signal a wave swings."""
    return float((body.point(f"{side}_wrist")[0] - body.point(f"{side}_elbow")[0])
                 / body.torso_px())


def fingertip_m(body: BodyObservation, side: str) -> np.ndarray | None:
    """The index fingertip in the camera frame: the hand model's, placed at the lifter's wrist,
    else the forearm (elbow -> wrist) prolonged by a hand length."""
    if body.joints_m is None:
        return None
    wrist = body.joints_m[_H(f"{side}_wrist")]
    hand = body.hands.get(side)
    if hand is not None:
        w = hand.world_m
        return wrist + (w[_K("index_tip")] - w[_K("wrist")])
    forearm = wrist - body.joints_m[_H(f"{side}_elbow")]
    return wrist + forearm / max(np.linalg.norm(forearm), 1e-6) * INDEX_TIP_FROM_WRIST_M


def straight_arm_tip_m(body: BodyObservation, side: str) -> np.ndarray | None:
    """The index fingertip of a straight (pointing) arm in the camera frame: on the camera ray
    through its 2D position, at arm's reach from the lifted shoulder (upper arm + forearm +
    hand). A limb pointing at the camera is foreshortened in 2D and its depth is what a lifter
    gets worst; the 2D point and the bone lengths pin it down. Of the two solutions, the one
    further in front of the chest (people point ahead or aside, not behind themselves); None
    without intrinsics or a visible fingertip."""
    if body.intrinsics is None or body.joints_m is None:
        return None
    hand = body.hands.get(side)
    tip = hand.keypoints_2d[_K("index_tip")] if hand is not None else body.point(f"{side}_index")
    if tip[2] < 0.3:
        return None
    j = body.joints_m
    s, e, w = (j[_H(f"{side}_{n}")] for n in ("shoulder", "elbow", "wrist"))
    reach = np.linalg.norm(e - s) + np.linalg.norm(w - e) + INDEX_TIP_FROM_WRIST_M
    ray = np.append(body.intrinsics.normalized(tip[:2]), 1.0)
    ray /= np.linalg.norm(ray)
    along = ray @ s
    disc = along ** 2 - s @ s + reach ** 2
    roots = along + np.array([-1.0, 1.0]) * np.sqrt(max(disc, 0.0))
    roots = roots[roots > 0]
    if not len(roots):
        return None
    forward = np.cross(j[_H("left_shoulder")] - j[_H("right_shoulder")],
                       j[_H("thorax")] - j[_H("pelvis")])
    best = roots[np.argmax([(r * ray - s) @ forward for r in roots])]
    return best * ray


def eye_m(body: BodyObservation) -> np.ndarray | None:
    """Where a pointing ray starts: the eyes, 8 cm in front of the lifter's head (mid-ears)
    along the chest's forward direction."""
    j = body.joints_m
    if j is None:
        return None
    forward = np.cross(j[_H("left_shoulder")] - j[_H("right_shoulder")],
                       j[_H("thorax")] - j[_H("pelvis")])
    return j[_H("head")] + EYE_FORWARD_M * forward / max(np.linalg.norm(forward), 1e-9)


def image_plane_normal(body: BodyObservation, side: str) -> np.ndarray | None:
    """Unit normal of the plane through the camera centre and the 2D line from the eyes to the
    index fingertip: a pointing ray seen in the image lies in it. None when unknown."""
    if body.intrinsics is None:
        return None
    kp = body.keypoints_px
    eyes = (kp[_B("left_eye")] + kp[_B("right_eye")]) / 2
    hand = body.hands.get(side)
    tip = hand.keypoints_2d[_K("index_tip")] if hand is not None else body.point(f"{side}_index")
    if min(eyes[2], tip[2]) < 0.3:
        return None
    rays = np.ones((2, 3))
    rays[:, :2] = body.intrinsics.normalized(np.stack([eyes[:2], tip[:2]]))
    normal = np.cross(rays[0], rays[1])
    norm = np.linalg.norm(normal)
    return normal / norm if norm > 1e-9 else None


def arm_straightness(body: BodyObservation, side: str) -> float:
    """cos of the elbow's opening angle in 3D: -1 fully straight, +1 folded; 2D when no 3D."""
    if body.joints_m is not None:
        s, e, w = (body.joints_m[_H(f"{side}_{j}")] for j in ("shoulder", "elbow", "wrist"))
    else:
        s, e, w = (body.point(f"{side}_{j}")[:2] for j in ("shoulder", "elbow", "wrist"))
    a, b = s - e, w - e
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))


def arm_elevation(body: BodyObservation, side: str) -> float:
    """Angle in degrees between the upper arm and the trunk's downward direction (0: hanging,
    90: horizontal, 180: straight up), in 3D when available."""
    j = body.joints_m
    if j is not None:
        down = j[_H("pelvis")] - j[_H("thorax")]
        arm = j[_H(f"{side}_wrist")] - j[_H(f"{side}_shoulder")]
    else:
        kp = body.keypoints_px[:, :2]
        down = (kp[_B("left_hip")] + kp[_B("right_hip")] - kp[_B("left_shoulder")]
                - kp[_B("right_shoulder")]) / 2
        arm = kp[_B(f"{side}_wrist")] - kp[_B(f"{side}_shoulder")]
    cos = arm @ down / max(np.linalg.norm(arm) * np.linalg.norm(down), 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def arm_straight_2d(body: BodyObservation, side: str) -> float:
    """The elbow's distance from the shoulder-wrist line in the image, torso units. A straight
    arm stays a straight line in any projection (only shorter), so this needs no depth."""
    s, e, w = (body.point(f"{side}_{j}")[:2] for j in ("shoulder", "elbow", "wrist"))
    d = w - s
    cross = d[0] * (e - s)[1] - d[1] * (e - s)[0]
    return float(abs(cross) / max(np.linalg.norm(d), 1e-6) / body.torso_px())


def straight_arm_elevation(body: BodyObservation, side: str) -> tuple[float, float] | None:
    """(elevation in degrees, in-image share of its length) of the straight-arm reconstruction
    (shoulder -> straight_arm_tip_m). The lifted arm's own direction is least reliable exactly
    when it points at the camera; an arm nearly in the image plane (share near 1) has no depth
    to recover and its elevation is the 2D one (arm_elevation without 3D)."""
    tip = straight_arm_tip_m(body, side)
    if tip is None:
        return None
    j = body.joints_m
    shoulder = j[_H(f"{side}_shoulder")]
    arm = tip - shoulder
    ray = shoulder / max(np.linalg.norm(shoulder), 1e-9)
    share = float(np.linalg.norm(arm - (arm @ ray) * ray) / max(np.linalg.norm(arm), 1e-9))
    down = j[_H("pelvis")] - j[_H("thorax")]
    cos = arm @ down / max(np.linalg.norm(arm) * np.linalg.norm(down), 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))), share


def arm_elevation_2d(body: BodyObservation, side: str) -> float:
    """arm_elevation measured in the image only."""
    return arm_elevation(BodyObservation(body.track_id, body.stamp_s, body.keypoints_px), side)


def arm_reach_m(body: BodyObservation, side: str) -> float:
    """How far the wrist is from the shoulder across the floor (forward or sideways, metres):
    a pointing arm reaches out, a hanging or swinging one stays near the body."""
    j = body.joints_m
    if j is None:
        return 0.0
    up = j[_H("thorax")] - j[_H("pelvis")]
    up = up / max(np.linalg.norm(up), 1e-9)
    arm = j[_H(f"{side}_wrist")] - j[_H(f"{side}_shoulder")]
    return float(np.linalg.norm(arm - (arm @ up) * up))


def facing_angle_deg(body: BodyObservation) -> float | None:
    """Angle between the chest's forward direction and the direction to the camera (3D)."""
    j = body.joints_m
    if j is None:
        return None
    across = j[_H("left_shoulder")] - j[_H("right_shoulder")]
    up = j[_H("thorax")] - j[_H("pelvis")]
    forward = np.cross(across, up)
    chest = j[_H("thorax")] if body.root_m is not None else np.array([0.0, 0.0, 1.0])
    to_camera = -chest
    cos = forward @ to_camera / max(np.linalg.norm(forward) * np.linalg.norm(to_camera), 1e-9)
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def face_frontal(body: BodyObservation) -> float:
    """[0, 1]: both eyes visible and the nose between the ears (a face turned to the camera)."""
    nose, le, re = body.point("nose"), body.point("left_ear"), body.point("right_ear")
    eyes = _visible(body.point("left_eye")[2], body.point("right_eye")[2], nose[2])
    span = le[0] - re[0]          # facing the camera: the left ear is on the image's right
    if span <= 0:
        return 0.0
    centred = 1.0 - min(abs(nose[0] - (le[0] + re[0]) / 2) / (span / 2), 1.0)
    return float(eyes * centred)


def finger_extension(hand: Hand) -> dict[str, float]:
    """Per finger (thumb included): tip-to-wrist over base-to-wrist distance ratio on the hand's
    metric landmarks; about 1.8-2.2 when straight, below ~1.2 when curled."""
    w = hand.world_m
    wrist = w[_K("wrist")]
    out = {}
    for finger in FINGERS:
        tip, base = w[_K(f"{finger}_tip")], w[_K(f"{finger}_mcp")]
        out[finger] = float(np.linalg.norm(tip - wrist) / max(np.linalg.norm(base - wrist), 1e-6))
    tip, base = w[_K("thumb_tip")], w[_K("thumb_mcp")]
    out["thumb"] = float(np.linalg.norm(tip - w[_K("index_mcp")])
                         / max(np.linalg.norm(base - w[_K("index_mcp")]), 1e-6))
    return out


def image_direction_up(hand: Hand, a: str, b: str) -> float:
    """cos of the angle between the image's up and the a -> b direction in the image."""
    d = hand.keypoints_2d[_K(b), :2] - hand.keypoints_2d[_K(a), :2]
    return float(-d[1] / max(np.linalg.norm(d), 1e-9))


def palm_towards_camera(hand: Hand, side: str) -> float:
    """cos of the angle between the palm's normal and the direction to the camera (-z)."""
    w = hand.world_m
    a, b = w[_K("index_mcp")] - w[_K("wrist")], w[_K("pinky_mcp")] - w[_K("wrist")]
    normal = np.cross(a, b) if side == "right" else np.cross(b, a)   # out of the palm
    return float(-normal[2] / max(np.linalg.norm(normal), 1e-9))
