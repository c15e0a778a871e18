"""PoseEstimator with the real models on frames made from a real photograph (skimage astronaut)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from pose_ros.camera import CameraIntrinsics
from pose_ros.errors import PoseRosError
from pose_ros.models.lifter import TemporalLifter, ray_rotation
from pose_ros.models.roi import Roi
from pose_ros.person import DepthSource
from pose_ros.pipeline import PipelineConfig, PoseEstimator, redetections
from pose_ros.skeleton import (
    BLAZEPOSE33,
    COCO17,
    H36M17,
    lifter_to_topology,
    lifter_world_from_blazepose33,
)
from pose_ros.stage3d import Stage3D
from pose_ros.train.train_lifter import save_checkpoint

pytest.importorskip("skimage", reason="scikit-image (test extra) ships the test photograph")
from pose_ros.io.demo import astronaut_bgr, demo_frames  # noqa: E402

FRAMES = list(demo_frames(16, width=640, height=360, photo_px=300))
LEFT_PX = [round(340 * i / 15) for i in range(16)]   # where the photograph is in each frame
TOP_PX = 30


class CountingBlazePose:
    """Wraps the real BlazePose to count detector passes and landmark batches."""

    def __init__(self, inner):
        self.inner, self.detect_calls, self.landmark_batches = inner, 0, []
        self.tile_passes = self.region_calls = 0

    def prepare(self, image, **kwargs):
        return self.inner.prepare(image, **kwargs)

    def detect(self, image_rgb):
        self.detect_calls += 1
        return self.inner.detect(image_rgb)

    def detect_regions(self, image, regions, **kwargs):
        """Counts whole-frame passes (the letterboxed frame) as detect calls, tiles apart."""
        whole = regions[:, 2] >= max(image.shape[:2])
        self.detect_calls += int(whole.sum())
        self.tile_passes += int((~whole).sum())
        self.region_calls += 1
        return self.inner.detect_regions(image, regions, **kwargs)

    def landmarks(self, image_rgb, rois):
        self.landmark_batches.append(len(rois))
        return self.inner.landmarks(image_rgb, rois)


@pytest.fixture(scope="module")
def estimator():
    est = PoseEstimator(PipelineConfig(device="cpu", detect_every_n_frames=5))
    est.blazepose = est.detector.blazepose = CountingBlazePose(est.blazepose)
    return est


@pytest.fixture(scope="module")
def nose_in_photo(estimator):
    """Where BlazePose puts the nose on the still photograph (300 px square)."""
    photo = cv2.resize(astronaut_bgr(), (300, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((360, 640, 3), 96, np.uint8)
    canvas[TOP_PX:TOP_PX + 300, :300] = photo
    estimator.reset()
    people = estimator(canvas, 0.0)
    estimator.reset()
    return people[0].keypoints_2d[0, :2] - [0, TOP_PX]


def run(estimator, frames, stamps=None, **kwargs):
    estimator.reset()
    blaze = estimator.blazepose
    blaze.detect_calls, blaze.landmark_batches = 0, []
    blaze.tile_passes = blaze.region_calls = 0
    stamps = stamps if stamps is not None else [i / 30 for i in range(len(frames))]
    return [estimator(f, t, **kwargs) for f, t in zip(frames, stamps, strict=True)]


def test_moving_person_tracked_with_one_id(estimator, nose_in_photo):
    results = run(estimator, FRAMES)
    assert [[p.track_id for p in people] for people in results] == [[1]] * len(FRAMES)
    for i, people in enumerate(results):
        nose = people[0].keypoints_2d[0]
        expected = nose_in_photo + [LEFT_PX[i], TOP_PX]
        # smoothing lags a moving person a little: within 12 px of where the photo puts it
        assert np.hypot(*(nose[:2] - expected)) < 12, (i, nose, expected)
        assert nose[2] > 0.9 and people[0].score > 0.9
    # detector: frame 0, then every 5 frames while tracked; landmarks: one batch per frame
    blaze = estimator.blazepose
    assert blaze.detect_calls == 4
    assert estimator.blazepose.landmark_batches == [1] * len(FRAMES)
    summary = estimator.timing_summary()
    for stage in ("detect", "landmarks", "track", "lift", "place", "smooth", "total"):
        assert summary[stage]["p95_ms"] >= summary[stage]["p50_ms"] > 0
    # tiles: all on frame 0, then one every tile_every_n_frames frames (fewer where the
    # person covers the next tiles' centres); the detect stage counts every frame with a pass
    tiles = len(estimator.detector._grid)
    assert tiles <= blaze.tile_passes <= tiles + len(FRAMES) // estimator.config.tile_every_n_frames
    assert summary["detect"]["count"] == blaze.region_calls
    assert summary["total"]["count"] == len(FRAMES)
    assert set(estimator.last_timings_ms) >= {"landmarks", "track", "total"}


def test_two_people_one_batch_distinct_ids(estimator):
    photo = cv2.resize(astronaut_bgr(), (300, 300), interpolation=cv2.INTER_AREA)
    frames = []
    for shift in range(0, 24, 8):
        canvas = np.full((360, 720, 3), 96, np.uint8)
        canvas[30:330, 40 + shift:340 + shift] = photo
        canvas[30:330, 380 + shift:680 + shift] = photo
        frames.append(canvas)
    results = run(estimator, frames)
    ids = [sorted(p.track_id for p in people) for people in results]
    assert ids == [[1, 2]] * 3
    assert estimator.blazepose.landmark_batches == [2, 2, 2]      # both people in one batch
    a, b = sorted(results[-1], key=lambda p: p.bbox_px[0])
    # each copy's first ROI merges the whole frame's and different tiles' detections, so the
    # two start from slightly different crops (measured 3.8 px apart on the face)
    np.testing.assert_allclose(b.keypoints_2d[:5, :2] - a.keypoints_2d[:5, :2],
                               np.tile([340.0, 0.0], (5, 1)), atol=6.0)


def test_bgr_input_and_rgb_flag_agree(estimator):
    bgr = run(estimator, FRAMES[:2])
    rgb = run(estimator, [np.ascontiguousarray(f[..., ::-1]) for f in FRAMES[:2]], rgb=True)
    np.testing.assert_allclose(bgr[-1][0].keypoints_2d, rgb[-1][0].keypoints_2d, atol=1e-3)


def test_reset_restarts_ids_and_empty_frame(estimator):
    run(estimator, FRAMES[:2])
    assert estimator(np.full((360, 640, 3), 96, np.uint8), 1.0) == []
    estimator.reset()
    assert [p.track_id for p in estimator(FRAMES[0], 0.0)] == [1]


def test_published_3d_face_joints_at_head_with_score_zero(estimator):
    people = run(estimator, FRAMES[:3])[-1]
    person = people[0]
    kp3d = person.keypoints_3d
    assert kp3d.shape == (17, 4) and person.depth_source == DepthSource.MONOCULAR
    idx = lifter_to_topology(COCO17)
    face = idx < 0
    assert face.sum() == 5 and np.all(kp3d[face, 3] == 0)
    assert np.all(kp3d[~face, 3] > 0)
    # face joints all sit on one point: the lifter's head
    assert np.ptp(kp3d[face, :3], axis=0).max() < 1e-6
    assert person.root_camera_m[2] > 0.3                   # in front of the camera
    hips = kp3d[[COCO17.index("left_hip"), COCO17.index("right_hip")], :3].mean(0)
    np.testing.assert_allclose(hips, person.root_camera_m, atol=0.05)   # root = mid-hip
    assert H36M17.index("head") >= 0


def test_config_checks_and_field_names():
    names = [f.name for f in dataclasses.fields(PipelineConfig)]
    assert {"device", "precision", "detection_threshold", "presence_threshold", "max_people",
            "detect_every_n_frames", "enable_3d", "lifter_receptive_field", "smoothing",
            "skeleton", "num_threads", "tracking_max_age_frames"} <= set(names)
    with pytest.raises(PoseRosError, match="device 'gpu'"):
        PipelineConfig(device="gpu")
    with pytest.raises(PoseRosError, match="skeleton"):
        PipelineConfig(skeleton="h36m17")
    with pytest.raises(PoseRosError, match="One Euro"):
        PipelineConfig(smoothing_min_cutoff_hz=0.0)
    with pytest.raises(PoseRosError, match="metric"):
        PipelineConfig(tracking_metric="euclid")
    with pytest.raises(dataclasses.FrozenInstanceError):
        PipelineConfig().device = "cpu"  # type: ignore[misc]


def test_blazepose33_topology_and_2d_only():
    est = PoseEstimator(PipelineConfig(device="cpu", enable_3d=False, skeleton="blazepose33",
                                       smoothing=False))
    people = [est(f, i / 30) for i, f in enumerate(FRAMES[:2])][-1]
    assert est.topology is BLAZEPOSE33
    assert people[0].keypoints_2d.shape == (33, 3) and people[0].keypoints_3d is None
    assert people[0].root_camera_m is None and people[0].depth_source == DepthSource.NONE


def camera_info(fx_px: float, width: int = 640, height: int = 360):
    from pose_ros.ros.msgdefs import typestore
    types = typestore().types
    k = np.array([fx_px, 0, width / 2, 0, fx_px, height / 2, 0, 0, 1], np.float64)
    return types["sensor_msgs/msg/CameraInfo"](
        header=types["std_msgs/msg/Header"](
            stamp=types["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id="cam"),
        height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5), k=k,
        r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
        roi=types["sensor_msgs/msg/RegionOfInterest"](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def test_camera_info_sets_the_scale_of_the_monocular_root(estimator):
    near = run(estimator, FRAMES[:3], camera=camera_info(400.0))[-1][0]
    far = run(estimator, FRAMES[:3], camera=camera_info(800.0))[-1][0]
    assert near.depth_source == far.depth_source == DepthSource.MONOCULAR
    # same pixels, twice the focal length: the person must be twice as far away
    assert far.root_camera_m[2] / near.root_camera_m[2] == pytest.approx(2.0, rel=0.1)


def test_depth_image_places_the_root(estimator):
    depth = np.full((360, 640), 3.0, np.float32)
    people = run(estimator, FRAMES[:3], depth=depth)[-1]
    assert people[0].depth_source == DepthSource.IMAGE
    assert people[0].root_camera_m[2] == pytest.approx(3.0, abs=0.35)
    missing = np.full((360, 640), np.nan, np.float32)          # no valid depth: monocular
    people = run(estimator, FRAMES[:3], depth=missing)[-1]
    assert people[0].depth_source == DepthSource.MONOCULAR


def use_source(estimator, monkeypatch, pose3d: str, **changes) -> None:
    """Switch the module's estimator to another 3D source for one test (undone after it)."""
    config = dataclasses.replace(estimator.config, pose3d=pose3d, **changes)
    monkeypatch.setattr(estimator, "config", config)
    monkeypatch.setattr(estimator, "stage3d", Stage3D(config, "cpu"))


def test_track_back_after_a_gap_starts_a_fresh_lifter_history(estimator, monkeypatch):
    """Frames before and after a gap are never joined in one lifter window; the id is kept."""
    use_source(estimator, monkeypatch, "lifter")
    blank = np.full((360, 640, 3), 96, np.uint8)
    results = run(estimator, FRAMES[:6] + [blank] + FRAMES[7:9],
                  stamps=[i / 30 for i in range(9)])
    assert [[p.track_id for p in people] for people in results] == [[1]] * 6 + [[]] + [[1]] * 2
    # Each layer's buffer (channels, taps) after two frames of a fresh history: the first frame
    # repeated back in time, then the second. Joined with the frames before the gap, the older
    # taps would hold those frames instead.
    for buffer in estimator.states[1].lifter_stream.state:
        taps = buffer.cpu().numpy()
        np.testing.assert_array_equal(taps[:, :-1], np.repeat(taps[:, :1], taps.shape[1] - 1, 1))
        assert not np.allclose(taps[:, -2], taps[:, -1])


def test_states_of_removed_tracks_are_dropped(estimator):
    """A person who leaves for longer than tracking_max_age_frames leaves no state behind."""
    blank = np.full((360, 640, 3), 96, np.uint8)
    max_age = estimator.config.tracking_max_age_frames
    frames = FRAMES[:2] + [blank] * (max_age + 1) + FRAMES[:1]
    results = run(estimator, frames, stamps=[i / 30 for i in range(len(frames))])
    assert list(estimator.states) == [2] and [p.track_id for p in results[-1]] == [2]
    assert len(estimator.tracker.tracks) == 1


def test_world_source_publishes_blazepose_world_landmarks(estimator, monkeypatch):
    """pose3d 'world': the published 3D is BlazePose's world landmarks of the frame (as lifter
    joints, turned from the person's viewing ray onto the camera axes) placed in the camera, at
    about the distance the lifter places the person."""
    use_source(estimator, monkeypatch, "lifter")
    lifted = run(estimator, FRAMES[:3])[-1][0]
    use_source(estimator, monkeypatch, "world", smoothing=False)
    person = run(estimator, FRAMES[:3])[-1][0]
    assert person.depth_source == DepthSource.MONOCULAR
    landmarks = estimator.states[1].landmarks
    pelvis_px = landmarks.keypoints_px[[BLAZEPOSE33.index("left_hip"),
                                        BLAZEPOSE33.index("right_hip")], :2].mean(0)
    ray = ray_rotation(CameraIntrinsics.guess(640, 360).normalized(pelvis_px[None]))[0]
    world = lifter_world_from_blazepose33(landmarks.world_m) @ ray.T   # onto the camera axes
    idx = lifter_to_topology(COCO17)
    body = idx >= 0
    np.testing.assert_allclose(person.keypoints_3d[body, :3] - person.root_camera_m,
                               world[idx[body]], atol=1e-5)
    assert person.root_camera_m[2] == pytest.approx(lifted.root_camera_m[2], rel=0.3)


def test_redetection_of_a_tracked_person_is_not_a_newcomer():
    """A detector ROI is that tracked person again when it overlaps their ROI, or holds it whole
    at up to twice its size (a loose ROI from the detector re-firing on them); a neighbour
    beside them or a near person three times their size in front of them is someone else."""
    tracked = [Roi((300.0, 300.0), 140.0, 0.0)]
    found = [Roi((305.0, 295.0), 150.0, 0.0),     # the same ROI, redetected: IoU 0.85
             Roi((290.0, 280.0), 230.0, 0.0),     # holds it whole, 1.6x: IoU 0.37
             Roi((440.0, 300.0), 140.0, 0.0),     # a neighbour one ROI to the right
             Roi((300.0, 330.0), 420.0, 0.0)]     # holds it, but 3x: a near person in front
    assert redetections(found, tracked).tolist() == [True, True, False, False]


def test_fused_source_runs_in_the_pipeline(estimator, monkeypatch, tmp_path):
    """pose3d 'fused' with a (random, small) fused lifter: 3D for every published person,
    placed with the same code as the other sources; one lifter history per track."""
    torch.manual_seed(0)
    weights = tmp_path / "fused.pt"
    save_checkpoint(TemporalLifter(27, channels=16, in_features=6).eval(), weights)
    use_source(estimator, monkeypatch, "fused", lifter_model=str(weights))
    person = run(estimator, FRAMES[:3])[-1][0]
    assert person.keypoints_3d.shape == (17, 4) and person.depth_source == DepthSource.MONOCULAR
    assert np.isfinite(person.keypoints_3d).all() and person.root_camera_m[2] > 0
    assert estimator.states[1].lifter_stream is not None
