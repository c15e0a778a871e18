"""Virtual-camera training data: cameras like a robot's, 2D consistent with 3D, augmentation."""

from __future__ import annotations

import numpy as np
from conftest import walker

from pose_ros.models.lifter import normalize_2d
from pose_ros.skeleton import H36M17
from pose_ros.train import lifter_data as ld


def test_clean_inputs_are_the_projection_of_the_targets():
    rng = np.random.default_rng(0)
    inputs, targets = ld.make_batch(rng, [walker()], 16, 30, ld.NoiseModel.clean(),
                                    augment=False)
    assert inputs.shape == targets.shape == (16, 30, 17, 3)
    np.testing.assert_allclose(targets[:, :, 0], 0, atol=1e-6)  # pelvis-relative
    scores = inputs[..., 2]   # 1 in view, 0 for the joints a partly visible person has outside
    assert set(np.unique(scores)) <= {0.0, 1.0} and scores.mean() > 0.8
    # the pelvis-relative 2D shape is the (perspective) image of the 3D targets: compare it with
    # their orthographic image, scaled the same way, which it approaches for a distant person
    t = targets[..., :2]
    t = t / np.sqrt((t ** 2).sum(-1).sum(-1) / 17)[..., None, None]
    assert np.median(np.abs(inputs[..., 1:, :2] - t[..., 1:, :])) < 0.1


def test_cameras_are_robot_like():
    rng = np.random.default_rng(1)
    clips = ld.clip_windows(walker(), np.zeros(500, dtype=int), 10)
    rot, centre, k, sizes = ld.random_cameras(rng, clips)
    ref = clips[:, 5, 0]
    dist = np.hypot(*(centre - ref)[:, [0, 2]].T)
    assert dist.min() >= 1.5 - 1e-9 and dist.max() <= 8.0 + 1e-9
    floor = clips[:, :, [H36M17.index("left_ankle"), H36M17.index("right_ankle")], 1].min(
        axis=(1, 2)) - ld.ANKLE_ABOVE_FLOOR_M
    height = centre[:, 1] - floor
    assert height.min() >= 0.3 - 1e-9 and height.max() <= 2.0 + 1e-9
    pitch = np.degrees(np.arcsin(-rot[:, 2, 1]))  # optical z against world up
    assert np.abs(pitch).max() <= 25 + 1e-6
    np.testing.assert_allclose(np.einsum("bij,bkj->bik", rot, rot), np.eye(3)[None].repeat(500, 0),
                               atol=1e-9)
    hfov = np.degrees(2 * np.arctan(sizes[:, 0] / 2 / k[:, 0]))
    assert hfov.min() >= 50 - 1e-6 and hfov.max() <= 100 + 1e-6


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


def test_mirror_and_bone_scaling_keep_a_valid_body():
    take = walker(60)[None]
    factors = {g: np.array([1.1]) for g in ld._BONE_GROUPS}
    scaled = ld.scale_bones(take, factors)
    i = H36M17.index
    thigh = np.linalg.norm(take[..., i("left_knee"), :] - take[..., i("left_hip"), :], axis=-1)
    thigh2 = np.linalg.norm(scaled[..., i("left_knee"), :] - scaled[..., i("left_hip"), :], axis=-1)
    np.testing.assert_allclose(thigh2, 1.1 * thigh, rtol=1e-5)
    np.testing.assert_allclose(scaled[..., 0, :], take[..., 0, :])  # the pelvis stays


def test_normalize_2d_is_translation_and_scale_free_except_the_pelvis_ray():
    rng = np.random.default_rng(5)
    kp = np.concatenate([rng.normal(size=(17, 2)), np.ones((17, 1))], axis=1)
    moved = kp.copy()
    moved[:, :2] = kp[:, :2] * 3 + 1
    a, b = normalize_2d(kp), normalize_2d(moved)
    np.testing.assert_allclose(a[1:], b[1:], atol=1e-5)
    np.testing.assert_allclose(b[0, :2], moved[0, :2], atol=1e-6)
