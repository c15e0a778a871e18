"""One Euro filter: constant signals pass, noise is reduced, steps are followed, time is stamps."""

from __future__ import annotations

import numpy as np
import pytest

from pose_ros.filters import OneEuroFilter, OneEuroParams, PoseFilters


def run(filt: OneEuroFilter, signal: np.ndarray, stamps_s: np.ndarray, scale=1.0) -> np.ndarray:
    return np.stack([filt(x, t, scale) for x, t in zip(signal, stamps_s, strict=True)])


def test_constant_signal_passes_unchanged():
    stamps = np.arange(100) / 30.0
    signal = np.broadcast_to(np.array([[120.5, 33.0], [7.0, -2.0]]), (100, 2, 2))
    out = run(OneEuroFilter(), signal, stamps, scale=200.0)
    np.testing.assert_allclose(out, signal, atol=1e-9)


def test_noise_is_reduced_per_joint():
    rng = np.random.default_rng(0)
    stamps = np.arange(300) / 30.0
    truth = np.zeros((300, 33, 2)) + rng.uniform(0, 500, (1, 33, 2))
    noisy = truth + rng.normal(0, 2.0, truth.shape)
    out = run(OneEuroFilter(), noisy, stamps, scale=300.0)
    err_in = np.sqrt(((noisy - truth)[50:] ** 2).mean())
    err_out = np.sqrt(((out - truth)[50:] ** 2).mean())
    assert err_out < 0.5 * err_in, (err_in, err_out)


def test_step_is_followed():
    """A person jumping by a body size: the estimate reaches the new value within ~0.3 s."""
    stamps = np.arange(60) / 30.0
    signal = np.where(np.arange(60) < 30, 0.0, 300.0)[:, None]
    out = run(OneEuroFilter(), signal, stamps, scale=300.0)[:, 0]
    assert out[29] == 0.0
    assert 0 < out[30] < 300
    assert abs(out[39] - 300.0) < 3.0, out[30:40]
    assert np.all(np.diff(out) >= 0)            # no overshoot, no ringing


def test_time_comes_from_stamps_not_frame_count():
    """Same signal at 15 fps and 30 fps: after 1 s of moving both have lagged about equally."""
    params = OneEuroParams(min_cutoff_hz=1.0, beta=0.0)
    ramp = lambda t: 100.0 * t  # noqa: E731
    t30 = np.arange(31) / 30.0
    t15 = np.arange(16) / 15.0
    out30 = run(OneEuroFilter(params), ramp(t30)[:, None], t30)[-1, 0]
    out15 = run(OneEuroFilter(params), ramp(t15)[:, None], t15)[-1, 0]
    assert abs(out30 - out15) < 0.1 * (100.0 - out30)
    # A fixed per-frame alpha would make the 15 fps run lag far more; check the lag is real.
    assert 100.0 - out30 > 5.0


def test_duplicate_and_backward_stamps():
    f = OneEuroFilter()
    f(np.array([1.0]), 0.0)
    a = f(np.array([2.0]), 0.1)
    np.testing.assert_array_equal(f(np.array([50.0]), 0.1), a)     # duplicate stamp
    np.testing.assert_array_equal(f(np.array([7.0]), 0.05), [7.0])  # went back: restart


def test_nan_keeps_previous_estimate():
    f = OneEuroFilter()
    f(np.array([1.0, 1.0]), 0.0)
    out = f(np.array([np.nan, 1.0]), 0.1)
    np.testing.assert_array_equal(out, [1.0, 1.0])


def test_pose_filters_keep_scores():
    pf = PoseFilters(OneEuroParams())
    kps = np.array([[10.0, 20.0, 0.9], [30.0, 40.0, 0.2]], np.float32)
    pf.smooth_2d(kps, 0.0, 100.0)
    out = pf.smooth_2d(kps + np.array([0, 0, 0.5], np.float32), 0.1, 100.0)
    np.testing.assert_allclose(out[:, 2], kps[:, 2] + 0.5)
    np.testing.assert_allclose(out[:, :2], kps[:, :2])
    k3 = np.array([[0.1, 0.2, 3.0, 1.0]], np.float32)
    assert pf.smooth_3d(k3, 0.0).shape == (1, 4)


def test_bad_params():
    with pytest.raises(ValueError):
        OneEuroParams(min_cutoff_hz=0.0)
