"""The causal temporal lifter: shapes, causality, streaming, and the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pose_ros.camera import CameraIntrinsics
from pose_ros.eval.lifter_eval import evaluate
from pose_ros.models.lifter import Lifter, TemporalLifter, normalize_2d


@pytest.mark.parametrize("rf", [1, 9, 27, 81])
def test_shapes_and_receptive_field(rf):
    model = TemporalLifter(rf, channels=32).eval()
    out = model(torch.randn(2, rf + 4, 17, 3))
    assert out.shape == (2, 5, 17, 3)
    with pytest.raises(AssertionError):
        model(torch.randn(2, rf - 1, 17, 3)) if rf > 1 else model(torch.randn(2, 1, 16, 3))


def test_default_model_is_small():
    assert sum(p.numel() for p in TemporalLifter(27, 256).parameters()) < 5_000_000


def test_output_is_causal():
    torch.manual_seed(0)
    model = TemporalLifter(27, channels=32).eval()
    x = torch.randn(1, 40, 17, 3)
    y = x.clone()
    y[:, 30:] += torch.randn_like(y[:, 30:])  # change the future of frame 29
    with torch.no_grad():
        a, b = model(x), model(y)
    # output k covers input frames k .. k + 26; outputs ending before frame 30 are unchanged
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


@pytest.mark.parametrize("rf", [1, 9, 27])
def test_streaming_equals_the_windowed_output(rf):
    torch.manual_seed(1)
    lifter = Lifter(TemporalLifter(rf, channels=32))
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in lifter.model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    rng = np.random.default_rng(0)
    frames = normalize_2d(rng.normal(size=(20, 3, 17, 3)).astype(np.float32))
    streams = [lifter.stream() for _ in range(3)]
    # track 2 starts 5 frames late: tracks of one batch are at different points of their history
    streamed = [lifter.step(streams[:2], frames[t, :2]) for t in range(5)]
    streamed += [lifter.step(streams, frames[t]) for t in range(5, 20)]
    for track, start in ((0, 0), (1, 0)):
        seq = frames[start:, track]
        padded = np.concatenate([np.repeat(seq[:1], rf - 1, axis=0), seq])
        windows = np.stack([padded[t:t + rf] for t in range(len(seq))])
        expected = lifter.lift(windows)
        got = np.stack([streamed[t][track] for t in range(len(seq))])
        np.testing.assert_allclose(got, expected, atol=1e-5)
    late = frames[5:, 2]
    padded = np.concatenate([np.repeat(late[:1], rf - 1, axis=0), late])
    expected = lifter.lift(np.stack([padded[t:t + rf] for t in range(len(late))]))
    np.testing.assert_allclose(np.stack([streamed[t][2] for t in range(5, 20)]), expected,
                               atol=1e-5)


def test_normalization_ignores_image_size_and_focal_length():
    rng = np.random.default_rng(2)
    pts = rng.normal(0, 0.3, (17, 3)) + [0.2, 0.1, 4.0]
    inputs = []
    for k in (CameraIntrinsics.guess(640, 480, 60), CameraIntrinsics.guess(1920, 1080, 90)):
        kp = np.column_stack([k.project(pts), np.ones(17)])
        inputs.append(Lifter.normalize(kp, k))
    np.testing.assert_allclose(inputs[0], inputs[1], atol=1e-5)


def test_shipped_weights_beat_the_mean_pose_on_a_synthetic_walk(walk_take):
    # The procedural walk is not mocap (its proportions and gait differ from CMU's), so this
    # only checks that the shipped file loads and lifts a walking body far better than the
    # best constant guess; the held-out CMU test below checks the recorded accuracy.
    lifter = Lifter.load()
    assert lifter.receptive_field == 27 and len(lifter.digest) == 64
    results = evaluate(lifter, [walk_take], clips=64)
    for name in ("clean", "noisy"):
        r = results[name]
        assert r["mpjpe_mm"] < 0.8 * r["mean_pose_mpjpe_mm"], (name, r)
        assert r["pmpjpe_mm"] < 0.5 * r["mean_pose_mpjpe_mm"], (name, r)


def test_shipped_weights_match_their_recorded_accuracy_on_held_out_cmu_subjects():
    from pathlib import Path

    from pose_ros.train.train_lifter import load_takes

    root = Path(__file__).resolve().parents[2] / "shared" / "data" / "mocap" / "cmu"
    if not root.is_dir():
        pytest.skip("../shared/data/mocap/cmu is absent")
    lifter = Lifter.load()
    recorded = lifter.metadata["best"]["val_mpjpe_mm"]
    takes = [t for _, t in load_takes(root, set(lifter.metadata["validation_subjects"]),
                                      progress=False)]
    noisy = evaluate(lifter, takes, clips=256)["noisy"]
    # Another random draw of clips and noise than training's validation set: within 25 %.
    assert noisy["mpjpe_mm"] < 1.25 * recorded, (recorded, noisy)
    assert noisy["mpjpe_mm"] < 0.5 * noisy["mean_pose_mpjpe_mm"], noisy


def test_corrupt_weights_give_a_clear_error(tmp_path):
    from pose_ros.errors import PoseRosError

    bad = tmp_path / "lifter.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(PoseRosError, match="cannot load lifter weights"):
        Lifter.load(bad)
    with pytest.raises(PoseRosError, match="train-lifter"):
        Lifter.load(None, receptive_field=81)
