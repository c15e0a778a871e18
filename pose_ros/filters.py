"""One Euro filter (Casiez et al., CHI 2012), vectorized over joints and coordinates.

Keypoints jitter by a pixel or two when a person stands still and move fast when they move. A
fixed low-pass filter either leaves the jitter or lags behind motion; the One Euro filter lowers
its cutoff when the signal is slow and raises it with speed, so it does both.

Time comes from the frame stamps, not the frame count, so dropped frames and variable frame rates
do not change how much a person is smoothed.

Speeds are divided by a `scale` before they raise the cutoff (as MediaPipe does with the person's
size): with scale = the person's size in pixels, `beta` is per body-size-per-second, and the same
parameters suit a person near the camera and far from it, and pixels as well as metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """One Euro parameters.

    Attributes:
        min_cutoff_hz: cutoff at rest; lower = smoother when still, more lag on slow drifts.
        beta: how fast the cutoff grows with speed (per scale unit per second); higher = less
            lag when moving.
        d_cutoff_hz: cutoff of the low-pass on the speed estimate itself.
    """

    min_cutoff_hz: float = 1.0
    beta: float = 10.0
    d_cutoff_hz: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff_hz <= 0 or self.d_cutoff_hz <= 0 or self.beta < 0:
            raise ValueError(
                f"One Euro parameters need min_cutoff_hz > 0, d_cutoff_hz > 0 and beta >= 0, "
                f"got {self}")


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    """Smoothing factor of an exponential low-pass with this cutoff for a step of dt_s."""
    tau_s = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau_s / dt_s)


class OneEuroFilter:
    """One Euro filter over an array of any fixed shape (e.g. (K, 2) keypoints).

    Every element is filtered independently with its own adaptive cutoff, in one numpy
    expression per call. NaN inputs leave that element's state unchanged (the previous estimate
    is returned for it), so a missing joint does not poison the filter.
    """

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t_s: float | None = None

    def __call__(self, x: np.ndarray, t_s: float, scale: float = 1.0) -> np.ndarray:
        """Filter one sample taken at time t_s (seconds); returns the estimate (float64 copy).

        A sample with the same stamp as the previous one returns the previous estimate (a
        duplicate frame carries no time); a stamp earlier than the previous one (a bag looping,
        a clock reset) or a change of shape restarts the filter.
        """
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t_s is None or x.shape != self._x.shape or t_s < self._t_s:
            self._x = np.where(np.isfinite(x), x, 0.0)
            self._dx = np.zeros_like(self._x)
            self._t_s = float(t_s)
            return x.copy()
        dt_s = float(t_s) - self._t_s
        if dt_s == 0.0:
            return self._x.copy()
        p = self.params
        valid = np.isfinite(x)
        x_in = np.where(valid, x, self._x)
        dx = (x_in - self._x) / dt_s
        dx_hat = self._dx + _alpha(p.d_cutoff_hz, dt_s) * (dx - self._dx)
        cutoff_hz = p.min_cutoff_hz + p.beta * np.abs(dx_hat) / max(scale, 1e-9)
        x_hat = self._x + _alpha(cutoff_hz, dt_s) * (x_in - self._x)
        self._x = x_hat
        self._dx = np.where(valid, dx_hat, self._dx)
        self._t_s = float(t_s)
        return x_hat.copy()


@dataclass
class PoseFilters:
    """The filters one track carries: 2D keypoint positions and 3D camera-frame positions.

    Scores are not filtered: they say how much to trust each joint now.
    """

    params: OneEuroParams

    def __post_init__(self) -> None:
        self.xy = OneEuroFilter(self.params)
        self.xyz = OneEuroFilter(self.params)

    def smooth_2d(self, keypoints_2d: np.ndarray, t_s: float, scale_px: float) -> np.ndarray:
        """(K, 3) x_px, y_px, score -> the same with smoothed x, y."""
        out = np.array(keypoints_2d, dtype=np.float32, copy=True)
        out[:, :2] = self.xy(keypoints_2d[:, :2], t_s, scale=scale_px)
        return out

    def smooth_3d(self, keypoints_3d: np.ndarray, t_s: float, scale_m: float = 1.0) -> np.ndarray:
        """(K, 4) x, y, z metres, score -> the same with smoothed positions."""
        out = np.array(keypoints_3d, dtype=np.float32, copy=True)
        out[:, :3] = self.xyz(keypoints_3d[:, :3], t_s, scale=scale_m)
        return out
