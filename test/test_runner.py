"""The offline runner end to end with the real models, on frames made from a real photograph."""

from __future__ import annotations

import argparse
import io
import json

import cv2
import numpy as np
import pytest
from rosbags.highlevel import AnyReader

from pose_ros.io.sinks import POSES_JSONL_SCHEMA, TOPIC_IMAGE, TOPIC_MARKERS, TOPIC_SKELETONS
from pose_ros.msgdefs import typestore
from pose_ros.runner import add_arguments, execute, run

pytest.importorskip("skimage", reason="scikit-image (test extra) ships the test photograph")
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema (test extra) validates JSONL")

from test_sources import compressed_msg, image_msg, raw_image_msg, write_bag  # noqa: E402

from pose_ros.io.demo import astronaut_bgr, demo_frames, write_demo_video  # noqa: E402

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

    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == NUM_FRAMES
    video.release()

    with AnyReader([out / "poses"], default_typestore=typestore()) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
        assert counts == {TOPIC_SKELETONS: NUM_FRAMES, TOPIC_MARKERS: NUM_FRAMES,
                          TOPIC_IMAGE: NUM_FRAMES}
        conns = [c for c in reader.connections if c.topic == TOPIC_SKELETONS]
        stamps = []
        for _, log_ns, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, "pose_ros/msg/SkeletonArray")
            stamps.append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
            assert stamps[-1] == log_ns and [s.id for s in msg.skeletons] == [1]
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
    assert stats.frames == 4 and min(stats.people_per_frame) == 1
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
