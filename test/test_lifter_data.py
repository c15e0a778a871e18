"""Virtual-camera training data: cameras like a robot's, 2D consistent with 3D, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import walker

from pose_ros.models.lifter import normalize_2d
from pose_ros.skeleton import H36M17
from pose_ros.train import lifter_data as ld


def test_clean_inputs_are_the_projection_of_the_targets():
    rng = np.random.default_rng(0)
    inputs, targets = ld.make_batch(rng, [walker()], 16, 30, ld.NoiseModel.clean(),
                                    augment=None, cameras=ld.ROBOT_CAMERAS)
    assert inputs.shape == targets.shape == (16, 30, 17, 3)
    np.testing.assert_allclose(targets[:, :, 0], 0, atol=1e-6)  # pelvis-relative
    scores = inputs[..., 2]   # 1 in view, 0 for the joints a partly visible person has outside
    assert set(np.unique(scores)) <= {0.0, 1.0} and scores.mean() > 0.8
    # the pelvis-relative 2D shape is the (perspective) image of the 3D targets: compare it with
    # their orthographic image, scaled the same way, which it approaches for a distant person
    t = targets[..., :2]
    t = t / np.sqrt((t ** 2).sum(-1).sum(-1) / 17)[..., None, None]
    assert np.median(np.abs(inputs[..., 1:, :2] - t[..., 1:, :])) < 0.1


@pytest.mark.parametrize("model", [ld.ROBOT_CAMERAS, ld.TRAIN_CAMERAS])
def test_cameras_stay_in_their_ranges(model):
    rng = np.random.default_rng(1)
    clips = ld.clip_windows(walker(), np.zeros(500, dtype=int), 10)
    rot, centre, k, sizes = ld.random_cameras(rng, clips, model)
    ref = clips[:, 5, 0]
    dist = np.hypot(*(centre - ref)[:, [0, 2]].T)
    assert dist.min() >= model.distance_m[0] - 1e-9 and dist.max() <= model.distance_m[1] + 1e-9
    floor = clips[:, :, [H36M17.index("left_ankle"), H36M17.index("right_ankle")], 1].min(
        axis=(1, 2)) - ld.ANKLE_ABOVE_FLOOR_M
    height = centre[:, 1] - floor
    assert height.min() >= model.height_m[0] - 1e-9 and height.max() <= model.height_m[1] + 1e-9
    pitch = np.degrees(np.arcsin(-rot[:, 2, 1]))  # optical z against world up
    assert np.abs(pitch).max() <= model.pitch_limit_deg + 1e-6
    np.testing.assert_allclose(np.einsum("bij,bkj->bik", rot, rot), np.eye(3)[None].repeat(500, 0),
                               atol=1e-9)
    hfov = np.degrees(2 * np.arctan(sizes[:, 0] / 2 / k[:, 0]))
    assert hfov.min() >= model.hfov_deg[0] - 1e-6 and hfov.max() <= model.hfov_deg[1] + 1e-6


def test_training_cameras_span_table_top_to_ceiling_and_wide_lenses():
    rng = np.random.default_rng(6)
    clips = ld.clip_windows(walker(), np.zeros(2000, dtype=int), 10)
    rot, centre, k, sizes = ld.random_cameras(rng, clips, ld.TRAIN_CAMERAS)
    hfov = np.degrees(2 * np.arctan(sizes[:, 0] / 2 / k[:, 0]))
    pitch = np.degrees(np.arcsin(-rot[:, 2, 1]))
    assert hfov.min() < 35 and hfov.max() > 105
    assert centre[:, 1].min() < 0.4 and centre[:, 1].max() > 2.8
    assert pitch.min() < -40  # ceiling mounts look steeply down


def test_noise_grows_as_the_person_gets_smaller():
    rng = np.random.default_rng(2)
    uv_big = np.random.default_rng(3).uniform(0, 400, (400, 1, 17, 2))
    uv_small = uv_big / 8
    sizes = np.tile([1920.0, 1080.0], (400, 1))
    noise = ld.NoiseModel(outlier_prob=0, low_conf_prob=0, bias_rel=0)
    err_big = np.abs(ld.detector_2d(rng, uv_big, sizes, noise)[..., :2] - uv_big)
    err_small = np.abs(ld.detector_2d(rng, uv_small, sizes, noise)[..., :2] - uv_small)
    rel_big = np.median(err_big) / 400
    rel_small = np.median(err_small) / 50
    assert rel_small > 2 * rel_big


def test_derived_joints_are_recomputed_from_noisy_joints():
    rng = np.random.default_rng(4)
    uv = rng.uniform(100, 500, (8, 3, 17, 2))
    kp = ld.detector_2d(rng, uv, np.tile([640.0, 480.0], (8, 1)), ld.NoiseModel())
    i = H36M17.index
    np.testing.assert_allclose(kp[..., i("pelvis"), :2],
                               (kp[..., i("left_hip"), :2] + kp[..., i("right_hip"), :2]) / 2)
    assert np.all(kp[..., i("neck"), 2] <= kp[..., i("head"), 2])


def test_augmented_batches_are_finite_and_pelvis_relative():
    rng = np.random.default_rng(7)
    for world in (None, ld.world_sim.WorldNoise()):
        inputs, targets = ld.make_batch(rng, [walker(), walker(90)], 32, 30, ld.NoiseModel(),
                                        world=world)
        assert inputs.shape[-1] == (3 if world is None else 6)
        assert np.isfinite(inputs).all() and np.isfinite(targets).all()
        np.testing.assert_allclose(targets[:, :, 0], 0, atol=1e-6)
        if world is not None:
            np.testing.assert_allclose(inputs[:, :, 0, 3:], 0, atol=1e-6)


def test_normalize_2d_is_translation_and_scale_free_except_the_pelvis_ray():
    rng = np.random.default_rng(5)
    kp = np.concatenate([rng.normal(size=(17, 2)), np.ones((17, 1))], axis=1)
    moved = kp.copy()
    moved[:, :2] = kp[:, :2] * 3 + 1
    a, b = normalize_2d(kp), normalize_2d(moved)
    np.testing.assert_allclose(a[1:], b[1:], atol=1e-5)
    np.testing.assert_allclose(b[0, :2], moved[0, :2], atol=1e-6)
