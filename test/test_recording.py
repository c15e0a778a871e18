"""rosbag2 MCAP recordings that survive a kill: BagRecorder, salvage and recover_bag."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from pose_ros.errors import PoseRosError
from pose_ros.io.recording import BagRecorder, recover_bag, salvage_mcap
from pose_ros.ros.msgdefs import typestore

TS = typestore()
T0 = 1_700_000_000_000_000_000


def image(i: int):
    return TS.types["sensor_msgs/msg/CompressedImage"](
        header=TS.types["std_msgs/msg/Header"](
            stamp=TS.types["builtin_interfaces/msg/Time"](sec=1_700_000_000 + i, nanosec=0),
            frame_id="cam"),
        format="jpeg", data=np.full(3000, i % 256, np.uint8))


def record(folder, count: int, flush_every_s: float = 0.0):
    recorder = BagRecorder(folder, flush_every_s=flush_every_s)
    topic = recorder.add_typestore_topic("/img/compressed", "sensor_msgs/msg/CompressedImage",
                                         TS)
    for i in range(count):
        msg = image(i)
        recorder.write(topic, T0 + i * 10**9, bytes(TS.serialize_cdr(msg, msg.__msgtype__)))
    return recorder


def read(folder) -> list[int]:
    with AnyReader([folder], default_typestore=TS) as reader:
        return [reader.deserialize(raw, c.msgtype).header.stamp.sec - 1_700_000_000
                for c, _, raw in reader.messages()]


def test_finished_recording_reads_with_rosbags_and_says_its_counts(tmp_path):
    record(tmp_path / "bag", 20).close()
    assert read(tmp_path / "bag") == list(range(20))
    meta = (tmp_path / "bag" / "metadata.yaml").read_text()
    assert "message_count: 20" in meta and "storage_identifier: mcap" in meta
    assert "type: sensor_msgs/msg/CompressedImage" in meta
    assert recover_bag(tmp_path / "bag").was_complete


def test_metadata_is_written_at_the_start(tmp_path):
    recorder = record(tmp_path / "bag", 0)
    assert "/img/compressed" in (tmp_path / "bag" / "metadata.yaml").read_text()
    recorder.close()


def test_killed_recording_keeps_every_flushed_message(tmp_path):
    """A kill leaves the file as the writer left it at the last flush plus a part of a chunk:
    every cut point between the last flush and the end must give all flushed messages."""
    recorder = record(tmp_path / "bag", 30)        # flushed after every message
    recorder._file.flush()
    data = (tmp_path / "bag" / "bag.mcap").read_bytes()
    rng = np.random.default_rng(0)
    for cut in sorted(rng.integers(0, len(data), 12)) + [len(data)]:
        case = tmp_path / f"cut_{cut}"
        shutil.copytree(tmp_path / "bag", case)
        (case / "bag.mcap").write_bytes(data[:cut])
        found = salvage_mcap(case / "bag.mcap")
        assert not found.complete
        result = recover_bag(case)
        got = read(case)
        assert got == list(range(len(got))) and result.messages == len(got)
        # every message whose chunk ends before the cut survives
        assert len(got) >= max(0, round(30 * cut / len(data)) - 2), (cut, len(got))
    recorder.close()


def test_recover_needs_one_mcap(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PoseRosError, match="expected one .mcap file"):
        recover_bag(tmp_path / "empty")
