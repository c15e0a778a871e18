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


def sagittal_deg(v, up, fwd):
    return np.degrees(np.arctan2((v * fwd).sum(-1), -(v * up).sum(-1)))


def test_every_posture_and_jitter_stays_within_anatomical_limits_on_both_sides():
    rng = np.random.default_rng(4)
    c = clips(600)
    out = pose_aug.posture(rng, c, pose_aug.PostureModel(posture=1.0, jitter=1.0))
    lim = pose_aug.LIMITS_DEG
    h_lat, h_up, h_fwd = pose_aug.heading_frame(out)
    lateral, up, fwd = pose_aug.trunk_frame(out)
    trunk = out[:, :, IDX("thorax")] - out[:, :, IDX("pelvis")]
    pitch = np.degrees(np.arctan2((trunk * h_fwd).sum(-1), (trunk * h_up).sum(-1)))
    assert lim["trunk"][0] - 0.5 <= pitch.min() and pitch.max() <= lim["trunk"][1] + 0.5
    raised = {}
    for side, sign in (("left", 1), ("right", -1)):
        thigh = out[:, :, IDX(f"{side}_knee")] - out[:, :, IDX(f"{side}_hip")]
        hip = sagittal_deg(thigh, h_up, h_fwd)
        assert lim["hip"][0] - 0.5 <= hip.min() and hip.max() <= lim["hip"][1] + 0.5
        # a folded trunk never passes through the thighs
        assert (hip + pitch).max() <= lim["thigh_trunk"][1] + 0.5
        assert flexion(out, side).max() <= lim["knee"][1] + 0.5
        upper = out[:, :, IDX(f"{side}_elbow")] - out[:, :, IDX(f"{side}_shoulder")]
        fore = out[:, :, IDX(f"{side}_wrist")] - out[:, :, IDX(f"{side}_elbow")]
        cos = (upper * fore).sum(-1) / np.linalg.norm(upper, axis=-1) / np.linalg.norm(fore,
                                                                                        axis=-1)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() <= lim["elbow"][1] + 0.5
        out_of_plane = np.degrees(np.arcsin(sign * (upper * lateral).sum(-1)
                                            / np.linalg.norm(upper, axis=-1)))
        assert out_of_plane.min() >= lim["abduction"][0] - 0.5   # the walker's own arms: ~0
        raised[side] = np.percentile(sagittal_deg(upper, up, fwd).max(axis=1), 95)
    # the reach mode raises both arms alike (an abduction step once swung raised right arms down)
    assert raised["left"] > 120 and raised["right"] > 120
    assert abs(raised["left"] - raised["right"]) < 10


def test_variety_is_reproducible_from_the_seed():
    c, partners = clips(32), clips(32)[::-1].copy()

    def run(seed):
        rng = np.random.default_rng(seed)
        body = pose_aug.retarget(rng, c, pose_aug.BodyModel())
        hips = pose_aug.keypoint_definition(rng, body)
        return pose_aug.augment_pose(rng, hips, partners, pose_aug.PostureModel())

    np.testing.assert_array_equal(run(5), run(5))
    assert np.abs(run(5) - run(6)).max() > 0.05
