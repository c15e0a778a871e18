"""The input policy shared by node and runner: stamps, intrinsics (scaling, refusal, guess) and
depth, checked without ROS; and the same people from node-style and runner-style calls."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from pose_ros.camera import CameraIntrinsics
from pose_ros.errors import PoseRosError
from pose_ros.input_policy import MIN_STEP_NS, InputPolicy, StampClock, Throttle
from pose_ros.person import DepthSource

S = 1_000_000_000   # ns per second
PERIOD = S // 30


def info(width=640, height=480, f=500.0, **extra) -> dict:
    return {"k": [f, 0, width / 2, 0, f, height / 2, 0, 0, 1], "d": [0.0] * 5,
            "distortion_model": "plumb_bob", "width": width, "height": height, **extra}


def policy_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "pose_ros.input_policy" and r.levelno == logging.WARNING]


# ----------------------------------------------------------------------------- stamps

def test_good_stamps_are_the_pipeline_time():
    clock = StampClock()
    stamps = [1000 * S + i * PERIOD for i in range(5)]
    out = [clock(s, 7 * S + i) for i, s in enumerate(stamps)]
    assert [o for o, _ in out] == stamps and all(why is None for _, why in out)


@pytest.mark.parametrize("bad, why", [(0, "is zero"), (None, "repeats"), (-1, "went back")])
def test_a_bad_stamp_advances_by_the_arrival_gap(bad, why):
    clock = StampClock()
    t0 = 50 * S
    clock(t0, 9 * S)
    clock(t0 + PERIOD, 9 * S + PERIOD)
    stamp = {0: 0, None: t0 + PERIOD, -1: t0 - 5 * S}[bad]
    out, reason = clock(stamp, 9 * S + PERIOD + 40_000_000)      # arrived 40 ms later
    assert why in reason
    assert out == t0 + PERIOD + 40_000_000
    # Good stamps after it continue from there (after a backward jump: the new run of stamps).
    nxt = (stamp if bad == -1 else t0 + PERIOD) + PERIOD
    out2, reason2 = clock(nxt, 9 * S + 2 * PERIOD + 40_000_000)
    assert reason2 is None and out2 > out


def test_pipeline_time_always_moves_forward():
    rng = np.random.default_rng(3)
    clock = StampClock()
    arrival = 100 * S
    stamp = 20 * S
    last = 0
    for _ in range(2000):
        arrival += int(rng.integers(0, 60_000_000))          # arrivals may coincide
        kind = rng.integers(0, 5)
        stamp = {0: stamp + PERIOD, 1: 0, 2: stamp, 3: stamp - int(rng.integers(1, 5 * S)),
                 4: stamp + int(rng.integers(1, 10 * S))}[int(kind)]
        out, _ = clock(max(stamp, 0), arrival)
        assert out >= last + MIN_STEP_NS
        last = out
    assert clock.replaced > 0


def test_first_frame_without_a_stamp_uses_arrival_time():
    clock = StampClock()
    assert clock(0, 5 * S) == (5 * S, "is zero")
    out, reason = clock(3 * S, 5 * S + PERIOD)     # stamps appear: no jump back in time
    assert reason is None and out == 5 * S + PERIOD


def test_throttle_counts_what_it_holds_back(caplog):
    now = [0.0]
    throttle = Throttle(10.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="pose_ros.input_policy"):
        for t in (0.0, 1.0, 2.0, 11.0):
            now[0] = t
            throttle.warn("stamp", "bad stamp")
    assert policy_warnings(caplog) == ["bad stamp", "bad stamp (2 more since the last warning)"]


def test_policy_warns_once_per_period_and_reports_a_condition(caplog):
    now = [0.0]
    policy = InputPolicy(clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="pose_ros.input_policy"):
        for i in range(30):
            now[0] = i / 30
            policy.prepare(stamp_ns=0, arrival_ns=S + i * PERIOD, width=640, height=480,
                           camera_info=info())
    stamp_lines = [m for m in policy_warnings(caplog) if "stamp" in m]
    assert len(stamp_lines) == 1 and "arrival time" in stamp_lines[0]
    assert policy.counts["stamps_replaced"] == 30
    assert any("arrival time" in c and "[30 frames so far]" in c for c in policy.conditions())
    now[0] = 60.0
    assert policy.conditions() == []                                       # it stopped


# ----------------------------------------------------------------------------- intrinsics

_FRAME = itertools.count()


def prepare(policy, width, height, camera_info, depth=None):
    """One frame with a good stamp, 1/30 s after the previous one."""
    t = S + next(_FRAME) * PERIOD
    return policy.prepare(stamp_ns=t, arrival_ns=t, width=width, height=height,
                          camera_info=camera_info, depth_m=depth)


def test_matching_camera_info_is_used_as_is():
    p = prepare(InputPolicy(), 640, 480, info(f=500.0))
    assert (p.camera.fx, p.camera.cx, p.camera.width) == (500.0, 320.0, 640)
    assert p.intrinsics == "camera_info"


def test_camera_info_of_another_resolution_is_scaled(caplog):
    with caplog.at_level(logging.INFO, logger="pose_ros.input_policy"):
        p = prepare(InputPolicy(), 640, 360, info(1280, 720, f=900.0))
    assert p.camera.fx == pytest.approx(450.0) and p.camera.cx == pytest.approx(320.0)
    assert (p.camera.width, p.camera.height) == (640, 360)
    assert "scaled from 1280x720" in p.intrinsics
    assert any("scaled from 1280x720" in r.getMessage() for r in caplog.records)


def test_binned_camera_info_matches_its_image_without_scaling():
    p = prepare(InputPolicy(), 320, 240, info(640, 480, f=500.0, binning_x=2, binning_y=2))
    assert p.intrinsics == "camera_info" and p.camera.fx == pytest.approx(250.0)


def test_camera_info_of_another_aspect_ratio_is_refused(caplog):
    with caplog.at_level(logging.WARNING, logger="pose_ros.input_policy"):
        p = prepare(InputPolicy(assumed_hfov_deg=69.0), 640, 360, info(640, 480))
    assert "assumed 69 deg" in p.intrinsics
    assert p.camera == CameraIntrinsics.guess(640, 360, 69.0)
    (line,) = policy_warnings(caplog)
    assert "640x480" in line and "640x360" in line and "refused" in line


def test_uncalibrated_camera_info_uses_the_assumed_field_of_view(caplog):
    policy = InputPolicy()
    with caplog.at_level(logging.WARNING, logger="pose_ros.input_policy"):
        for _ in range(3):
            p = prepare(policy, 640, 480, {**info(), "k": [0.0] * 9})
    assert p.camera == CameraIntrinsics.guess(640, 480, 69.0)
    (line,) = policy_warnings(caplog)                     # a state: logged once
    assert "no usable K" in line and "calibrate" in line and "69 degree" in line
    assert any("69 degree" in c for c in policy.conditions())
    # Once camera_info is right the condition clears.
    prepare(policy, 640, 480, info())
    assert policy.conditions() == []


def test_no_guess_gives_no_intrinsics():
    p = prepare(InputPolicy(assumed_hfov_deg=0.0), 640, 480, None)
    assert p.camera is None and p.intrinsics.startswith("none")


def test_unsupported_distortion_model_is_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="pose_ros.input_policy"):
        p = prepare(InputPolicy(), 640, 480, info(d=[0.1, 0.01, 0.0, 0.0],
                                                  distortion_model="kannala_brandt"))
    assert p.camera is not None
    (line,) = policy_warnings(caplog)
    assert "kannala_brandt" in line and "ignored" in line


def test_depth_of_another_size_is_dropped(caplog):
    policy = InputPolicy()
    with caplog.at_level(logging.WARNING, logger="pose_ros.input_policy"):
        p = prepare(policy, 640, 480, info(), depth=np.ones((240, 320), np.float32))
        q = prepare(policy, 640, 480, info(), depth=np.ones((480, 640), np.float32))
    assert p.depth_m is None and q.depth_m is not None
    (line,) = policy_warnings(caplog)
    assert "320x240" in line and "640x480" in line and "aligned" in line
    assert policy.counts["depth_dropped"] == 1


def test_bad_assumed_field_of_view_is_rejected():
    with pytest.raises(PoseRosError, match="assumed_hfov_deg"):
        InputPolicy(assumed_hfov_deg=200.0)


# ----------------------------------------------------------------------------- with the models

pytest.importorskip("skimage", reason="scikit-image (test extra) ships the test photograph")


@pytest.fixture(scope="module")
def estimator():
    from pose_ros.pipeline import PipelineConfig, PoseEstimator

    return PoseEstimator(PipelineConfig(device="cpu"))


def people_of(estimator, policy, camera_info):
    from pose_ros.io.demo import astronaut_bgr

    estimator.reset()
    policy.reset()
    photo = astronaut_bgr()
    people = []
    for i in range(3):
        people = policy.estimate(estimator, photo, stamp_ns=S + i * PERIOD,
                                 arrival_ns=S + i * PERIOD, camera_info=camera_info)
    assert people, "no person found in the photograph"
    return people[0]


def test_without_intrinsics_the_guess_places_the_person(estimator):
    person = people_of(estimator, InputPolicy(), None)
    assert person.depth_source == DepthSource.MONOCULAR
    # the astronaut portrait (shoulders ~300 of 512 px) at a 69-degree guess: about 0.5 m away
    assert 0.3 < person.root_camera_m[2] < 20


def test_without_intrinsics_and_without_a_guess_3d_is_pelvis_relative(estimator):
    person = people_of(estimator, InputPolicy(assumed_hfov_deg=0.0), None)
    assert person.depth_source == DepthSource.NONE and person.root_camera_m is None
    assert np.abs(person.keypoints_3d[:, :3]).max() < 1.5    # metres around the pelvis


def test_guess_and_camera_info_of_that_field_of_view_agree(estimator):
    guessed = people_of(estimator, InputPolicy(), None)
    k = CameraIntrinsics.guess(512, 512, 69.0)
    calibrated = people_of(estimator, InputPolicy(), info(512, 512, f=k.fx))
    np.testing.assert_allclose(guessed.root_camera_m, calibrated.root_camera_m, atol=1e-4)


def test_malformed_camera_info_never_raises():
    """Random garbage in every CameraInfo field: intrinsics or a stated problem, no exception."""
    rng = np.random.default_rng(11)
    values = [0, -1, 1, 2, 10**12, float("nan"), float("inf"), -0.5, "x", None, [], [1.0] * 9]
    policy = InputPolicy()
    for _ in range(2000):
        msg = info()
        for key in rng.choice(list(msg) + ["binning_x", "binning_y", "roi"], size=2):
            if key == "k" and rng.random() < 0.5:
                msg["k"] = list(rng.choice([0.0, 1e-9, -3.0, np.nan, 500.0, 1e300], 9))
            elif key == "roi":
                msg["roi"] = {f: values[rng.integers(len(values))]
                              for f in ("x_offset", "y_offset", "width", "height")}
            else:
                msg[key] = values[rng.integers(len(values))]
        p = prepare(policy, 640, 480, msg)
        assert p.camera is not None       # the camera_info's or the assumed field of view
        assert np.isfinite([p.camera.fx, p.camera.fy, p.camera.cx, p.camera.cy]).all()


def test_a_file_timeline_starts_at_zero_without_a_warning():
    """Video files and image folders stamp their first frame 0 s: that is the start of the
    file's timeline (zero_start), not a missing stamp; live stamps of zero still are."""
    clock = StampClock(zero_start=True)
    out = [clock(i * PERIOD, 3 * S + i * PERIOD) for i in range(3)]
    assert out == [(0, None), (PERIOD, None), (2 * PERIOD, None)]
    assert clock(0, 3 * S + 3 * PERIOD)[1] == "is zero"       # zero later on is a fault
    assert StampClock()(0, 3 * S)[1] == "is zero"


def test_file_sources_declare_their_zero_start():
    from pose_ros.io.bag_source import BagSource
    from pose_ros.io.sources import ImageFolderSource, VideoSource, WebcamSource

    assert VideoSource.zero_start and ImageFolderSource.zero_start
    assert not BagSource.zero_start and not WebcamSource.zero_start
