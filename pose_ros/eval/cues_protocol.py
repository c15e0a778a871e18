"""The cue evaluation protocol on motion capture: labelled gesture clips and gesture-free takes.

Gesture clips: a real pose from a CMU walking take (trunk upright, hands hanging; its legs
straightened under the hips, as the takes hardly ever stand still) is held with a slight sway,
and one arm is animated through a gesture: raise the hand (0.5 s up, held 1.5-3 s, 0.5 s
down), wave (arm out, forearm up, swinging 20-35 degrees at 1-4 Hz for 1.5-3 s), or point (the
arm straight so that the fingertip lies on the line from the eye to a floor target 1-3 m
ahead, held 1.5-3 s). Labels (cue, side, start, end) come from the generated geometry: waving
and pointing while the wave or the held point lasts, hand_raised wherever the true wrist is
above the true shoulder and held there for a while (raised_labels: raises, not waves). The
truth of a pointing frame is the ray from the eye (head + 8 cm forward) to the target.

Gesture-free takes: the CMU takes whose description says walking, and those that say dance
(salsa, ballet, modern dance; train/corpus.py reads the descriptions), whole. They carry the
same geometric hand_raised labels as the gesture clips (a dancer's wrist held above the
shoulder is a raised hand); the scores count their events both ways (cues_eval.score).

Each gesture clip is seen by a virtual camera 1-4 m away, each take by TAKE_VIEWS cameras
2.5-5 m away; 0.8-1.6 m high, aimed at the chest, horizontal field of view 60-90 degrees,
640 x 480, the person turned within 40 degrees of it (gestures; any direction for takes).
Everything is drawn from a seeded generator, so a run is repeatable; `split_of` separates the
clips that may tune the cues (validation) from those reported as test.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.skeleton import BLAZEPOSE33, H36M17
from pose_ros.train.corpus import find_takes, subject_of
from pose_ros.train.mocap import load_take

FPS = 30.0
IMAGE_SIZE = (640, 480)
HAND_M = 0.17                   # wrist to index fingertip
EYE_FORWARD_M = 0.08
HELD_MPS, HELD_S = 0.3, 0.3     # a raised hand is held: slower than this, this long
TAKE_VIEWS = 3                  # cameras per gesture-free take (more views of scarce dance)
# Validation, by CMU subject (corpus.subject_of): the Daz-style subjects 2-13, the lifter's own
# validation subjects (corpus.VALIDATION_SUBJECTS: 14, 39, 131, 136, 143) and salsa 60; subject
# 5 (the only ballet/modern dancer) by take: even take numbers validate, odd ones test. The
# first cue design was tuned on subjects 2-13, salsa 60 and 05_06 only: 1.7 min of walking and
# 7 s of dance in view (the loader refused the salsa files), too little to set a false-alarm
# rate of 1 per 10 min. Everything else is test: the other walking subjects
# (16, 35, 114, 144, ...), salsa 61 and subject 5's odd-numbered dances.
VALIDATION_SUBJECTS = frozenset({"2", "3", "6", "7", "8", "9", "10", "12", "13",
                                 "14", "39", "131", "136", "143", "60"})
# The salsa takes (cmu_extra/*_scaled.bvh) carry the Daz-style skeleton of cmu/ subjects 2-13
# (same bone ratios) scaled to 0.78 of its size, 1.2 m tall: the loader refuses them in metres.
# Read at 1.28 m per file unit, their bones equal that skeleton's in cmu/ (thigh, shin, upper
# arm, shoulders within 0.5 %, trunk 1 %).
DAZ_SCALED_UNITS = 1.28
_H = H36M17.index
_B = BLAZEPOSE33.index
_BODY = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")


def split_of(path: str | Path) -> str:
    subject = subject_of(path)
    if subject == "5":
        take = Path(path).stem.split("_")[1]
        return "validation" if take.isdigit() and int(take) % 2 == 0 else "test"
    return "validation" if subject in VALIDATION_SUBJECTS else "test"


@dataclass
class Segment:
    cue: str
    side: str
    start_s: float
    end_s: float


@dataclass
class Clip:
    """One clip: world points (F, 33, 3) metres y-up in BLAZEPOSE33 order (the points a
    detector would give; unused ones NaN) and the 17 joints they come from (F, 17, 3), the
    camera, labels and the pointing truth."""

    name: str
    kind: str                   # "gesture", "walk" or "dance"
    split: str
    points_w: np.ndarray
    joints_w: np.ndarray
    rotation: np.ndarray        # (3, 3) world -> camera optical
    centre: np.ndarray          # (3,) camera position, world
    fx: float
    floor_y: float
    labels: list[Segment] = field(default_factory=list)
    pointing: np.ndarray | None = None   # (F, 2, 3) eye, target (world), NaN when not pointing
    info: dict = field(default_factory=dict)   # the gesture's drawn parameters (for reports)

    @property
    def seconds(self) -> float:
        return len(self.points_w) / FPS


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def body_frame(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(17, 3) joints -> unit (left, up, forward) of the body, horizontal left/forward."""
    up = np.array([0.0, 1.0, 0.0])
    across = joints[_H("left_shoulder")] - joints[_H("right_shoulder")]
    across[1] = 0.0
    left = _unit(across)
    return left, up, np.cross(left, up)


def blazepose_points(joints: np.ndarray) -> np.ndarray:
    """(F, 17, 3) lifter joints -> (F, 33, 3): body joints, the index fingertips (straight hand
    along the forearm) and face points from the head."""
    out = np.full((len(joints), BLAZEPOSE33.num_keypoints, 3), np.nan)
    for side in ("left", "right"):
        for j in _BODY:
            out[:, _B(f"{side}_{j}")] = joints[:, _H(f"{side}_{j}")]
    for side in ("left", "right"):
        wrist = joints[:, _H(f"{side}_wrist")]
        forearm = _unit(wrist - joints[:, _H(f"{side}_elbow")])
        out[:, _B(f"{side}_index")] = wrist + HAND_M * forearm
    for f, frame in enumerate(joints):
        left, up, fwd = body_frame(frame)
        head = frame[_H("head")]
        out[f, _B("nose")] = head + 0.10 * fwd - 0.03 * up
        for side, s in (("left", 1.0), ("right", -1.0)):
            out[f, _B(f"{side}_eye")] = head + EYE_FORWARD_M * fwd + 0.02 * up + 0.032 * s * left
            out[f, _B(f"{side}_ear")] = head + 0.075 * s * left
    return out


def standing_poses(joints: np.ndarray) -> np.ndarray:
    """Frame indices usable as standing poses: trunk upright (within 10 degrees), both hands
    hanging (wrists 0.3 m below the shoulders). Walking takes rarely stand still, so the clip
    keeps the frame's real upper body and straightens its legs under the hips (standing_pose).
    """
    trunk = joints[:, _H("thorax")] - joints[:, _H("pelvis")]
    upright = trunk[:, 1] / np.linalg.norm(trunk, axis=1) > np.cos(np.radians(10))
    low = np.all([joints[:, _H(f"{s}_wrist"), 1] < joints[:, _H(f"{s}_shoulder"), 1] - 0.3
                  for s in ("left", "right")], axis=0)
    return np.flatnonzero(upright & low)


def standing_pose(frame: np.ndarray) -> np.ndarray:
    """(17, 3): the frame with each leg straight down from its hip (bone lengths kept)."""
    out = frame.astype(np.float64).copy()
    down = np.array([0.0, -1.0, 0.0])
    for side in ("left", "right"):
        hip, knee, ankle = (_H(f"{side}_{j}") for j in ("hip", "knee", "ankle"))
        thigh = np.linalg.norm(frame[knee] - frame[hip])
        shin = np.linalg.norm(frame[ankle] - frame[knee])
        out[knee] = out[hip] + thigh * down
        out[ankle] = out[knee] + shin * down
    return out


def _slerp(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Unit directions a -> b, per-frame weights w (F,) (smooth cosine ramp applied by caller)."""
    cos = np.clip(a @ b, -1.0, 1.0)
    angle = np.arccos(cos)
    if angle < 1e-6:
        return np.repeat(a[None], len(w), 0)
    return (np.sin((1 - w) * angle)[:, None] * a + np.sin(w * angle)[:, None] * b) / np.sin(angle)


def _ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before t0, 1 after t1, a cosine in between."""
    x = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _rotate(v: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: rotate directions v (F, 3) about the unit axis (3,) by angles (F,)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    return v * c + np.cross(axis, v) * s + axis * (v @ axis)[:, None] * (1 - c)


def gesture_clip(rng: np.random.Generator, pose: np.ndarray, gesture: str, side: str,
                 name: str, split: str) -> Clip:
    """A standing pose (17, 3) held ~6-8 s with one arm animated through `gesture`."""
    duration = rng.uniform(1.5, 3.0)
    t0 = rng.uniform(1.0, 2.0)
    frames = int((t0 + duration + 1.0 + rng.uniform(1.0, 2.0)) * FPS)
    t = np.arange(frames) / FPS
    joints = np.repeat(pose[None], frames, 0).astype(np.float64)
    sway = 0.01 * np.sin(2 * np.pi * rng.uniform(0.2, 0.4) * t + rng.uniform(0, 6))
    joints[:, :, 0] += sway[:, None]
    left, up, fwd = body_frame(pose)
    out = left if side == "left" else -left
    sh, el, wr = (_H(f"{side}_{j}") for j in ("shoulder", "elbow", "wrist"))
    upper = np.linalg.norm(pose[el] - pose[sh])
    lower = np.linalg.norm(pose[wr] - pose[el])
    rest_u, rest_f = _unit(pose[el] - pose[sh]), _unit(pose[wr] - pose[el])
    w = _ramp(t, t0, t0 + 0.5) * (1 - _ramp(t, t0 + 0.5 + duration, t0 + 1.0 + duration))
    pointing = None
    labels = []
    info = {"gesture": gesture, "side": side}
    if gesture == "raise":
        du = _unit(up * np.cos(np.radians(rng.uniform(5, 40))) + out * rng.uniform(0.05, 0.5)
                   + fwd * rng.uniform(-0.1, 0.3))
        df = _unit(du + up * rng.uniform(0.0, 1.0) - out * rng.uniform(0.0, 0.3))
        u_dir, f_dir = _slerp(rest_u, du, w), _slerp(rest_f, df, w)
    elif gesture == "wave":
        du = _unit(out * rng.uniform(0.6, 1.0) + up * rng.uniform(-0.1, 0.6)
                   + fwd * rng.uniform(0.0, 0.5))
        u_dir = _slerp(rest_u, du, w)
        hz, amp = rng.uniform(1.0, 4.0), np.radians(rng.uniform(20, 35))
        info.update(hz=hz, amplitude_deg=np.degrees(amp))
        start, end = t0 + 0.5, t0 + 0.5 + duration
        swing = amp * np.sin(2 * np.pi * hz * (t - start)) * (t >= start) * (t <= end)
        f_dir = _rotate(_slerp(rest_f, up, w), fwd, swing)   # swings in the body's plane
        labels.append(Segment("waving", side, start, end))
    else:   # point at a floor target through the eye -> fingertip line
        floor_y = pose[:, 1].min() - 0.08
        bearing = np.radians(rng.uniform(-15, 60))
        target = pose[_H("pelvis")] + rng.uniform(1.0, 3.0) * (np.cos(bearing) * fwd
                                                               + np.sin(bearing) * out)
        target[1] = floor_y
        eye = pose[_H("head")] + EYE_FORWARD_M * fwd
        reach = upper + lower + HAND_M
        u_line = _unit(target - eye)
        rel = eye - pose[sh]
        s = -(u_line @ rel) + np.sqrt((u_line @ rel) ** 2 - rel @ rel + reach ** 2)
        d = _unit(eye + s * u_line - pose[sh])
        u_dir, f_dir = _slerp(rest_u, d, w), _slerp(rest_f, d, w)
        start, end = t0 + 0.5, t0 + 0.5 + duration
        labels.append(Segment("pointing", side, start, end))
        pointing = np.full((frames, 2, 3), np.nan)
        held = (t >= start) & (t <= end)
        pointing[held, 0] = eye + np.array([sway[held], 0 * sway[held], 0 * sway[held]]).T
        pointing[held, 1] = target
    joints[:, el] = joints[:, sh] + upper * u_dir
    joints[:, wr] = joints[:, el] + lower * f_dir
    labels += raised_labels(joints)
    return Clip(name, "gesture", split, blazepose_points(joints), joints,
                *_camera(rng, pose, True), floor_y=float(pose[:, 1].min() - 0.08),
                labels=labels, pointing=pointing, info=info)


def raised_labels(joints: np.ndarray) -> list[Segment]:
    """hand_raised segments of (F, 17, 3) joints, either side, the same rule for gesture clips
    and gesture-free takes: a run of the true wrist above the true shoulder (from its start, so
    latency counts from the crossing) in which the hand is held, moving less than HELD_MPS
    relative to the shoulder (over 0.2 s) for at least HELD_S. A hand swept overhead (dance)
    or swinging (a wave) is not held; a dancer holding an arm up is a raised hand."""
    t = np.arange(len(joints)) / FPS
    k = round(0.2 * FPS)
    out = []
    for side in ("left", "right"):
        wrist, shoulder = joints[:, _H(f"{side}_wrist")], joints[:, _H(f"{side}_shoulder")]
        above = wrist[:, 1] > shoulder[:, 1]
        rel = wrist - shoulder
        speed = np.full(len(t), np.inf)
        speed[k:] = np.linalg.norm(rel[k:] - rel[:-k], axis=1) / (k / FPS)
        held = above & (speed <= HELD_MPS)
        spans = _runs(held, t, HELD_S)
        out += [Segment("hand_raised", side, a, b) for a, b in _runs(above, t)
                if any(a <= h0 and h1 <= b for h0, h1 in spans)]
    return out


def _runs(mask: np.ndarray, t: np.ndarray, min_s: float = 0.3) -> list[tuple[float, float]]:
    """(start, end) times of the True runs of mask lasting at least min_s."""
    edges = np.diff(np.r_[0, mask.astype(int), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(float(t[a]), float(t[b])) for a, b in zip(starts, ends) if t[b] - t[a] >= min_s]


def _camera(rng: np.random.Generator, joints: np.ndarray, facing: bool):
    """(rotation world->optical, centre, fx) of a virtual robot camera looking at the chest."""
    left, up, fwd = body_frame(joints if joints.ndim == 2 else joints[len(joints) // 2])
    ref = joints if joints.ndim == 2 else joints[len(joints) // 2]
    chest = ref[_H("pelvis")] + 0.3 * up
    if facing:
        yaw = np.radians(rng.uniform(-40, 40))
        dist = rng.uniform(1.0, 4.0)
    else:
        yaw, dist = rng.uniform(0, 2 * np.pi), rng.uniform(2.5, 5.0)
    direction = np.cos(yaw) * fwd + np.sin(yaw) * left
    floor_y = ref[:, 1].min() - 0.08
    centre = ref[_H("pelvis")] + dist * direction
    centre[1] = floor_y + rng.uniform(0.8, 1.6)
    z = _unit(chest - centre)
    x = _unit(np.cross(z, up))
    y = np.cross(z, x)
    hfov = np.radians(rng.uniform(60, 90))
    return np.stack([x, y, z]), centre, IMAGE_SIZE[0] / 2 / np.tan(hfov / 2)


def take_clip(rng: np.random.Generator, joints: np.ndarray, name: str, kind: str,
              split: str) -> Clip:
    rotation, centre, fx = _camera(rng, joints, False)
    joints = joints.astype(np.float64)
    return Clip(name, kind, split, blazepose_points(joints), joints, rotation, centre, fx,
                floor_y=float(joints[..., 1].min() - 0.08), labels=raised_labels(joints))


def build(mocap: Path, seed: int = 0, gestures_per_pose: int = 1) -> list[Clip]:
    """Every clip of the protocol from ../shared/data/mocap (cmu/ walking, cmu_extra/ dance)."""
    rng = np.random.default_rng(seed)
    clips: list[Clip] = []
    folders = [f for f in (mocap / "cmu", mocap / "cmu_extra") if f.is_dir()]
    infos = find_takes(folders)   # activities from CMU's INDEX.txt and SELECTION.tsv
    walks = [i.path for i in infos if i.activity == "walk"]
    dances = [i.path for i in infos if i.activity == "dance"]
    skipped = []
    for path in walks:
        joints = _load(path, skipped)
        if joints is None:
            continue
        clips += [take_clip(rng, joints, f"{path.stem}_v{v}", "walk", split_of(path))
                  for v in range(TAKE_VIEWS)]
        still = standing_poses(joints)
        if len(still):
            for k in range(gestures_per_pose):
                pose = standing_pose(joints[still[rng.integers(len(still))]])
                for gesture in ("raise", "wave", "point"):
                    side = ("left", "right")[rng.integers(2)]
                    clips.append(gesture_clip(rng, pose, gesture, side,
                                              f"{path.stem}_{gesture}{k}_{side}",
                                              split_of(path)))
    for path in dances:
        joints = _load(path, skipped)
        if joints is not None:
            clips += [take_clip(rng, joints, f"{path.stem}_v{v}", "dance", split_of(path))
                      for v in range(TAKE_VIEWS)]
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    return clips


def _load(path: Path, skipped: list[str]) -> np.ndarray | None:
    """The take's joints, or None (and a note) when the loader refuses it (units it cannot
    infer, a body it finds implausible): the protocol says which takes it used."""
    try:
        return load_take(path, DAZ_SCALED_UNITS if path.stem.endswith("_scaled") else None)
    except PoseRosError as exc:
        skipped.append(f"{path.name}: {exc}")
        return None
