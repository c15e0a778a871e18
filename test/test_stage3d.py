"""The 3D stage: the pose3d sources, their checks, and the placement they share."""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pose_ros.camera import CameraIntrinsics
from pose_ros.errors import PoseRosError
from pose_ros.models import lifter as lifter_module
from pose_ros.models.lifter import Lifter, TemporalLifter, ray_rotation
from pose_ros.person import DepthSource
from pose_ros.person_state import PersonState
from pose_ros.pipeline import PipelineConfig
from pose_ros.skeleton import (
    BLAZEPOSE33,
    BLAZEPOSE33_TO_COCO17,
    H36M17,
    lifter_inputs_from_coco17,
    lifter_world_from_blazepose33,
)
from pose_ros.stage3d import Stage3D
from pose_ros.train.train_lifter import save_checkpoint

WEIGHTS_2D = Path(lifter_module.__file__).with_name("lifter_rf27.pt")


def timed(name: str):
    return nullcontext()


def blazepose_person(rng, intrinsics: CameraIntrinsics, root_m: np.ndarray) -> PersonState:
    """A person whose world landmarks and 2D keypoints agree: BlazePose's world landmarks are
    the body as seen along the ray to the person; turned onto the camera's axes and placed at
    root_m, they project onto the 2D keypoints."""
    world = rng.normal(0, 0.25, (33, 3))
    b = BLAZEPOSE33.index
    world -= (world[b("left_hip")] + world[b("right_hip")]) / 2      # hip-centred, as BlazePose
    ray = ray_rotation(root_m[None, :2] / root_m[2])[0]
    uv = intrinsics.project(world @ ray.T + root_m)
    kp = np.column_stack([uv, np.full(33, 0.9)]).astype(np.float32)
    return PersonState(1, landmarks=SimpleNamespace(keypoints_px=kp, world_m=world))


def test_world_source_places_the_world_landmarks():
    """With exact 2D, `world` turns BlazePose's landmarks (as lifter joints) onto the camera
    axes and puts them at the true root, by intrinsics and by a depth image alike (within the
    few mm by which the mid-points that make derived joints (pelvis, spine, neck, head) do
    not project to the mid-points of the 2D)."""
    rng = np.random.default_rng(0)
    intrinsics = CameraIntrinsics.guess(640, 480)
    stage = Stage3D(PipelineConfig(device="cpu", pose3d="world", smoothing=False), "cpu")
    assert stage.lifter is None and stage.weights_digest() is None
    root = np.array([1.2, -0.4, 3.2])                                 # 21 degrees off-axis
    person = blazepose_person(rng, intrinsics, root)
    [(joints, scores, placed_root, source)] = stage([person], (480, 640), 0.0, intrinsics, None,
                                                    timed)
    assert source == DepthSource.MONOCULAR and scores.shape == (17,)
    expected = lifter_world_from_blazepose33(person.landmarks.world_m)
    ray = ray_rotation(root[None, :2] / root[2])[0]
    np.testing.assert_allclose(placed_root, root, atol=0.02)
    np.testing.assert_allclose(joints - placed_root, expected @ ray.T, atol=0.005)
    stage.world_along_ray = False                                     # BlazePose's own axes
    [(joints, _, _, _)] = stage([person], (480, 640), 0.0, intrinsics, None, timed)
    np.testing.assert_allclose(joints - joints[0], expected, atol=1e-6)
    assert np.abs(expected @ ray.T - expected).max() > 0.05          # the turn matters here
    stage.world_along_ray = True
    depth = np.full((480, 640), 3.2, np.float32)  # a wall at the root's depth: every joint's z
    [(_, _, depth_root, source)] = stage([person], (480, 640), 0.0, intrinsics, depth, timed)
    assert source == DepthSource.IMAGE
    assert abs(depth_root[2] - 3.2) < 0.3    # median of per-joint candidates on a flat wall
    assert person.lifter_stream is None      # world needs no temporal history


def test_world_pose_is_smoothed_per_person_and_restarts_after_a_gap():
    """With smoothing on, frame-to-frame noise of the world landmarks is reduced; a person
    back after a missed frame starts a new filter."""
    rng = np.random.default_rng(3)
    intrinsics = CameraIntrinsics.guess(640, 480)
    stage = Stage3D(PipelineConfig(device="cpu", pose3d="world"), "cpu")
    person = blazepose_person(rng, intrinsics, np.array([0.0, 0.0, 3.0]))
    still = person.landmarks.world_m.copy()
    raw, smoothed = [], []
    for i in range(60):
        noisy = still + rng.normal(0, 0.02, still.shape)             # 2 cm per-frame noise
        person.landmarks = SimpleNamespace(keypoints_px=person.landmarks.keypoints_px,
                                           world_m=noisy)
        [(joints, _, root, _)] = stage([person], (480, 640), i / 30, intrinsics, None, timed)
        raw.append(lifter_world_from_blazepose33(noisy))
        smoothed.append(joints - root)
    def jitter(x):
        return np.abs(np.diff(np.array(x)[20:], 2, axis=0)).mean()
    assert jitter(smoothed) < 0.3 * jitter(raw)
    person.interrupt()
    assert person.pose_filter is None                     # a gap: the next frame starts anew
    stage([person], (480, 640), 3.0, intrinsics, None, timed)
    assert person.pose_filter is not None


def test_lifter_source_keeps_a_history_per_person():
    rng = np.random.default_rng(1)
    intrinsics = CameraIntrinsics.guess(640, 480)
    stage = Stage3D(PipelineConfig(device="cpu", pose3d="lifter"), "cpu")
    people = [blazepose_person(rng, intrinsics, np.array([x, 0.0, 3.0])) for x in (-0.8, 0.8)]
    out = stage(people, (480, 640), 0.0, intrinsics, None, timed)
    assert len(out) == 2 and all(p.lifter_stream is not None for p in people)
    assert people[0].lifter_stream is not people[1].lifter_stream
    for joints, _, root, _ in out:
        np.testing.assert_allclose(joints[H36M17.index("pelvis")], root, atol=1e-6)


def random_fused_weights(path: Path) -> Path:
    """A small randomly initialised fused lifter (2D + world landmarks), saved as training
    saves one: enough to follow the data, not to judge accuracy."""
    torch.manual_seed(0)
    save_checkpoint(TemporalLifter(27, channels=16, in_features=6).eval(), path)
    return path


def test_fused_source_feeds_2d_and_world_landmarks_to_the_lifter(tmp_path):
    """pose3d 'fused' gives the lifter the frame's 2D and BlazePose's world landmarks (as
    lifter joints, in BlazePose's axes: Lifter.normalize turns them), one history per person."""
    weights = random_fused_weights(tmp_path / "fused.pt")
    stage = Stage3D(PipelineConfig(device="cpu", pose3d="fused", lifter_model=str(weights)),
                    "cpu")
    assert stage.lifter.uses_world
    rng = np.random.default_rng(4)
    intrinsics = CameraIntrinsics.guess(640, 480)
    person = blazepose_person(rng, intrinsics, np.array([0.9, 0.2, 3.0]))
    [(joints, _, root, _)] = stage([person], (480, 640), 0.0, intrinsics, None, timed)
    assert person.lifter_stream is not None
    # the same as the lifter run by hand on that one frame (a new history repeats it back)
    lifter = Lifter.load(weights)
    keypoints = lifter_inputs_from_coco17(person.landmarks.keypoints_px[BLAZEPOSE33_TO_COCO17])
    world = lifter_world_from_blazepose33(person.landmarks.world_m)
    window = np.repeat(lifter.normalize(keypoints, intrinsics, world_m=world)[None], 27, 0)
    np.testing.assert_allclose(joints - root, lifter.lift(window[None])[0], atol=1e-5)
    # and the world landmarks matter: other landmarks, same 2D -> another 3D
    other = PersonState(2, landmarks=SimpleNamespace(
        keypoints_px=person.landmarks.keypoints_px, world_m=person.landmarks.world_m * 1.3))
    [(other_joints, _, other_root, _)] = stage([other], (480, 640), 0.0, intrinsics, None,
                                               timed)
    assert np.abs((other_joints - other_root) - (joints - root)).max() > 1e-3
    with pytest.raises(PoseRosError, match="fused .2D . world landmarks. lifter"):
        Stage3D(PipelineConfig(device="cpu", pose3d="lifter", lifter_model=str(weights)), "cpu")


def test_fused_without_fused_weights_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(lifter_module, "SHIPPED_FUSED", {})      # an install without them
    with pytest.raises(PoseRosError, match="no fused lifter weights are installed"):
        Stage3D(PipelineConfig(device="cpu", pose3d="fused"), "cpu")
    with pytest.raises(PoseRosError, match="2D-only lifter"):
        Stage3D(PipelineConfig(device="cpu", pose3d="fused", lifter_model=str(WEIGHTS_2D)), "cpu")
    with pytest.raises(PoseRosError, match="pose3d 'both'"):
        PipelineConfig(pose3d="both")


def test_shipped_fused_weights_on_the_demo_give_a_human_body(tmp_path):
    """`pose-ros run --demo --pose3d fused` with the shipped fused weights: every frame has a
    person in front of the camera whose thighs, shins and trunk have an adult's lengths."""
    assert lifter_module.SHIPPED_FUSED[27].exists()
    out = subprocess.run([sys.executable, "-m", "pose_ros.cli", "run", "--demo", "--pose3d",
                          "fused", "--out", str(tmp_path / "out"), "--quiet", "--device", "cpu",
                          "--max-frames", "20"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    frames = [json.loads(line) for line in (tmp_path / "out" / "poses.jsonl").open()]
    assert len(frames) == 20 and all(len(f["people"]) == 1 for f in frames)
    i = frames[0]["keypoint_names"].index
    for frame in frames:
        p = np.asarray(frame["people"][0]["keypoints_3d"], float)[:, :3]
        assert p[:, 2].min() > 0.3                                   # in front of the camera
        for side in ("left", "right"):
            thigh = np.linalg.norm(p[i(f"{side}_hip")] - p[i(f"{side}_knee")])
            shin = np.linalg.norm(p[i(f"{side}_knee")] - p[i(f"{side}_ankle")])
            assert 0.3 < thigh < 0.6 and 0.3 < shin < 0.6, (thigh, shin)
        trunk = np.linalg.norm(p[[i("left_shoulder"), i("right_shoulder")]].mean(0)
                               - p[[i("left_hip"), i("right_hip")]].mean(0))
        assert 0.25 < trunk < 0.7, trunk     # the demo photo shows the body to the waist
