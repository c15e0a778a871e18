"""Pairs colour images with aligned depth images by stamp, and says why when they do not pair.

The node's depth input. message_filters' ApproximateTimeSynchronizer drops an image that finds
no partner without a word (depth 5 s late: nothing published, nothing logged), so the node
pairs here instead: each colour image waits until a depth image stamped at or after it has
arrived (or `wait_s` has passed), then takes the depth nearest in stamp within `slop_s`. An
image that finds none goes on without depth (placed monocularly), with the reason: no depth
received yet, or the nearest depth's stamp distance. Only the newest few images wait: the node
processes the latest frame anyway.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_WAITING_IMAGES = 5
MAX_KEPT_DEPTHS = 10


@dataclass(frozen=True)
class Pair:
    image: Any            # the colour message
    image_stamp_ns: int
    depth: Any | None     # the depth message, or None
    why_unpaired: str | None = None


@dataclass
class _Waiting:
    image: Any
    stamp_ns: int
    since_s: float


class DepthPairer:
    """Colour + depth messages in (with their header stamps), pairs out; thread-safe."""

    def __init__(self, *, slop_s: float, wait_s: float = 0.2,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.slop_ns = int(slop_s * 1e9)
        self.wait_s = wait_s
        self._clock = clock
        self._lock = threading.Lock()
        self._images: deque[_Waiting] = deque()
        self._depths: deque[tuple[int, Any]] = deque(maxlen=MAX_KEPT_DEPTHS)
        self.paired = 0
        self.unpaired = 0
        self.superseded = 0   # images that a newer paired image made stale
        self.last_reason: str | None = None

    def add_image(self, image: Any, stamp_ns: int) -> list[Pair]:
        with self._lock:
            self._images.append(_Waiting(image, int(stamp_ns), self._clock()))
            while len(self._images) > MAX_WAITING_IMAGES:
                self._images.popleft()
                self.superseded += 1
            return self._release()

    def add_depth(self, depth: Any, stamp_ns: int) -> list[Pair]:
        with self._lock:
            self._depths.append((int(stamp_ns), depth))
            return self._release()

    def poll(self) -> list[Pair]:
        """Pairs whose wait ran out (call periodically)."""
        with self._lock:
            return self._release()

    def _release(self) -> list[Pair]:
        """The newest image that is ready, paired or not; older waiting images are stale."""
        now = self._clock()
        newest_depth = max((s for s, _ in self._depths), default=None)
        ready = [i for i, w in enumerate(self._images)
                 if (newest_depth is not None and newest_depth >= w.stamp_ns)
                 or now - w.since_s >= self.wait_s]
        if not ready:
            return []
        index = ready[-1]
        waiting = self._images[index]
        for _ in range(index + 1):
            self._images.popleft()
        self.superseded += index
        return [self._pair(waiting)]

    def _pair(self, waiting: _Waiting) -> Pair:
        if not self._depths:
            self.unpaired += 1
            self.last_reason = "no depth image received yet"
            return Pair(waiting.image, waiting.stamp_ns, None, self.last_reason)
        stamp, depth = min(self._depths, key=lambda d: abs(d[0] - waiting.stamp_ns))
        gap_ns = abs(stamp - waiting.stamp_ns)
        if gap_ns > self.slop_ns:
            self.unpaired += 1
            self.last_reason = (f"no depth within {self.slop_ns * 1e-9:.3f} s of the image stamp "
                                f"(nearest {gap_ns * 1e-9:.3f} s away): check that depth and "
                                f"colour come from one camera and clock, or raise "
                                f"depth_sync_slop_s")
            return Pair(waiting.image, waiting.stamp_ns, None, self.last_reason)
        self.paired += 1
        return Pair(waiting.image, waiting.stamp_ns, depth)
