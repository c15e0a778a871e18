import pytest

from pose_ros.ros.diagnostics import ERROR, OK, WARN, HealthMonitor, diagnostic_array_msg
from pose_ros.ros.messages import RosbagsFactory
from pose_ros.ros.msgdefs import typestore


def test_rate_latency_and_counts():
    mon = HealthMonitor(window_s=5.0)
    for i in range(11):  # 10 Hz for one second, 40 ms latency, 2 people
        mon.record(100.0 + 0.1 * i, 0.040, 2)
    s = mon.summary(101.0, received=20, dropped=9, info={"device": "cpu"})
    assert s.level == OK
    assert float(s.values["rate_hz"]) == pytest.approx(10.0, rel=1e-6)
    assert float(s.values["latency_p50_ms"]) == pytest.approx(40.0)
    assert s.values["frames_dropped"] == "9" and s.values["frames_received"] == "20"
    assert s.values["device"] == "cpu" and s.values["people_mean"] == "2.00"


def test_old_events_leave_the_window_and_silence_warns():
    mon = HealthMonitor(window_s=2.0)
    mon.record(10.0, 0.01, 1)
    assert mon.summary(10.5, received=1, dropped=0).level == OK
    late = mon.summary(20.0, received=5, dropped=0)
    assert late.level == WARN and "no output" in late.message
    assert mon.summary(20.0, received=0, dropped=0).level == OK  # nothing to process yet


def test_high_latency_warns():
    mon = HealthMonitor(max_latency_s=0.2)
    for i in range(5):
        mon.record(1.0 + i * 0.1, 0.5, 1)
    s = mon.summary(1.5, received=5, dropped=0)
    assert s.level == WARN and "latency" in s.message


def test_diagnostic_array_serializes():
    ts = typestore()
    mon = HealthMonitor()
    mon.record(1.0, 0.02, 1)
    msg = diagnostic_array_msg(RosbagsFactory(ts), 1_500_000_000, "pose_ros: pose_node", "cpu",
                               mon.summary(1.0, received=1, dropped=0))
    t = "diagnostic_msgs/msg/DiagnosticArray"
    back = ts.deserialize_cdr(ts.serialize_cdr(msg, t), t)
    status = back.status[0]
    assert status.name == "pose_ros: pose_node" and status.level == OK
    assert {kv.key for kv in status.values} >= {"rate_hz", "frames_dropped", "latency_p95_ms"}


def test_failing_frames_turn_error_after_the_set_time_and_recover():
    mon = HealthMonitor(error_after_s=5.0)
    mon.record(0.0, 0.02, 1)
    for t in (1.0, 2.0, 4.0):
        mon.record_error(t, "corrupt bgr8 image: 640x480 needs step >= 1920")
    s = mon.summary(4.2, received=10, dropped=0)
    assert s.level == WARN and "every frame failed for 3 s" in s.message
    s = mon.summary(6.5, received=10, dropped=0)
    assert s.level == ERROR and "every frame failed for 6 s" in s.message
    assert "step >= 1920" in s.message and s.values["pipeline_errors"] == "3"
    mon.record(7.0, 0.02, 1)                                  # a good frame clears it
    assert mon.summary(7.1, received=11, dropped=0).level == OK


def test_input_conditions_warn_with_their_reason():
    mon = HealthMonitor()
    mon.record(1.0, 0.02, 1)
    s = mon.summary(1.1, received=1, dropped=0,
                    conditions=["no depth within 0.050 s of the image stamp (nearest 5.000 s)"])
    assert s.level == WARN and "nearest 5.000 s" in s.message
    quiet = mon.summary(1.1, received=0, dropped=0, conditions=["no camera_info"])
    assert quiet.level == WARN and "no camera_info" in quiet.message
