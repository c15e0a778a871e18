"""Cues over time: debounced start/stop, lateral swing reversals (waving), speed from a window.

Each is a small per-person, per-cue state machine fed once per frame with the frame's stamp, so
irregular frame rates and dropped frames are handled by time, not by frame counts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Debouncer:
    """A cue's level in [0, 1] -> active state and start/stop events.

    Starts after the level stays >= on_level for on_s seconds; stops after it stays below
    off_level for off_s seconds (hysteresis: brief dips and flickers are ignored). `confidence`
    is the mean level while active, the latest level otherwise.
    """

    on_s: float
    off_s: float
    on_level: float = 0.5
    off_level: float = 0.3
    active: bool = False
    confidence: float = 0.0
    _since: float | None = None
    _levels: list[float] = field(default_factory=list)

    def update(self, stamp_s: float, level: float) -> str | None:
        """Feed one frame; returns "start", "stop" or None."""
        crossing = level < self.off_level if self.active else level >= self.on_level
        if not crossing:
            self._since = None
            if self.active:
                self._levels = (self._levels + [level])[-30:]
                self.confidence = float(np.mean(self._levels))
            else:
                self.confidence = level
            return None
        if self._since is None:
            self._since = stamp_s
        if stamp_s - self._since < (self.off_s if self.active else self.on_s) - 1e-9:
            return None
        self.active, self._since = not self.active, None
        self._levels = [level] if self.active else []
        self.confidence = level
        return "start" if self.active else "stop"


@dataclass
class SwingCounter:
    """Direction reversals of a 1D signal with hysteresis: an extreme counts once the signal has
    come back from it by `min_swing` (noise smaller than that never counts).

    `rate_ok(now)` says whether the last reversals (at least `min_reversals` within `window_s`)
    are spaced like a swing of `min_hz`..`max_hz` (half a period between reversals).
    """

    min_swing: float
    min_hz: float = 1.0
    max_hz: float = 4.0
    window_s: float = 1.6
    min_reversals: int = 2
    _direction: int = 0
    _peak: tuple[float, float] | None = None
    _low: tuple[float, float] | None = None
    _high: tuple[float, float] | None = None
    reversals: deque = field(default_factory=lambda: deque(maxlen=16))
    _recent: deque = field(default_factory=lambda: deque(maxlen=3))

    def reset(self) -> None:
        self._direction, self._peak, self._low, self._high = 0, None, None, None
        self.reversals.clear()
        self._recent.clear()

    def update(self, stamp_s: float, value: float) -> None:
        self._recent.append(value)      # mean of 3 frames: keypoint jitter must not swing
        value = float(np.mean(self._recent))
        sample = (stamp_s, value)
        if self._direction == 0:   # before the first movement of min_swing: find its direction
            self._low = sample if self._low is None or value < self._low[1] else self._low
            self._high = sample if self._high is None or value > self._high[1] else self._high
            if value - self._low[1] >= self.min_swing:
                self._direction, self._peak = 1, sample
            elif self._high[1] - value >= self.min_swing:
                self._direction, self._peak = -1, sample
            return
        if (value - self._peak[1]) * self._direction > 0:
            self._peak = sample                       # still going: a new extreme
        elif abs(self._peak[1] - value) >= self.min_swing:
            self.reversals.append(self._peak[0])      # came back far enough: it was a reversal
            self._direction, self._peak = -self._direction, sample

    def rate_ok(self, now_s: float) -> bool:
        recent = [t for t in self.reversals if now_s - t <= self.window_s]
        if len(recent) < self.min_reversals:
            return False
        gaps = np.diff(recent[-self.min_reversals:] + [now_s])[:-1] if self.min_reversals > 1 \
            else np.array([])
        half_min, half_max = 0.5 / self.max_hz, 0.5 / self.min_hz
        return bool(np.all((gaps >= half_min) & (gaps <= half_max))
                    and now_s - recent[-1] <= half_max * 1.5)


@dataclass
class RateEstimator:
    """d(value)/dt by a least-squares line over the last `window_s` seconds of samples; value a
    number or an array (then the rate of each element). None until half a window is seen."""

    window_s: float = 0.6
    samples: deque = field(default_factory=lambda: deque(maxlen=120))

    def update(self, stamp_s: float, value) -> float | np.ndarray | None:
        if value is None or not np.all(np.isfinite(value)):
            self.samples.clear()
            return None
        self.samples.append((stamp_s, np.asarray(value, dtype=np.float64)))
        while self.samples and stamp_s - self.samples[0][0] > self.window_s + 1e-9:
            self.samples.popleft()
        if len(self.samples) < 3 or stamp_s - self.samples[0][0] < self.window_s / 2 - 1e-9:
            return None
        t = np.array([s[0] for s in self.samples]) - stamp_s
        v = np.stack([s[1] for s in self.samples]).reshape(len(t), -1)
        t = t - t.mean()
        slope = t @ (v - v.mean(axis=0)) / (t @ t)
        return float(slope[0]) if np.ndim(value) == 0 else slope.reshape(np.shape(value))
