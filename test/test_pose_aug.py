"""Training variety: bodies, BlazePose-like hips, postures within limits, mixed motions."""

from __future__ import annotations

import numpy as np
from conftest import walker

from pose_ros.skeleton import H36M17
from pose_ros.train import pose_aug

IDX = H36M17.index


def clips(n: int = 64, frames: int = 20) -> np.ndarray:
    take = walker(120).astype(np.float64)
    starts = np.random.default_rng(0).integers(0, 100, n)
    return np.stack([take[s:s + frames] for s in starts])


def length(j, a, b):
    return np.linalg.norm(j[..., IDX(a), :] - j[..., IDX(b), :], axis=-1)


def test_retarget_sets_bone_lengths_per_clip_and_keeps_directions():
    rng = np.random.default_rng(1)
    c = clips()
    body = pose_aug.BodyModel(keep_own=0.0)
    out = pose_aug.retarget(rng, c, body)
    thigh = length(out, "left_hip", "left_knee")
    assert np.allclose(thigh, thigh[:, :1], atol=1e-9)          # constant within a clip
    assert thigh[:, 0].std() > 0.01                             # varied across clips
    ratio = length(out, "pelvis", "thorax") / thigh
    assert ratio.min() >= 0.92 * 0.96 and ratio.max() <= 1.35 / 0.96
    before = c[:, :, IDX("left_knee")] - c[:, :, IDX("left_hip")]
    after = out[:, :, IDX("left_knee")] - out[:, :, IDX("left_hip")]
    cos = (before * after).sum(-1) / np.linalg.norm(before, axis=-1) / np.linalg.norm(after,
                                                                                     axis=-1)
    np.testing.assert_allclose(cos, 1, atol=1e-9)
    np.testing.assert_allclose(out[:, :, IDX("spine")],
                               (out[:, :, IDX("pelvis")] + out[:, :, IDX("thorax")]) / 2)


def test_keypoint_definition_lowers_the_hips():
    rng = np.random.default_rng(2)
    c = clips()
    out = pose_aug.keypoint_definition(rng, c, hip_drop_m=0.05)
    drop = c[:, :, IDX("left_hip"), 1] - out[:, :, IDX("left_hip"), 1]
    assert drop.min() >= -1e-9 and drop.max() <= 0.065 + 1e-9 and drop.mean() > 0.02
    np.testing.assert_allclose(out[:, :, IDX("pelvis")],
                               (out[:, :, IDX("left_hip")] + out[:, :, IDX("right_hip")]) / 2)


def flexion(j, side):
    thigh = j[:, :, IDX(f"{side}_knee")] - j[:, :, IDX(f"{side}_hip")]
    shin = j[:, :, IDX(f"{side}_ankle")] - j[:, :, IDX(f"{side}_knee")]
    cos = (thigh * shin).sum(-1) / np.linalg.norm(thigh, axis=-1) / np.linalg.norm(shin, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_postures_sit_crouch_and_bend_within_limits_and_keep_bones():
    rng = np.random.default_rng(3)
    c = clips(400)
    out = pose_aug.posture(rng, c, pose_aug.PostureModel(posture=1.0, jitter=0.0))
    for a, b in (("left_hip", "left_knee"), ("left_knee", "left_ankle"),
                 ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
                 ("pelvis", "thorax")):
        np.testing.assert_allclose(length(out, a, b), length(c, a, b), atol=1e-9)
    knee = flexion(out, "left")
    assert knee.max() <= 150.5 and np.percentile(knee, 90) > 60   # kneeling / sitting knees
    trunk = out[:, :, IDX("thorax")] - out[:, :, IDX("pelvis")]
    lean = np.degrees(np.arccos(trunk[..., 1] / np.linalg.norm(trunk, axis=-1)))
    assert lean.max() > 45                                       # bending forward
    thigh = out[:, :, IDX("left_knee")] - out[:, :, IDX("left_hip")]
    level = np.abs(thigh[..., 1]) / np.linalg.norm(thigh, axis=-1) < 0.5
    assert level.mean() > 0.1                                    # thighs near horizontal: sitting
    np.testing.assert_allclose(out[:, :, IDX("pelvis")], c[:, :, IDX("pelvis")])


def test_mixing_puts_one_upper_body_on_another_pelvis():
    a, b = clips(8), clips(8)[::-1].copy()
    b[..., 0] += 3.0
    out = pose_aug.mix_upper_lower(a, b)
    np.testing.assert_allclose(out[:, :, IDX("left_knee")], b[:, :, IDX("left_knee")])
    np.testing.assert_allclose(length(out, "pelvis", "head"), length(a, "pelvis", "head"),
                               atol=1e-9)
    assert np.abs(out[:, :, IDX("head"), 0] - b[:, :, IDX("pelvis"), 0]).max() < 0.5
