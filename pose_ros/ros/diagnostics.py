"""Health figures for /diagnostics: output rate, image-stamp-to-publish latency, dropped frames.

Computed here from plain numbers so CI tests them; the node only feeds in events and publishes
the DiagnosticArray built by `diagnostic_array_msg` (through the same message factory as the
skeleton messages).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from pose_ros.ros.messages import MessageFactory, header_msg

OK, WARN, ERROR = 0, 1, 2  # diagnostic_msgs/DiagnosticStatus levels


@dataclass(frozen=True)
class HealthSummary:
    level: int
    message: str
    values: dict[str, str]


class HealthMonitor:
    """Keeps the last `window_s` seconds of published frames (wall-clock times) and the run of
    failing frames since the last good one."""

    def __init__(self, *, window_s: float = 5.0, max_latency_s: float = 0.5,
                 error_after_s: float = 5.0) -> None:
        self.window_s = window_s
        self.max_latency_s = max_latency_s
        self.error_after_s = error_after_s
        self._events: deque[tuple[float, float, int]] = deque()  # (publish time, latency, people)
        self.frames = 0
        self.errors = 0
        self._failing_since_s: float | None = None   # first failure after the last success
        self._last_error = ""

    def record(self, publish_time_s: float, latency_s: float, people: int) -> None:
        self._events.append((publish_time_s, latency_s, people))
        self.frames += 1
        self._failing_since_s = None
        self._trim(publish_time_s)

    def record_error(self, now_s: float | None = None, message: str = "") -> None:
        """A frame that failed; `now_s` (monotonic) times the run of failures."""
        self.errors += 1
        self._last_error = message or self._last_error
        if self._failing_since_s is None and now_s is not None:
            self._failing_since_s = now_s

    def _trim(self, now_s: float) -> None:
        while self._events and self._events[0][0] < now_s - self.window_s:
            self._events.popleft()

    def summary(self, now_s: float, *, received: int, dropped: int,
                info: dict[str, str] | None = None,
                conditions: list[str] | None = None) -> HealthSummary:
        """Figures over the window. ERROR: every frame failed for error_after_s. WARN: images
        arrive but nothing is published, latency is high, or an input condition holds (no
        intrinsics, unpaired depth, bad stamps: `conditions`)."""
        self._trim(now_s)
        values = dict(info or {})
        values.update(frames_published=str(self.frames), frames_received=str(received),
                      frames_dropped=str(dropped), pipeline_errors=str(self.errors))
        conditions = list(conditions or [])
        if self._last_error:
            values["last_error"] = self._last_error
        if self._failing_since_s is not None:
            failing = (f"every frame failed for {now_s - self._failing_since_s:.0f} s: "
                       f"{self._last_error}")
            if now_s - self._failing_since_s >= self.error_after_s:
                return HealthSummary(ERROR, failing, values)
            conditions.insert(0, failing)
        if not self._events:
            values.update(rate_hz="0.0")
            if received == 0:
                return HealthSummary(WARN if conditions else OK,
                                     "; ".join(["waiting for images", *conditions]), values)
            return HealthSummary(WARN, "; ".join([f"no output in the last {self.window_s:.0f} s",
                                                  *conditions]), values)
        times, latencies, people = (np.array(v) for v in zip(*self._events))
        span_s = max(now_s - times[0], 1e-6) if len(times) > 1 else self.window_s
        p50, p95 = np.percentile(latencies, [50, 95])
        values.update(rate_hz=f"{(len(times) - 1) / span_s if len(times) > 1 else 0.0:.2f}",
                      latency_p50_ms=f"{p50 * 1e3:.1f}", latency_p95_ms=f"{p95 * 1e3:.1f}",
                      people_mean=f"{people.mean():.2f}")
        if p50 > self.max_latency_s:
            conditions.insert(0, f"latency p50 {p50 * 1e3:.0f} ms exceeds "
                                 f"{self.max_latency_s * 1e3:.0f} ms")
        if conditions:
            return HealthSummary(WARN, "; ".join(conditions), values)
        return HealthSummary(OK, "running", values)


def diagnostic_array_msg(factory: MessageFactory, stamp_ns: int, name: str, hardware_id: str,
                         summary: HealthSummary) -> Any:
    status = factory(
        "diagnostic_msgs/msg/DiagnosticStatus",
        level=bytes([summary.level]) if _level_is_bytes(factory) else summary.level,
        name=name, message=summary.message, hardware_id=hardware_id,
        values=[factory("diagnostic_msgs/msg/KeyValue", key=k, value=v)
                for k, v in summary.values.items()],
    )
    return factory("diagnostic_msgs/msg/DiagnosticArray", header=header_msg(factory, stamp_ns, ""),
                   status=[status])


def _level_is_bytes(factory: MessageFactory) -> bool:
    """rclpy maps the `byte` field type to a 1-byte bytes object; rosbags to an int."""
    return isinstance(factory("diagnostic_msgs/msg/DiagnosticStatus").level, bytes)
