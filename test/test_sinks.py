"""Sinks and drawing: JSONL schema, annotated.mp4 frames, rosbag2 MCAP read-back, no overwrite."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from pose_ros.draw import draw_people, label_text
from pose_ros.errors import PoseRosError
from pose_ros.io.image_codec import decode_bgr
from pose_ros.io.sinks import (
    POSES_JSONL_SCHEMA,
    TOPIC_CUES,
    TOPIC_IMAGE,
    TOPIC_IMAGE_COMPRESSED,
    TOPIC_MARKERS,
    TOPIC_SKELETONS,
    Sinks,
    frame_record,
    output_paths,
    prepare_outputs,
    skipped_record,
)
from pose_ros.io.sources import BadFrame
from pose_ros.io.video import count_frames
from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.ros.msgdefs import typestore
from pose_ros.skeleton import COCO17

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) validates JSONL")
T0 = 1_700_000_000_000_000_000


def people_at(frame_index: int) -> list[Person]:
    rng = np.random.default_rng(frame_index)
    k = COCO17.num_keypoints
    out = []
    for i, source in enumerate((DepthSource.MONOCULAR, DepthSource.NONE)):
        xy = rng.uniform(20, 140, (k, 2)) + [i * 150, 0]
        kp2d = np.column_stack([xy, rng.uniform(0.5, 1, k)])
        three_d = source != DepthSource.NONE
        root = np.array([0.2 * i, 0.1, 3.0]) if three_d else None
        kp3d = np.column_stack([rng.normal(0, 0.3, (k, 3)) + (root if three_d else 0),
                                np.full(k, 0.8)]) if three_d or i == 1 else None
        out.append(Person(track_id=i + 1, score=0.9, bbox_px=[*xy.min(0), *xy.max(0)],
                          keypoints_2d=kp2d, keypoints_3d=kp3d, root_camera_m=root,
                          depth_source=source))
    return out


def poses(frame_index: int, people=None) -> FramePoses:
    return FramePoses(stamp_ns=T0 + frame_index * 40_000_000, frame_id="cam", width=320,
                      height=240, skeleton="coco17", keypoint_names=COCO17.keypoint_names,
                      people=people_at(frame_index) if people is None else people)


def test_frame_record_matches_schema():
    for record in (frame_record(0, poses(0)), frame_record(1, poses(1, people=[]))):
        jsonschema.validate(record, POSES_JSONL_SCHEMA)
        json.dumps(record, allow_nan=False)
    record = frame_record(3, poses(3))
    assert record["people"][0]["depth_source"] == "monocular"
    assert record["people"][1]["root"] is None and record["people"][1]["depth_source"] == "none"
    assert len(record["people"][0]["keypoints"]) == len(record["keypoint_names"]) == 17
    assert record["stamp"] == pytest.approx((T0 + 3 * 40_000_000) * 1e-9)
    bad = dict(record, people=[dict(record["people"][0], depth_source="lidar")])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, POSES_JSONL_SCHEMA)
    skipped = skipped_record(BadFrame(4, T0, "file x.jpg", "corrupt"), "coco17",
                             COCO17.keypoint_names)
    jsonschema.validate(skipped, POSES_JSONL_SCHEMA)
    assert skipped["people"] == [] and skipped["skipped"] == "file x.jpg: corrupt"
    assert (skipped["width"], skipped["height"]) == (0, 0)


def test_all_sinks_write_and_read_back(tmp_path):
    paths = output_paths(tmp_path / "out", jsonl=True, video=True, mcap=True)
    prepare_outputs(paths, force=False)
    background = np.full((240, 320, 3), 60, np.uint8)
    n = 7
    with Sinks(paths, fps=25.0) as sinks:
        assert sinks.needs_annotated
        for i in range(n):
            frame = poses(i)
            sinks.write(i, frame, draw_people(background, frame.people, COCO17))

    lines = paths["jsonl"].read_text().splitlines()
    assert len(lines) == n
    for i, line in enumerate(lines):
        record = json.loads(line)
        jsonschema.validate(record, POSES_JSONL_SCHEMA)
        assert record["frame"] == i and [p["id"] for p in record["people"]] == [1, 2]

    assert count_frames(paths["video"]) == n
    video = cv2.VideoCapture(str(paths["video"]))
    ok, first = video.read()
    assert ok and first.shape == (240, 320, 3)
    video.release()

    bag = paths["mcap"]
    assert (bag / "poses.mcap").is_file() and (bag / "metadata.yaml").is_file()
    with AnyReader([bag], default_typestore=typestore()) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {TOPIC_SKELETONS: n, TOPIC_MARKERS: n, TOPIC_IMAGE_COMPRESSED: n}
        stamps: dict[str, list[int]] = {}
        for conn, log_ns, raw in reader.messages():
            msg = reader.deserialize(raw, conn.msgtype)
            if conn.topic == TOPIC_MARKERS:
                header = msg.markers[0].header
                assert len(msg.markers) == 3          # one person with camera-frame 3D
            else:
                header = msg.header
            stamp = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
            assert stamp == log_ns
            stamps.setdefault(conn.topic, []).append(stamp)
            if conn.topic == TOPIC_SKELETONS:
                assert [s.id for s in msg.skeletons] == [1, 2]
                assert msg.skeleton == "coco17" and msg.header.frame_id == "cam"
            if conn.topic == TOPIC_IMAGE_COMPRESSED:
                assert msg.format == "jpeg" and decode_bgr(msg).shape == (240, 320, 3)
    want = [T0 + i * 40_000_000 for i in range(n)]
    assert all(sorted(s) == want for s in stamps.values())


@pytest.mark.parametrize("mode, image_topic", [("raw", TOPIC_IMAGE), ("none", None)])
def test_mcap_image_modes(tmp_path, mode, image_topic):
    paths = output_paths(tmp_path, jsonl=False, video=False, mcap=True)
    image = np.full((240, 320, 3), 60, np.uint8)
    with Sinks(paths, fps=None, mcap_images=mode) as sinks:
        assert sinks.needs_annotated == (mode != "none")
        for i in range(2):
            sinks.write(i, poses(i), image if mode != "none" else None)
    with AnyReader([paths["mcap"]], default_typestore=typestore()) as reader:
        topics = {c.topic: c.msgcount for c in reader.connections}
        assert topics == {TOPIC_SKELETONS: 2, TOPIC_MARKERS: 2,
                          **({image_topic: 2} if image_topic else {})}
        for conn, _, raw in reader.messages():
            if conn.topic == TOPIC_IMAGE:
                msg = reader.deserialize(raw, conn.msgtype)
                assert (msg.width, msg.height, msg.encoding) == (320, 240, "bgr8")


def test_mcap_records_cues_when_asked(tmp_path):
    """cues=True (`pose-ros run` with enable_cues): /pose/cues, one CuesArray per frame, the
    same messages as the node's ~/cues; without it the topic is absent (test above)."""
    from test_cue_messages import frame_with_cues

    paths = output_paths(tmp_path, jsonl=False, video=False, mcap=True)
    frame = frame_with_cues()
    with Sinks(paths, fps=None, mcap_images="none", cues=True) as sinks:
        sinks.write(0, frame, None)
        sinks.write(1, poses(1, people=[]), None)
    with AnyReader([paths["mcap"]], default_typestore=typestore()) as reader:
        assert {c.topic: (c.msgtype, c.msgcount) for c in reader.connections} == {
            TOPIC_SKELETONS: ("pose_ros/msg/SkeletonArray", 2),
            TOPIC_MARKERS: ("visualization_msgs/msg/MarkerArray", 2),
            TOPIC_CUES: ("pose_ros/msg/CuesArray", 2)}
        conns = [c for c in reader.connections if c.topic == TOPIC_CUES]
        first, second = [(log_ns, reader.deserialize(raw, "pose_ros/msg/CuesArray"))
                         for _, log_ns, raw in reader.messages(connections=conns)]
    log_ns, msg = first
    assert log_ns == frame.stamp_ns and msg.header.frame_id == "cam"
    assert [p.id for p in msg.people] == [3, 4] and msg.people[0].pointing_target_valid
    assert [(c.name, c.active) for c in msg.people[0].cues][0] == ("hand_raised", True)
    assert len(msg.people[0].hands[0].keypoints) == 21
    assert second[1].people == []


def test_mcap_opens_with_the_reference_mcap_reader(tmp_path):
    """The file Foxglove opens: readable by the mcap library, ros2msg schemas, cdr channels."""
    mcap_reader = pytest.importorskip("mcap.reader", reason="mcap (test extra) is needed")
    paths = output_paths(tmp_path, jsonl=False, video=False, mcap=True)
    with Sinks(paths, fps=None) as sinks:
        for i in range(3):
            sinks.write(i, poses(i), np.zeros((240, 320, 3), np.uint8))
    with open(paths["mcap"] / "poses.mcap", "rb") as f:
        reader = mcap_reader.make_reader(f)
        summary = reader.get_summary()
        schemas = {s.name: s.encoding for s in summary.schemas.values()}
        assert schemas["pose_ros/msg/SkeletonArray"] == "ros2msg"
        assert {c.message_encoding for c in summary.channels.values()} == {"cdr"}
        n = sum(1 for _ in reader.iter_messages())
    assert n == 9 and summary.statistics.message_count == 9


def test_existing_outputs_are_not_overwritten(tmp_path):
    paths = output_paths(tmp_path, jsonl=True, video=True, mcap=False)
    paths["jsonl"].write_text("precious\n")
    with pytest.raises(PoseRosError, match="output exists.*poses.jsonl.*--force"):
        prepare_outputs(paths, force=False)
    assert paths["jsonl"].read_text() == "precious\n"
    assert not paths["video"].exists()
    prepare_outputs(paths, force=True)
    assert not paths["jsonl"].exists()

    not_a_bag = tmp_path / "poses"
    (not_a_bag / "sub").mkdir(parents=True)
    with pytest.raises(PoseRosError, match="not a bag"):
        prepare_outputs(output_paths(tmp_path, jsonl=False, video=False, mcap=True), force=True)
    assert (not_a_bag / "sub").is_dir()


def test_draw_people_marks_keypoints_and_labels():
    image = np.zeros((240, 320, 3), np.uint8)
    people = people_at(0)
    out = draw_people(image, people, COCO17)
    assert out.shape == image.shape and not np.shares_memory(out, image)
    assert image.max() == 0                                     # input untouched
    x, y = people[0].keypoints_2d[5, :2].astype(int)
    assert out[y - 1:y + 2, x - 1:x + 2].max() > 0              # a joint is drawn
    assert out[235:, 300:].max() == 0                           # far corner stays black
    assert label_text(people[0]) == f"id 1  {np.linalg.norm([0, 0.1, 3.0]):.1f} m"
    assert label_text(people[1]) == "id 2"
