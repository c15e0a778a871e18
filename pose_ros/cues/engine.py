"""Cues per tracked person over time: what a robot reacts to, each with a confidence and
debounced start/stop events.

    engine = CueEngine(CueParams(), floor=FloorPlane.from_height_pitch(1.2, 15.0))
    people_cues = engine.update([BodyObservation(...), ...])      # one call per frame

Cues (side "left"/"right" where it applies, the person's own sides):
- hand_raised: wrist above the shoulder by `raise_min_height` torso lengths (about the top of
  the head), held, the other hand still.
- waving: hand up (wrist above the elbow) and the wrist swinging sideways at 1-4 Hz (two
  reversals of at least `wave_min_swing` torso lengths, spaced as that rate), the other hand
  still or waving too.
- pointing: arm straight (elbow opened past `point_max_elbow_cos`), lifted between
  `point_min_elevation_deg` and `point_max_elevation_deg` from hanging, held still, the other
  hand still; the ray runs from the head through the index fingertip (3D), with its hit on the
  floor when the camera's pose over the floor is known.
- open_palm ("stop"): hand model: four fingers and thumb straight, palm to the camera,
  fingers up. thumbs_up: hand model: thumb straight and up, the four fingers curled.
- facing: chest within `facing_max_deg` of the camera and a frontal face.
- approaching: distance to the camera falling faster than `approach_min_speed_mps`.
Per person also: distance, approach speed, facing angle, and which person is closest.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from pose_ros.cues import body as b
from pose_ros.cues.temporal import Debouncer, RateEstimator, SwingCounter

SPEED_WINDOW_S = 0.3
SIDED_CUES = ("hand_raised", "waving", "pointing", "open_palm", "thumbs_up")
PERSON_CUES = ("facing", "approaching")


@dataclass(frozen=True)
class CueParams:
    """Thresholds (torso lengths for image measures) and timing of the cues.

    raise_min_height, the other hand's stillness and wave_min_swing were chosen on the
    validation split of `pose-ros eval-cues` (pose3d fused): 0.05 -> 0.7, none -> 0.6 torso
    lengths/s over 0.6 s (0.4 s lost recall under --noise-2d strong) and 0.25 -> 0.18
    took raised-hand starts in dance from 30 to 1.4 per 10 minutes and in walking from 10 to 0
    at the same recall (1.0), and the wave's recall from 0.96 to 1.0 and latency p50 from 0.63
    to 0.45 s; the other hand's stillness took pointing starts in dance from 20 to 5.7 per 10
    minutes (README, cues).
    """

    hold_s: float = 0.15
    release_s: float = 0.3
    raise_min_height: float = 0.7
    raise_max_wrist_speed_mps: float = 1.5   # up or down, along the trunk
    raise_max_hand_speed: float = 1.0        # torso lengths/s, the 2D wrist about the shoulder
    raise_window_s: float = 0.2
    attention_max_facing_deg: float = 70.0
    max_other_hand_speed: float = 0.6        # raise, wave, point: the other hand's speed over
    other_hand_window_s: float = 0.6         # this window (torso lengths/s) stays under it
    other_hand_still_s: float = 0.5          # for this long
    wave_min_forearm_up: float = 0.25
    wave_min_wrist_height: float = -0.3
    wave_max_elbow_speed_mps: float = 0.5
    wave_min_swing: float = 0.18
    wave_min_hz: float = 1.0
    wave_max_hz: float = 4.0
    point_max_elbow_cos: float = -0.5
    point_max_bend_2d: float = 0.12
    point_max_in_image_share: float = 0.7
    point_min_elevation_deg: float = 30.0
    point_min_reach_m: float = 0.25
    point_max_elevation_deg: float = 125.0
    point_max_wrist_speed_mps: float = 0.6
    palm_min_extension: float = 1.6
    thumb_max_curl: float = 1.25
    facing_max_deg: float = 45.0
    approach_min_speed_mps: float = 0.25
    min_visibility: float = 0.5


@dataclass(frozen=True)
class FloorPlane:
    """The floor in the camera optical frame: points p with p . up_camera == -height_m."""

    up_camera: np.ndarray
    height_m: float

    @classmethod
    def from_height_pitch(cls, height_m: float, pitch_down_deg: float) -> FloorPlane:
        """A camera `height_m` above the floor, tilted down by `pitch_down_deg`, no roll."""
        p = np.radians(pitch_down_deg)
        return cls(np.array([0.0, -np.cos(p), -np.sin(p)]), float(height_m))

    def hit(self, origin: np.ndarray, direction: np.ndarray) -> np.ndarray | None:
        """Where the ray meets the floor (in front of its origin), or None."""
        along = float(direction @ self.up_camera)
        if along > -1e-3:
            return None
        t = (-self.height_m - float(origin @ self.up_camera)) / along
        return origin + t * direction if t > 0 else None


@dataclass
class Cue:
    name: str
    side: str          # "left", "right", or "" for whole-person cues
    active: bool
    confidence: float


@dataclass
class CueEvent:
    name: str
    side: str
    kind: str          # "start" or "stop"
    stamp_s: float
    confidence: float


@dataclass
class PointingRay:
    side: str
    origin_m: np.ndarray      # head, camera frame
    direction: np.ndarray     # unit vector, camera frame
    target_m: np.ndarray | None = None   # floor hit, when the floor is known


@dataclass
class PersonCues:
    """The cues of one person in one frame (events: those that happened in this frame)."""

    track_id: int
    cues: list[Cue]
    events: list[CueEvent]
    pointing: PointingRay | None = None
    distance_m: float | None = None
    approach_speed_mps: float | None = None
    facing_deg: float | None = None
    closest: bool = False

    def active(self, name: str, side: str = "") -> bool:
        return any(c.active for c in self.cues if c.name == name and (not side or c.side == side))


@dataclass
class CueTrack:
    """Per-person cue state (lives in the pipeline's per-person state)."""

    params: CueParams
    debounce: dict[tuple[str, str], Debouncer] = field(default_factory=dict)
    swings: dict[str, SwingCounter] = field(default_factory=dict)
    distance_rate: RateEstimator = field(default_factory=RateEstimator)
    history: dict[str, deque] = field(default_factory=dict)
    motion: dict[str, RateEstimator] = field(default_factory=dict)
    last_moved: dict[str, float] = field(default_factory=dict)   # per side: stamp, seconds

    def __post_init__(self) -> None:
        p = self.params
        for name in SIDED_CUES:
            for side in b.SIDES:
                # waving is already two reversals long; a point must hold twice as long as
                # the rest (a straight arm passes through pointing poses when it moves); a
                # raised hand is only seen as held after a still half speed window, which
                # counts toward its hold (validation: hold_s 0.15 -> latency p50 0.53 s,
                # 0.05 -> 0.43 s, the same recall)
                on_s = {"waving": 0.0, "pointing": 2 * p.hold_s,
                        "hand_raised": max(0.0, p.hold_s - p.raise_window_s / 2)
                        }.get(name, p.hold_s)
                self.debounce[(name, side)] = Debouncer(
                    on_s, 2 * p.release_s if name == "waving" else p.release_s)
        for name in PERSON_CUES:
            self.debounce[(name, "")] = Debouncer(p.hold_s, p.release_s)
        for side in b.SIDES:
            self.swings[side] = SwingCounter(p.wave_min_swing, p.wave_min_hz, p.wave_max_hz)
            self.motion[f"{side}_hand"] = RateEstimator(p.raise_window_s)
            self.motion[f"{side}_hand_slow"] = RateEstimator(p.other_hand_window_s)

    def _speed(self, obs: b.BodyObservation, side: str, joint: str,
               vertical: bool = False) -> float:
        """Speed of a joint relative to its shoulder, m/s (3D), over the last SPEED_WINDOW_S
        (frame-to-frame differences of lifted joints are mostly noise); with `vertical` only
        along the trunk (a waving hand moves sideways, an arm sweeping through moves up or
        down); 0 when unknown."""
        if obs.joints_m is None:
            return 0.0
        j = obs.joints_m
        rel = j[b._H(f"{side}_{joint}")] - j[b._H(f"{side}_shoulder")]
        if vertical:
            up = j[b._H("thorax")] - j[b._H("pelvis")]
            rel = (rel @ up) / max(float(np.linalg.norm(up)), 1e-9) * np.ones(1)
        past = self.history.setdefault(f"{side}_{joint}_{vertical}", deque(maxlen=64))
        past.append((obs.stamp_s, rel))
        while obs.stamp_s - past[0][0] > SPEED_WINDOW_S:
            past.popleft()
        dt = obs.stamp_s - past[0][0]
        return float(np.linalg.norm(rel - past[0][1]) / dt) if dt > 0 else 0.0

    def _pointing_pose(self, obs: b.BodyObservation, side: str) -> bool:
        """A straight arm lifted away from the body. With intrinsics: straight in the image
        and lifted in the straight-arm reconstruction (robust when the arm points at the
        camera); without: the lifted 3D arm's straightness, elevation and reach."""
        p = self.params
        rebuilt = b.straight_arm_elevation(obs, side) if obs.intrinsics is not None else None
        if rebuilt is not None:
            straight = b.arm_straight_2d(obs, side) <= p.point_max_bend_2d
            elevation, in_image = rebuilt
            if in_image > p.point_max_in_image_share:   # across the image: trust the 2D angle
                elevation = b.arm_elevation_2d(obs, side)
        else:
            elevation = b.arm_elevation(obs, side)
            straight = (b.arm_straightness(obs, side) <= p.point_max_elbow_cos
                        and b.arm_reach_m(obs, side) >= p.point_min_reach_m)
        return straight and p.point_min_elevation_deg <= elevation <= p.point_max_elevation_deg

    def levels(self, obs: b.BodyObservation) -> dict[tuple[str, str], float]:
        """Instantaneous level in [0, 1] of every cue (before debouncing)."""
        p = self.params
        out: dict[tuple[str, str], float] = {}
        facing = b.facing_angle_deg(obs)
        # a raised or waving hand asks for attention: made toward the camera, not in a turn
        toward = facing is None or facing <= p.attention_max_facing_deg
        # per hand: its 2D motion about its shoulder (torso lengths/s; inf until known), over
        # the raise window and over the longer, less noisy other_hand_window_s (when it last
        # moved, for the other hand's stillness), and whether it swings as a wave
        moving, swinging, wrist = {}, {}, {}
        for side in b.SIDES:
            offset = b.hand_offset(obs, side)
            for key in (f"{side}_hand", f"{side}_hand_slow"):
                rate = self.motion[key].update(obs.stamp_s, offset)
                moving[key] = float(np.linalg.norm(rate)) if rate is not None else np.inf
            if moving[f"{side}_hand_slow"] > p.max_other_hand_speed:
                self.last_moved[side] = obs.stamp_s
            wrist[side] = height, vis = b.wrist_height(obs, side)
            up = (vis >= p.min_visibility and b.forearm_up(obs, side) >= p.wave_min_forearm_up
                  and height >= p.wave_min_wrist_height)
            swing = self.swings[side]
            if up:
                swing.update(obs.stamp_s, b.wrist_lateral(obs, side))
            else:
                swing.reset()
            swinging[side] = up and swing.rate_ok(obs.stamp_s)
        for side in b.SIDES:
            height, vis = wrist[side]
            seen = vis >= p.min_visibility
            speed, elbow_speed = self._speed(obs, side, "wrist"), self._speed(obs, side, "elbow")
            rising = self._speed(obs, side, "wrist", vertical=True)
            other = "right" if side == "left" else "left"
            # a raised, waving or pointing hand is a gesture of one arm (waving: or of both
            # alike): the other hand is still, or waves too; a dancer's arms move together
            other_still = (obs.stamp_s - self.last_moved.get(other, obs.stamp_s)
                           >= p.other_hand_still_s)
            out[("hand_raised", side)] = float(
                seen and toward and height >= p.raise_min_height
                and rising <= p.raise_max_wrist_speed_mps
                and moving[f"{side}_hand"] <= p.raise_max_hand_speed and other_still)
            out[("waving", side)] = float(swinging[side] and toward
                                          and (other_still or swinging[other])
                                          and elbow_speed <= p.wave_max_elbow_speed_mps)
            out[("pointing", side)] = float(seen and obs.joints_m is not None
                                            and self._pointing_pose(obs, side)
                                            and speed <= p.point_max_wrist_speed_mps
                                            and other_still)
            hand = obs.hands.get(side)
            palm = thumb = 0.0
            if hand is not None:
                ext = b.finger_extension(hand)
                fingers = min(ext[f] for f in b.FINGERS)
                palm = float(fingers >= p.palm_min_extension and ext["thumb"] >= 1.2
                             and b.palm_towards_camera(hand, side) > 0.5
                             and b.image_direction_up(hand, "wrist", "middle_mcp") > 0.6)
                thumb = float(max(ext[f] for f in b.FINGERS) <= p.thumb_max_curl
                              and b.image_direction_up(hand, "thumb_mcp", "thumb_tip") > 0.7
                              and ext["thumb"] >= 1.3)
            out[("open_palm", side)], out[("thumbs_up", side)] = palm, thumb
        face = b.face_frontal(obs)
        out[("facing", "")] = float(facing is not None and facing <= p.facing_max_deg
                                    and face >= 0.3)
        return out


def pointing_ray(obs: b.BodyObservation, side: str,
                 floor: FloorPlane | None) -> PointingRay | None:
    origin = b.eye_m(obs)
    tip = b.straight_arm_tip_m(obs, side)
    tip = b.fingertip_m(obs, side) if tip is None else tip
    if origin is None or tip is None:
        return None
    d = tip - origin
    normal = b.image_plane_normal(obs, side)
    if normal is not None:   # the 2D eyes -> fingertip line is exact in the image: keep the
        d = d - (d @ normal) * normal               # lifted ray in its plane, fix only depth
        origin = origin - (origin @ normal) * normal
    d = d / max(np.linalg.norm(d), 1e-9)
    target = floor.hit(origin, d) if floor is not None and obs.root_m is not None else None
    return PointingRay(side, origin, d, target)


class CueEngine:
    """Cues of every tracked person, frame after frame; tracks are forgotten when they leave.

    Args:
        params: thresholds and timing.
        floor: the floor in the camera frame (from TF, or camera height and pitch), for
            pointing targets; None: rays only.
    """

    def __init__(self, params: CueParams | None = None, floor: FloorPlane | None = None) -> None:
        self.params = params or CueParams()
        self.floor = floor
        self.tracks: dict[int, CueTrack] = {}

    def reset(self) -> None:
        self.tracks.clear()

    def update(self, people: list[b.BodyObservation]) -> list[PersonCues]:
        """One frame: the cues of each person (same order), with this frame's events."""
        seen = {obs.track_id for obs in people}
        self.tracks = {k: v for k, v in self.tracks.items() if k in seen}
        out = [self._person(obs) for obs in people]
        distances = [c.distance_m if c.distance_m is not None else np.inf for c in out]
        if out and np.isfinite(min(distances)):
            out[int(np.argmin(distances))].closest = True
        return out

    def _person(self, obs: b.BodyObservation) -> PersonCues:
        track = self.tracks.get(obs.track_id)
        if track is None:
            track = self.tracks[obs.track_id] = CueTrack(self.params)
        return self.person_cues(track, obs, self.floor)

    @staticmethod
    def person_cues(track: CueTrack, obs: b.BodyObservation,
                    floor: FloorPlane | None) -> PersonCues:
        """Update one person's cue state with a frame (usable with any owner of the state)."""
        levels = track.levels(obs)
        distance = float(np.linalg.norm(obs.root_m)) if obs.root_m is not None else None
        rate = track.distance_rate.update(obs.stamp_s, distance)
        approach = -rate if rate is not None else None
        levels[("approaching", "")] = float(approach is not None
                                            and approach >= track.params.approach_min_speed_mps)
        cues, events = [], []
        for (name, side), level in levels.items():
            deb = track.debounce[(name, side)]
            kind = deb.update(obs.stamp_s, level)
            if kind is not None:
                events.append(CueEvent(name, side, kind, obs.stamp_s, deb.confidence))
            cues.append(Cue(name, side, deb.active, deb.confidence))
        pointing_sides = [s for s in b.SIDES if track.debounce[("pointing", s)].active]
        ray = None
        if pointing_sides:
            best = max(pointing_sides, key=lambda s: b.arm_elevation(obs, s))
            ray = pointing_ray(obs, best, floor)
        return PersonCues(obs.track_id, cues, events, ray, distance, approach,
                          b.facing_angle_deg(obs))
