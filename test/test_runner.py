"""The offline runner end to end with the real models, on frames made from a real photograph."""

from __future__ import annotations

import argparse
import io
import json

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from pose_ros.errors import PoseRosError
from pose_ros.io.sinks import (
    POSES_JSONL_SCHEMA,
    TOPIC_CUES,
    TOPIC_IMAGE_COMPRESSED,
    TOPIC_MARKERS,
    TOPIC_SKELETONS,
)
from pose_ros.ros.msgdefs import typestore
from pose_ros.tools.run_command import add_arguments, execute, run

pytest.importorskip("skimage", reason="scikit-image (test extra) ships the test photograph")
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) validates JSONL")

from test_sources import compressed_msg, image_msg, raw_image_msg, write_bag  # noqa: E402

from pose_ros.io.demo import astronaut_bgr, demo_frames, write_demo_video  # noqa: E402
from pose_ros.io.image_codec import decode_bgr  # noqa: E402
from pose_ros.io.video import count_frames  # noqa: E402

NUM_FRAMES = 12
T0 = 1_700_000_000_000_000_000


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pose-ros run")
    add_arguments(parser)
    return parser.parse_args([*argv, "--quiet"])


@pytest.fixture(scope="module")
def estimator():
    """One real PoseEstimator (BlazePose + lifter) shared by the runs of this module."""
    from pose_ros.pipeline import PipelineConfig, PoseEstimator
    return PoseEstimator(PipelineConfig(device="cpu"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "moving_astronaut.mp4"
    return write_demo_video(path, num_frames=NUM_FRAMES, fps=30.0)


def test_video_run_writes_all_outputs(tmp_path, clip, estimator):
    out = tmp_path / "out"
    text = io.StringIO()
    stats = execute(parse(str(clip), "--out", str(out)), out=text, estimator=estimator)
    assert stats.frames == NUM_FRAMES
    summary = text.getvalue()
    assert f"frames: {NUM_FRAMES}" in summary and "p95" in summary and "landmarks" in summary

    records = [json.loads(line) for line in (out / "poses.jsonl").read_text().splitlines()]
    assert len(records) == NUM_FRAMES
    for i, record in enumerate(records):
        jsonschema.validate(record, POSES_JSONL_SCHEMA)
        assert record["frame"] == i and record["stamp"] == pytest.approx(i / 30.0, abs=1e-3)
        assert (record["width"], record["height"]) == (640, 360)
    ids = [tuple(p["id"] for p in r["people"]) for r in records]
    assert all(i == (1,) for i in ids), ids           # one person, found every frame, same id
    # the person moves right with the photograph: the nose follows
    nose = [r["people"][0]["keypoints"][0][0] for r in records]
    assert nose[-1] - nose[0] == pytest.approx(340, abs=25)   # the photo moves 340 px
    person = records[-1]["people"][0]
    assert person["depth_source"] == "monocular" and person["root"][2] > 0.3
    assert len(person["keypoints_3d"]) == 17

    assert count_frames(out / "annotated.mp4") == NUM_FRAMES

    with AnyReader([out / "poses"], default_typestore=typestore()) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {TOPIC_SKELETONS: NUM_FRAMES, TOPIC_MARKERS: NUM_FRAMES,
                          TOPIC_CUES: NUM_FRAMES, TOPIC_IMAGE_COMPRESSED: NUM_FRAMES}
        [conn] = [c for c in reader.connections if c.topic == TOPIC_IMAGE_COMPRESSED]
        _, _, raw = next(reader.messages(connections=[conn]))
        jpeg = reader.deserialize(raw, conn.msgtype)
        assert jpeg.format == "jpeg" and jpeg.header.stamp.sec == 0
        assert decode_bgr(jpeg).shape == (360, 640, 3)
        conns = [c for c in reader.connections if c.topic == TOPIC_SKELETONS]
        stamps = []
        for _, log_ns, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, "pose_ros/msg/SkeletonArray")
            stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
            assert stamps[-1] == log_ns and [s.id for s in msg.skeletons] == [1]
        # /pose/cues (enable_cues is on by default): the cues of poses.jsonl, frame by frame
        conns = [c for c in reader.connections if c.topic == TOPIC_CUES]
        cues_stamps = []
        for (_, log_ns, raw), record in zip(reader.messages(connections=conns), records):
            msg = reader.deserialize(raw, "pose_ros/msg/CuesArray")
            cues_stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
            assert cues_stamps[-1] == log_ns
            (person,) = msg.people
            (want,) = record["people"]
            assert person.id == want["id"] == 1 and person.closest
            assert sorted(f"{c.name}/{c.side}" if c.side else c.name
                          for c in person.cues if c.active) == sorted(want["cues"]["active"])
            assert person.distance == pytest.approx(want["cues"]["distance_m"], abs=1e-3)
    assert cues_stamps == stamps
    # the photo faces the camera: `facing` starts once, when it has held cue_hold_s (0.15 s)
    events = [(r["stamp"], e["cue"], e["kind"]) for r in records
              for e in r["people"][0]["cues"]["events"]]
    assert [(cue, kind) for _, cue, kind in events] == [("facing", "start")], events
    assert 0.15 <= events[0][0] - records[0]["stamp"] < 0.15 + 2 / 30
    np.testing.assert_allclose(np.array(stamps) * 1e-9,
                               [r["stamp"] for r in records], atol=1e-9)


@pytest.mark.parametrize("topic", ["/camera/image_raw", "/camera/image_raw/compressed"])
def test_bag_source_run_finds_people(tmp_path, estimator, topic):
    frames = list(demo_frames(4))
    messages = []
    for i, frame in enumerate(frames):
        stamp = T0 + i * 50_000_000
        messages.append(("/camera/image_raw", image_msg(frame, stamp, "rgb8", "cam"), stamp))
        messages.append(("/camera/image_raw/compressed", compressed_msg(frame, stamp, "cam"),
                         stamp + 1))
    bag = write_bag(tmp_path / "input_bag", messages)
    out = tmp_path / "out"
    stats = execute(parse(str(bag), "--topic", topic, "--out", str(out), "--no-video"),
                    out=io.StringIO(), estimator=estimator)
    assert stats.frames == stats.frames_with_people == 4
    records = [json.loads(line) for line in (out / "poses.jsonl").read_text().splitlines()]
    assert [r["stamp"] for r in records] == pytest.approx([(T0 + i * 5e7) * 1e-9
                                                           for i in range(4)])
    assert not (out / "annotated.mp4").exists()


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def bad_inputs(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00garbage" * 500)
    empty = tmp_path / "empty_folder"
    empty.mkdir()
    no_images = write_bag(tmp_path / "no_images", [
        ("/chatter", typestore().types["std_msgs/msg/String"](data="hi"), T0)])
    odd = raw_image_msg(np.zeros((4, 6, 2), np.uint8), T0, "nv21")
    odd_bag = write_bag(tmp_path / "odd_encoding", [("/image", odd, T0)])
    return {"unreadable video": (broken, "cannot read video"),
            "empty folder": (empty, "no images in folder"),
            "bag without image topics": (no_images, "no image topics"),
            "unsupported encoding": (odd_bag, "unsupported image encoding 'nv21'")}


def test_bad_input_one_error_line_nothing_overwritten(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for name in ("poses.jsonl", "annotated.mp4"):
        (out / name).write_bytes(b"earlier results")
    before = snapshot(out)
    for case, (source, message) in bad_inputs(tmp_path).items():
        status = run(parse(str(source), "--out", str(out), "--force"))
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 1, case
        assert len(err) == 1 and err[0].startswith("pose-ros run: error: "), (case, err)
        assert message in err[0], (case, err)
        assert snapshot(out) == before, case
        assert not (out / "poses").exists(), case


def test_existing_outputs_need_force(tmp_path, clip, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "poses.jsonl").write_text("keep me\n")
    assert run(parse(str(clip), "--out", str(out))) == 1
    assert "--force" in capsys.readouterr().err
    assert (out / "poses.jsonl").read_text() == "keep me\n"


def test_demo_source_is_the_astronaut(tmp_path):
    frames = list(demo_frames(3, width=640, height=360, photo_px=300))
    assert frames[0].shape == (360, 640, 3)
    photo = cv2.resize(astronaut_bgr(), (300, 300), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(frames[0][30:330, 0:300], photo)
    np.testing.assert_array_equal(frames[-1][30:330, 340:640], photo)


def records_of(out):
    return [json.loads(line) for line in (out / "poses.jsonl").read_text().splitlines()]


def unrelated_photos(folder):
    """Four real photographs that are no sequence (names in the order a sequence would take):
    the astronaut, the same photo moved by 8 px, scikit-image's coffee cup (no person), and the
    astronaut smaller on a dark background."""
    from skimage import data

    folder.mkdir()
    photo = astronaut_bgr()
    wide = np.full((420, 640, 3), 40, np.uint8)
    wide[60:360, 300:600] = cv2.resize(photo, (300, 300), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(folder / "a_astronaut.png"), photo)
    cv2.imwrite(str(folder / "b_astronaut_moved.png"), np.roll(photo, 8, axis=1))
    cv2.imwrite(str(folder / "c_coffee.png"), np.ascontiguousarray(data.coffee()[..., ::-1]))
    cv2.imwrite(str(folder / "d_astronaut_far.png"), wide)
    return folder


def test_folder_of_photos_are_independent_stills(tmp_path, estimator):
    folder = unrelated_photos(tmp_path / "photos")
    execute(parse(str(folder), "--out", str(tmp_path / "all"), "--no-video", "--no-mcap"),
            out=io.StringIO(), estimator=estimator)
    together = records_of(tmp_path / "all")
    names = sorted(p.name for p in folder.iterdir())       # stills come in name order
    for index, name in enumerate(names):
        out = tmp_path / f"alone_{index}"
        execute(parse(str(folder / name), "--out", str(out), "--no-video", "--no-mcap"),
                out=io.StringIO(), estimator=estimator)
        [alone] = records_of(out)
        got = together[index]["people"]
        assert len(got) == len(alone["people"]) == (0 if "coffee" in name else 1), name
        for a, b in zip(got, alone["people"]):
            for key in ("keypoints", "keypoints_3d", "root", "bbox", "score"):
                np.testing.assert_allclose(a[key], b[key], atol=1e-3, err_msg=f"{name} {key}")
    ids = [p["id"] for r in together for p in r["people"]]
    assert len(ids) == 3 and len(set(ids)) == 3                # unique within the run
    # as one sequence the moved photo continues the first one's track: smoothing and the
    # lifter's history change its result, which the stills above must not show
    execute(parse(str(folder), "--out", str(tmp_path / "seq"), "--no-video", "--no-mcap",
                  "--sequence"), out=io.StringIO(), estimator=estimator)
    seq = records_of(tmp_path / "seq")
    assert seq[1]["people"][0]["id"] == seq[0]["people"][0]["id"]
    moved_seq, moved_alone = seq[1]["people"][0], together[1]["people"][0]
    assert (np.abs(np.array(moved_seq["keypoints"]) - moved_alone["keypoints"]).max() > 1.0
            or np.abs(np.array(moved_seq["root"]) - moved_alone["root"]).max() > 0.01)


def test_bad_frames_are_skipped_named_counted_and_marked(tmp_path, estimator, caplog):
    folder = unrelated_photos(tmp_path / "photos")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 100)
    out = tmp_path / "out"
    text = io.StringIO()
    stats = execute(parse(str(folder), "--out", str(out)), out=text, estimator=estimator)
    assert stats.skipped == 1 and stats.frames == 4
    assert "skipped frame 2 (file broken.jpg)" in caplog.text
    assert "skipped: 1 frames that could not be used" in text.getvalue()
    records = records_of(out)
    assert len(records) == 5
    for record in records:
        jsonschema.validate(record, POSES_JSONL_SCHEMA)
    assert records[2]["people"] == [] and records[2]["skipped"].startswith("file broken.jpg: ")
    assert ["skipped" in r for r in records] == [False, False, True, False, False]
    assert count_frames(out / "annotated.mp4") == 4

    with pytest.raises(PoseRosError, match=r"frame 2 \(file broken.jpg\).*--strict stops"):
        execute(parse(str(folder), "--out", str(tmp_path / "strict"), "--strict"),
                out=io.StringIO(), estimator=estimator)


def test_corrupt_frame_in_a_bag_does_not_end_the_run(tmp_path, estimator):
    messages = []
    for i, frame in enumerate(demo_frames(5)):
        msg = compressed_msg(frame, T0 + i * 10**8, "cam")
        if i == 2:
            msg.data = msg.data[:200]
        messages.append(("/camera/image_raw/compressed", msg, T0 + i * 10**8))
    bag = write_bag(tmp_path / "bag", messages)
    stats = execute(parse(str(bag), "--out", str(tmp_path / "out"), "--no-video"),
                    out=io.StringIO(), estimator=estimator)
    assert (stats.frames, stats.skipped) == (4, 1)
    records = records_of(tmp_path / "out")
    assert "stamped 1700000000.200000 s" in records[2]["skipped"]
    assert [len(r["people"]) for r in records] == [1, 1, 0, 1, 1]


def test_repeated_stamps_do_not_freeze_the_keypoints(tmp_path, estimator):
    """A bag whose frames all carry the same header stamp (a driver that stamps once, a bad
    replay): with dt = 0 One Euro returned its last value, so on c6a98e5 every keypoint and the
    next region stayed where the first frame put them. The input policy now advances such
    stamps by the arrival gap."""
    messages = [("/camera/image_raw/compressed", compressed_msg(frame, T0, "cam"), T0 + i * 10**8)
                for i, frame in enumerate(demo_frames(NUM_FRAMES))]
    bag = write_bag(tmp_path / "bag", messages)
    execute(parse(str(bag), "--out", str(tmp_path / "out"), "--no-video", "--no-mcap"),
            out=io.StringIO(), estimator=estimator)
    records = records_of(tmp_path / "out")
    assert [[p["id"] for p in r["people"]] for r in records] == [[1]] * NUM_FRAMES
    nose = [r["people"][0]["keypoints"][0][0] for r in records]
    # the photo moves 31 px a frame: the nose follows every frame (c6a98e5: 0 px, and a new id
    # each time the frozen region lost the person)
    assert np.diff(nose).min() > 10 and nose[-1] - nose[0] == pytest.approx(340, abs=25)


def test_video_that_ends_early_says_so(tmp_path, clip, estimator, caplog):
    import av

    cut = tmp_path / "cut.mp4"
    with av.open(str(cut), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        for frame in demo_frames(60):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, "bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    text = io.StringIO()
    stats = execute(parse(str(cut), "--out", str(tmp_path / "out"), "--no-video", "--no-mcap"),
                    out=text, estimator=estimator)
    said = f"ended after decoding {stats.frames} of the 60 frames it announced"
    assert stats.frames < 60 and said in caplog.text and said in text.getvalue()
