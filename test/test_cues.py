"""Cues (pose_ros/cues): debouncing, swing counting, pointing geometry and the engine on
synthetic people whose geometry is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from pose_ros.camera import CameraIntrinsics
from pose_ros.cues import body as b
from pose_ros.cues.engine import CueEngine, FloorPlane, pointing_ray
from pose_ros.cues.temporal import Debouncer, RateEstimator, SwingCounter
from pose_ros.skeleton import BLAZEPOSE33, H36M17

FPS = 30.0


def test_debouncer_holds_and_releases():
    deb = Debouncer(on_s=0.2, off_s=0.3)
    events = []
    levels = [0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    for i, level in enumerate(levels):
        kind = deb.update(i / 10, level)
        if kind:
            events.append((kind, i))
    # the first blip (2 frames = 0.1 s) is too short; on at 0.2 s after frame 4; the dip at 10 is
    # bridged; off 0.3 s after the level drops at frame 12
    assert events == [("start", 6), ("stop", 15)]


@pytest.mark.parametrize("hz", [1.0, 2.0, 3.5])
def test_swing_counter_finds_waves_not_jitter(hz):
    rng = np.random.default_rng(1)
    wave, still = SwingCounter(0.25), SwingCounter(0.25)
    t = np.arange(0, 3, 1 / FPS)
    found = []
    for ti in t:
        wave.update(ti, 0.3 * np.sin(2 * np.pi * hz * ti) + rng.normal(0, 0.03))
        still.update(ti, rng.normal(0, 0.05))
        found.append(wave.rate_ok(ti))
        assert not still.rate_ok(ti)
    first = t[np.argmax(found)]
    assert any(found) and first <= 1.0 / hz + 0.25   # two reversals: about one period


def test_rate_estimator_slope():
    rate = RateEstimator(window_s=0.6)
    out = [rate.update(i / FPS, 3.0 - 0.5 * i / FPS) for i in range(30)]
    assert out[0] is None and out[-1] == pytest.approx(-0.5, abs=1e-6)
    rate2 = RateEstimator(window_s=0.2)   # arrays: the rate of each element
    out2 = [rate2.update(i / FPS, np.array([1.0, -2.0]) * i / FPS) for i in range(10)]
    assert out2[1] is None and out2[-1].shape == (2,)
    np.testing.assert_allclose(out2[-1], [1.0, -2.0], atol=1e-9)
    assert rate2.update(1.0, np.array([np.nan, 0.0])) is None and not rate2.samples


def test_floor_plane_hit():
    floor = FloorPlane.from_height_pitch(1.0, 0.0)     # level camera 1 m above the floor
    origin = np.array([0.0, 0.0, 2.0])
    down_ahead = np.array([0.0, 1.0, 1.0]) / np.sqrt(2)  # y down in the optical frame
    np.testing.assert_allclose(floor.hit(origin, down_ahead), [0.0, 1.0, 3.0], atol=1e-9)
    assert floor.hit(origin, np.array([0.0, -1.0, 1.0])) is None   # pointing up
    pitched = FloorPlane.from_height_pitch(1.0, 90.0)    # looking straight down
    np.testing.assert_allclose(pitched.hit(np.zeros(3), np.array([0.0, 0.0, 1.0])), [0, 0, 1])


def person(left_wrist_up: float = -0.5, point_right: np.ndarray | None = None,
           stamp_s: float = 0.0, z: float = 2.5,
           left_wrist_out: float = 0.0) -> b.BodyObservation:
    """A person facing the camera (their left on the image's right), 3D in the camera frame
    (x right, y down, z forward) and its exact projection."""
    j = np.zeros((17, 3))
    idx = H36M17.index
    pelvis = np.array([0.0, 0.2, z])
    j[idx("pelvis")] = pelvis
    for side, s in (("left", 1), ("right", -1)):
        j[idx(f"{side}_hip")] = pelvis + [0.1 * s, 0, 0]
        j[idx(f"{side}_knee")] = pelvis + [0.1 * s, 0.45, 0]
        j[idx(f"{side}_ankle")] = pelvis + [0.1 * s, 0.9, 0]
        j[idx(f"{side}_shoulder")] = pelvis + [0.2 * s, -0.5, 0]
        j[idx(f"{side}_elbow")] = pelvis + [0.22 * s, -0.2, 0]
        j[idx(f"{side}_wrist")] = pelvis + [0.23 * s, 0.05, 0]
    j[idx("thorax")] = pelvis + [0, -0.5, 0]
    j[idx("spine")] = pelvis + [0, -0.25, 0]
    j[idx("head")] = pelvis + [0, -0.75, 0]
    j[idx("neck")] = pelvis + [0, -0.62, 0]
    shoulder = j[idx("left_shoulder")]
    j[idx("left_elbow")] = shoulder + [0.05, -0.05, 0]
    j[idx("left_wrist")] = j[idx("left_elbow")] + [left_wrist_out, -0.3 - left_wrist_up, 0]
    if point_right is not None:
        d = point_right / np.linalg.norm(point_right)
        j[idx("right_elbow")] = j[idx("right_shoulder")] + 0.3 * d
        j[idx("right_wrist")] = j[idx("right_shoulder")] + 0.57 * d
    k = CameraIntrinsics(500.0, 500.0, 320.0, 240.0, 640, 480)
    pts = np.full((33, 3), 0.0)
    for name in BLAZEPOSE33.keypoint_names:
        if name in H36M17.keypoint_names:
            pts[BLAZEPOSE33.index(name)] = [*k.project(j[idx(name)]), 1.0]
    head = j[idx("head")]
    for name, offset in (("nose", [0, 0.03, -0.1]), ("left_eye", [0.03, 0, -0.08]),
                         ("right_eye", [-0.03, 0, -0.08]), ("left_ear", [0.075, 0, 0]),
                         ("right_ear", [-0.075, 0, 0])):
        pts[BLAZEPOSE33.index(name)] = [*k.project(head + offset), 1.0]
    for side in ("left", "right"):
        w, e = j[idx(f"{side}_wrist")], j[idx(f"{side}_elbow")]
        tip = w + 0.17 * (w - e) / np.linalg.norm(w - e)
        pts[BLAZEPOSE33.index(f"{side}_index")] = [*k.project(tip), 1.0]
    return b.BodyObservation(7, stamp_s, pts, j, pelvis, intrinsics=k)


def test_engine_raised_hand_events_and_closest():
    engine = CueEngine()
    events = []
    for i in range(70):
        up = 0.8 if 10 <= i < 40 else -0.5        # raised from frame 10 to 39
        (cues,) = engine.update([person(left_wrist_up=up, stamp_s=i / FPS)])
        events += [(e.name, e.side, e.kind, round(e.stamp_s * FPS)) for e in cues.events
                   if e.name == "hand_raised"]
        assert cues.closest and cues.distance_m == pytest.approx(np.linalg.norm([0, 0.2, 2.5]))
    # on after the 0.3 s speed window and the 0.25 s hold; off 0.3 s after lowering
    assert [e[:3] for e in events] == [("hand_raised", "left", "start"),
                                       ("hand_raised", "left", "stop")]
    assert 10 + 9 <= events[0][3] <= 10 + 9 + 9 and events[1][3] == 40 + 9
    assert cues.facing_deg == pytest.approx(np.degrees(np.arctan2(0.3, 2.5)))  # chest above


def test_engine_hand_swept_above_the_shoulder_is_not_raised():
    """A hand circling above the shoulder (0.2 m at 0.7 Hz: ~1.7 torso lengths/s in the image,
    vertical speed under raise_max_wrist_speed_mps, too slow for a wave) is not a raised hand:
    a raised hand is held (raise_max_hand_speed). The same hand held still is one."""
    for moving in (True, False):
        engine = CueEngine()
        starts = []
        for i in range(90):
            a = 2 * np.pi * 0.7 * i / FPS if moving else 0.0
            (cues,) = engine.update([person(left_wrist_up=0.8 + 0.2 * np.sin(a),
                                            left_wrist_out=0.2 * np.cos(a) - 0.2,
                                            stamp_s=i / FPS)])
            starts += [e.side for e in cues.events if e.name == "hand_raised"
                       and e.kind == "start"]
        assert starts == ([] if moving else ["left"])


def starts(frames, cue: str) -> list[str]:
    """Sides of the `cue` start events when the engine sees `frames` (observations)."""
    engine = CueEngine()
    out = []
    for obs in frames:
        (cues,) = engine.update([obs])
        out += [e.side for e in cues.events if e.name == cue and e.kind == "start"]
    return out


def right_arm(a: float) -> np.ndarray:
    """A straight right arm swung in the image plane by `a` radians about straight up."""
    return np.array([-np.sin(a), -np.cos(a), 0.0])


def test_engine_raised_hand_is_above_the_head_with_the_other_hand_still():
    """The left wrist held 0.15 m above the shoulder (0.3 torso lengths) is not raised, 0.4 m
    above (0.8) is; with the right arm swinging as a dancer's (1 Hz, +-60 degrees) it is not."""
    t = np.arange(60) / FPS
    assert starts([person(left_wrist_up=-0.2, stamp_s=s) for s in t], "hand_raised") == []
    assert starts([person(left_wrist_up=0.05, stamp_s=s) for s in t], "hand_raised") == ["left"]
    dancing = [person(left_wrist_up=0.05, stamp_s=s,
                      point_right=right_arm(np.pi - 1.0 * np.sin(2 * np.pi * s))) for s in t]
    assert starts(dancing, "hand_raised") == []


@pytest.mark.parametrize("right", ["hanging", "waving", "sweeping"])
def test_engine_wave_with_the_other_hand_still_or_waving_too(right):
    """The left hand waves at 2 Hz. It counts while the right arm hangs still or waves too
    (both hands), not while the right arm sweeps around unlike a wave (0.4 Hz, +-80 degrees)."""
    t = np.arange(75) / FPS
    arms = {"hanging": lambda s: right_arm(np.pi),
            "waving": lambda s: right_arm(0.6 * np.sin(2 * np.pi * 2 * s)),
            "sweeping": lambda s: right_arm(np.pi / 2 + 1.4 * np.sin(2 * np.pi * 0.4 * s))}
    frames = [person(left_wrist_up=0.05, left_wrist_out=0.15 * np.sin(2 * np.pi * 2 * s),
                     point_right=arms[right](s), stamp_s=s) for s in t]
    found = starts(frames, "waving")
    assert {"hanging": ["left"], "waving": ["left", "right"], "sweeping": []}[right] == \
        sorted(found)


@pytest.mark.parametrize("left_moving", [False, True])
def test_engine_points_with_the_other_hand_still(left_moving):
    """The right arm held straight toward the floor ahead points; not while the left hand
    swings about (1 Hz, 0.3 m), as a dancer's would."""
    t = np.arange(60) / FPS
    frames = [person(point_right=np.array([-0.3, 0.6, -0.7]), stamp_s=s,
                     left_wrist_out=0.3 * np.sin(2 * np.pi * s) if left_moving else 0.0,
                     left_wrist_up=-0.5 + (0.3 * np.cos(2 * np.pi * s) if left_moving else 0.0))
              for s in t]
    assert starts(frames, "pointing") == ([] if left_moving else ["right"])


def test_pointing_ray_hits_the_floor_where_the_arm_points():
    """Right arm straight toward a floor point: the ray from the eyes through the fingertip
    lands near it (the eye is not on the shoulder's line, so not exactly on it)."""
    floor = FloorPlane.from_height_pitch(1.2, 0.0)    # floor at y = +1.2 m in this camera
    obs = person(point_right=np.array([-0.3, 0.6, -0.7]))
    ray = pointing_ray(obs, "right", floor)
    assert ray is not None and ray.target_m is not None
    assert ray.target_m[1] == pytest.approx(1.2)
    tip = b.straight_arm_tip_m(obs, "right")
    np.testing.assert_allclose(tip, b.fingertip_m(obs, "right"), atol=1e-6)  # exact 2D + 3D
    assert np.degrees(np.arccos(ray.direction @ (tip - ray.origin_m)
                                / np.linalg.norm(tip - ray.origin_m))) < 1.0


def test_protocol_gesture_clips_have_true_labels(walk_take):
    """A pointing clip's fingertip is on the eye -> target line; a wave's wrist swings; a raise
    is labelled hand_raised exactly while the wrist is above the shoulder."""
    from pose_ros.eval import cues_protocol as protocol

    rng = np.random.default_rng(0)
    pose = protocol.standing_pose(walk_take[protocol.standing_poses(walk_take)[0]])
    bp = BLAZEPOSE33.index
    point = protocol.gesture_clip(rng, pose, "point", "right", "p", "test")
    held = np.flatnonzero(np.isfinite(point.pointing[:, 0, 0]))
    eye, target = point.pointing[held[5]]
    tip = point.points_w[held[5], bp("right_index")]
    off_line = np.linalg.norm(np.cross(tip - eye, target - eye)) / np.linalg.norm(target - eye)
    assert off_line < 0.02 and target[1] == pytest.approx(point.floor_y)
    wave = protocol.gesture_clip(rng, pose, "wave", "left", "w", "test")
    (seg,) = [s for s in wave.labels if s.cue == "waving"]
    span = wave.points_w[int(seg.start_s * FPS):int(seg.end_s * FPS), bp("left_wrist")]
    assert np.ptp(span[:, 0]) + np.ptp(span[:, 2]) > 0.1
    raise_ = protocol.gesture_clip(rng, pose, "raise", "left", "r", "test")
    (seg,) = raise_.labels
    frames = np.arange(len(raise_.points_w))
    above = raise_.points_w[:, bp("left_wrist"), 1] > raise_.points_w[:, bp("left_shoulder"), 1]
    assert seg.cue == "hand_raised" and np.array_equal(
        above, (frames >= round(seg.start_s * FPS)) & (frames <= round(seg.end_s * FPS)))


def test_protocol_raised_labels_need_a_held_hand(walk_take):
    """The same rule labels gesture clips and gesture-free takes: a wrist above the shoulder
    counts from its crossing when the hand is held there (HELD_S under HELD_MPS), not when it
    sweeps through; and the split puts subject 5's even takes in validation."""
    from pose_ros.eval import cues_protocol as protocol

    idx = H36M17.index
    joints = np.repeat(walk_take[:1].astype(np.float64), 90, axis=0)
    t = np.arange(90) / FPS
    shoulder = joints[:, idx("left_shoulder")]
    swept = joints.copy()   # a circle of 0.25 m at 1.5 Hz centred 0.3 m above the shoulder
    a = 2 * np.pi * 1.5 * t
    swept[:, idx("left_wrist")] = shoulder + np.c_[0.25 * np.cos(a), 0.3 + 0.25 * np.sin(a),
                                                   np.zeros_like(t)]
    assert protocol.raised_labels(swept) == []
    held = joints.copy()     # rises over 10 frames to 0.3 m above the shoulder and stays
    held[:, idx("left_wrist")] = shoulder + np.c_[np.zeros_like(t),
                                                  np.clip(t * 3 - 1, -0.2, 0.3),
                                                  np.zeros_like(t)]
    (seg,) = protocol.raised_labels(held)
    assert (seg.cue, seg.side) == ("hand_raised", "left")
    assert seg.start_s == pytest.approx(t[np.argmax(t * 3 - 1 > 0)]) and seg.end_s == t[-1]
    assert [protocol.split_of(f"{n}.bvh") for n in ("05_06", "05_07", "14_01", "16_15")] == [
        "validation", "test", "validation", "test"]


@pytest.mark.parametrize("pose3d", ["world", "lifter", "fused"])
def test_eval_observations_from_each_3d_source(walk_take, pose3d):
    """eval-cues gives the cue engine each pose3d source's 3D: on a raise clip the raised wrist
    is above its shoulder (camera y down) and the hanging one below, while the hand is held."""
    from pose_ros.eval import cues_protocol as protocol
    from pose_ros.eval.cues_eval import observations
    from pose_ros.models.lifter import Lifter

    rng = np.random.default_rng(3)
    pose = protocol.standing_pose(walk_take[protocol.standing_poses(walk_take)[0]])
    clip = protocol.gesture_clip(rng, pose, "raise", "left", "r", "test")
    lifter = None if pose3d == "world" else Lifter.load(
        None, kind="fused" if pose3d == "fused" else "2d")
    (frames,) = observations([clip], lifter, seed=0)
    (seg,) = clip.labels
    held = [o for o in frames[int(seg.start_s * FPS) + 20:int(seg.end_s * FPS) - 5]
            if o is not None]
    assert len(held) >= 20
    idx = H36M17.index
    j = np.stack([o.joints_m for o in held])
    assert np.isfinite(j).all()
    raised = j[:, idx("left_shoulder"), 1] - j[:, idx("left_wrist"), 1]
    hanging = j[:, idx("right_shoulder"), 1] - j[:, idx("right_wrist"), 1]
    assert np.median(raised) > 0.2 and np.median(hanging) < -0.2, (raised, hanging)
