"""Simulated BlazePose world landmarks: its body, its axes, errors of the measured size."""

from __future__ import annotations

import numpy as np
from conftest import walker

from pose_ros.eval.metrics3d import p_mpjpe
from pose_ros.models.lifter import normalize_world, ray_rotation
from pose_ros.skeleton import H36M17
from pose_ros.train import world_sim

IDX = H36M17.index


def test_ray_rotation_takes_the_optical_axis_to_the_ray():
    xy = np.array([[0.0, 0.0], [0.5, -0.2], [-1.0, 0.7]])
    rot = ray_rotation(xy)
    ray = np.concatenate([xy, np.ones((3, 1))], 1)
    np.testing.assert_allclose(rot @ [0, 0, 1], ray / np.linalg.norm(ray, axis=1, keepdims=True),
                               atol=1e-12)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, 1, 2), np.eye(3)[None].repeat(3, 0),
                               atol=1e-12)


def cam_clips(n=32, frames=30, x_offset=0.0):
    take = walker(60).astype(np.float64)
    cam = np.stack([take[:frames]] * n) * [1, -1, 1]          # y down
    cam = cam - cam[:, :, :1] + [x_offset, 0.0, 4.0]
    return cam


def test_noiseless_simulation_is_the_body_seen_along_the_ray():
    rng = np.random.default_rng(0)
    cam = cam_clips(x_offset=2.5)
    quiet = world_sim.WorldNoise(prior_weight=(0.0, 0.0), bone_bias=0, asymmetry=0,
                                 jitter_xy_m=0, jitter_z_m=0, depth_bias_m=0,
                                 inplane_bias_m=0, depth_flip=0, swap=0)
    ray = world_sim.simulate(rng, cam, np.full(cam.shape[:2], 500.0), quiet)
    pelvis_norm = cam[:, :, 0, :2] / cam[:, :, 0, 2:]
    back = normalize_world(ray, pelvis_norm)
    np.testing.assert_allclose(back, cam - cam[:, :, :1], atol=1e-5)
    assert np.abs(ray - (cam - cam[:, :, :1])).max() > 0.05  # ray axes differ off-centre


def test_simulated_errors_are_blazepose_sized_and_bodies_blazepose_like():
    rng = np.random.default_rng(1)
    cam = cam_clips(256)
    sim = world_sim.simulate(rng, cam, np.full(cam.shape[:2], 400.0))
    truth = cam - cam[:, :, :1]
    err = p_mpjpe(sim.reshape(-1, 17, 3), truth.reshape(-1, 17, 3)) * 1000
    assert 60 < err < 130, err   # MediaPipe's world landmarks: 87-108 mm P-MPJPE (issue 10)
    thigh = np.linalg.norm(sim[:, :, IDX("left_knee")] - sim[:, :, IDX("left_hip")], axis=-1)
    assert 0.33 < np.median(thigh) < 0.45   # BlazePose's 0.38 m, not the walker's 0.45 m
    jitter = np.diff(sim, 2, axis=1)
    assert np.sqrt((jitter[..., 2] ** 2).mean()) > np.sqrt((jitter[..., 0] ** 2).mean())
