"""Frame sources: video, image folder, single image, webcam errors, rosbag2 MCAP and sqlite3."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from pose_ros.errors import PoseRosError
from pose_ros.io.sources import (
    BadFrame,
    ImageFolderSource,
    VideoSource,
    WebcamSource,
    numbered_frames,
    open_source,
)
from pose_ros.ros.msgdefs import typestore

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra) is needed")
TS = typestore()


def photo_bgr(width: int = 160, height: int = 120) -> np.ndarray:
    """The astronaut photograph that scikit-image ships, resized, in BGR."""
    rgb = cv2.resize(skimage_data.astronaut(), (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb[..., ::-1])


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> None:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def _header(stamp_ns: int, frame_id: str):
    sec, nsec = divmod(stamp_ns, 1_000_000_000)
    return TS.types["std_msgs/msg/Header"](
        stamp=TS.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec), frame_id=frame_id)


def image_msg(image_bgr: np.ndarray, stamp_ns: int, encoding: str = "rgb8",
              frame_id: str = "cam_optical"):
    converted = {"rgb8": lambda a: a[..., ::-1], "bgr8": lambda a: a,
                 "bgra8": lambda a: cv2.cvtColor(a, cv2.COLOR_BGR2BGRA),
                 "mono8": lambda a: cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)}[encoding](image_bgr)
    a = np.ascontiguousarray(converted)
    h, w = a.shape[:2]
    return TS.types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns, frame_id), height=h, width=w, encoding=encoding,
        is_bigendian=0, step=a.nbytes // h, data=a.reshape(-1))


def raw_image_msg(array: np.ndarray, stamp_ns: int, encoding: str, frame_id: str = "cam"):
    h, w = array.shape[:2]
    return TS.types["sensor_msgs/msg/Image"](
        header=_header(stamp_ns, frame_id), height=h, width=w, encoding=encoding,
        is_bigendian=0, step=array.nbytes // h, data=array.view(np.uint8).reshape(-1))


def compressed_msg(image_bgr: np.ndarray, stamp_ns: int, frame_id: str = "cam_optical"):
    ok, jpg = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return TS.types["sensor_msgs/msg/CompressedImage"](
        header=_header(stamp_ns, frame_id), format="jpeg", data=jpg.reshape(-1))


def camera_info_msg(stamp_ns: int, width: int, height: int, f_px: float = 100.0):
    k = np.array([f_px, 0, width / 2, 0, f_px, height / 2, 0, 0, 1], np.float64)
    p = np.array([f_px, 0, width / 2, 0, 0, f_px, height / 2, 0, 0, 0, 1, 0], np.float64)
    return TS.types["sensor_msgs/msg/CameraInfo"](
        header=_header(stamp_ns, "cam_optical"), height=height, width=width,
        distortion_model="plumb_bob", d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=p,
        binning_x=0, binning_y=0,
        roi=TS.types["sensor_msgs/msg/RegionOfInterest"](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def write_bag(path: Path, messages: list[tuple[str, object, int]],
              storage: StoragePlugin = StoragePlugin.MCAP) -> Path:
    """Write (topic, message, log time ns) into a rosbag2 folder at `path`."""
    with Writer(path, version=9, storage_plugin=storage) as writer:
        conns = {}
        for topic, msg, t_ns in messages:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msg.__msgtype__, typestore=TS)
            writer.write(conns[topic], t_ns, TS.serialize_cdr(msg, msg.__msgtype__))
    return path


T0 = 1_700_000_000_000_000_000


def test_video_source_frames_and_stamps(tmp_path):
    frames = [np.roll(photo_bgr(), 10 * i, axis=1) for i in range(12)]
    write_video(tmp_path / "clip.mp4", frames, fps=25.0)
    with open_source(str(tmp_path / "clip.mp4")) as source:
        assert isinstance(source, VideoSource) and source.num_frames == 12
        got = list(source)
    assert [f.index for f in got] == list(range(12))
    np.testing.assert_allclose([f.stamp_s for f in got], np.arange(12) / 25.0, atol=1e-3)
    assert got[0].image_bgr.shape == (120, 160, 3)
    assert np.abs(got[3].image_bgr.astype(int) - frames[3]).mean() < 12


def test_image_folder_sorted_and_single_image(tmp_path):
    base = photo_bgr()
    for name, shift in (("b.png", 2), ("a.png", 1), ("c.jpg", 3)):
        cv2.imwrite(str(tmp_path / name), np.roll(base, shift, axis=0))
    (tmp_path / "notes.txt").write_text("not an image")
    source = open_source(tmp_path, fps=10.0)
    assert isinstance(source, ImageFolderSource) and source.num_frames == 3
    got = list(source)
    np.testing.assert_array_equal(got[0].image_bgr, np.roll(base, 1, axis=0))
    np.testing.assert_array_equal(got[1].image_bgr, np.roll(base, 2, axis=0))
    assert [f.stamp_ns for f in got] == [0, 100_000_000, 200_000_000]
    single = list(open_source(tmp_path / "a.png"))
    assert len(single) == 1 and single[0].image_bgr.shape == base.shape


def test_bad_inputs_give_clear_errors(tmp_path):
    with pytest.raises(PoseRosError, match="no such file"):
        open_source(tmp_path / "missing.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PoseRosError, match="no images in folder"):
        open_source(tmp_path / "empty")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(PoseRosError, match="cannot read video .*broken.mp4"):
        open_source(tmp_path / "broken.mp4")
    with pytest.raises(PoseRosError, match="cannot open webcam 97"):
        WebcamSource(97)


def test_mcap_bag_image_compressed_camera_info_and_depth(tmp_path):
    photo = photo_bgr()
    h, w = photo.shape[:2]
    depth_mm = np.full((h, w), 2500, np.uint16)
    messages = []
    for i in range(4):
        stamp = T0 + i * 33_000_000
        messages.append(("/cam/color/camera_info", camera_info_msg(stamp, w, h), stamp))
        messages.append(("/cam/color/image_raw", image_msg(photo, stamp), stamp + 1000))
        messages.append(("/cam/color/image_raw/compressed", compressed_msg(photo, stamp),
                         stamp + 2000))
        # depth logged after the colour image with the same header stamp
        messages.append(("/cam/aligned_depth_to_color/image_raw",
                         raw_image_msg(depth_mm + i, stamp, "16UC1"), stamp + 5_000_000))
        messages.append(("/cam/depth/image_rect_raw",
                         raw_image_msg(depth_mm[:60, :80].copy(), stamp, "16UC1"), stamp + 3000))
    bag = write_bag(tmp_path / "rec", messages)

    with pytest.raises(PoseRosError, match="2 colour image topics.*--topic.*image_raw/compressed"):
        open_source(bag)
    source = open_source(bag, topic="/cam/color/image_raw")
    assert source.depth_topic == "/cam/aligned_depth_to_color/image_raw"
    assert source.camera_info_topic == "/cam/color/camera_info"
    frames = list(source)
    source.close()
    assert [f.stamp_ns for f in frames] == [T0 + i * 33_000_000 for i in range(4)]
    assert all(f.frame_id == "cam_optical" for f in frames)
    np.testing.assert_array_equal(frames[0].image_bgr, photo)
    for i, f in enumerate(frames):     # each frame got the depth of its own stamp
        assert f.depth_m is not None and f.depth_m.shape == (h, w)
        assert f.depth_m[0, 0] == pytest.approx((2500 + i) / 1000)
        assert f.camera_info.k[0] == 100.0

    compressed = list(open_source(bag / "rec.mcap", topic="/cam/color/image_raw/compressed",
                                  depth_topic=""))
    assert len(compressed) == 4 and compressed[0].depth_m is None
    assert np.abs(compressed[0].image_bgr.astype(int) - photo).mean() < 5

    with pytest.raises(PoseRosError, match="'/nope' is not an image topic.*image_raw"):
        open_source(bag, topic="/nope")


@pytest.mark.parametrize("encoding", ["bgr8", "bgra8", "mono8"])
def test_sqlite3_bag_and_encodings(tmp_path, encoding):
    photo = photo_bgr()
    msgs = [("/image", image_msg(photo, T0 + i * 10**8, encoding, frame_id="/cam"), T0 + i)
            for i in range(3)]
    bag = write_bag(tmp_path / "rec", msgs, StoragePlugin.SQLITE3)
    frames = list(open_source(bag))
    assert len(frames) == 3 and frames[2].stamp_ns == T0 + 2 * 10**8
    assert frames[0].frame_id == "cam"            # no leading '/'
    want = photo if encoding != "mono8" else cv2.cvtColor(
        cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(frames[0].image_bgr, want)


def test_bag_without_image_topics_and_bad_encoding(tmp_path):
    bag = write_bag(tmp_path / "info_only", [
        ("/cam/camera_info", camera_info_msg(T0, 64, 48), T0)])
    with pytest.raises(PoseRosError, match="no image topics.*/cam/camera_info"):
        open_source(bag)
    odd = raw_image_msg(np.zeros((4, 6, 1), np.uint8), T0, "nv12")
    bag = write_bag(tmp_path / "odd", [("/image", odd, T0)])
    [bad] = list(open_source(bag))          # an unusable frame is named, not fatal
    assert isinstance(bad, BadFrame) and "'nv12'" in bad.reason
    assert bad.where == f"message 0 on /image stamped {T0 * 1e-9:.6f} s"


def test_undecodable_image_in_a_folder_is_a_bad_frame(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), photo_bgr())
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    cv2.imwrite(str(tmp_path / "c.png"), photo_bgr())
    got = list(open_source(tmp_path))
    assert [type(f).__name__ for f in got] == ["Frame", "BadFrame", "Frame"]
    bad = got[1]
    assert (bad.index, bad.where, bad.stamp_ns) == (1, "file b.jpg", round(1e9 / 30))
    assert "cannot decode the image" in bad.reason


def test_numbered_frames_are_a_sequence_other_photos_are_stills(tmp_path):
    names = ["frame_10.png", "frame_9.png", "frame_11.png"]
    assert [p.name for p in numbered_frames([Path(n) for n in names])] == [
        "frame_9.png", "frame_10.png", "frame_11.png"]              # number order, not text
    for unrelated in (["beach.jpg", "frame_1.jpg"], ["a_1.jpg", "b_2.jpg"],
                      ["x_1.jpg", "x_2.png"], ["x_01.jpg", "x_1.jpg"], ["only_1.jpg"]):
        assert numbered_frames([Path(n) for n in unrelated]) is None, unrelated
    frames, photos = tmp_path / "frames", tmp_path / "photos"
    for folder, files in ((frames, names), (photos, ["beach.jpg", "party.png", "desk.png"])):
        folder.mkdir()
        for name in files:
            cv2.imwrite(str(folder / name), photo_bgr())
    assert not open_source(frames).stills and open_source(photos).stills
    assert open_source(frames, sequence=False).stills
    assert not open_source(photos, sequence=True).stills
    assert open_source(photos / "beach.jpg").stills
    assert "--sequence" in open_source(photos).description


def test_video_that_ends_early_says_how_far_it_got(tmp_path):
    import av

    path = tmp_path / "cut.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(np.roll(photo_bgr(), 7 * i, axis=1), "bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])          # the index says 50 frames, half is there
    with open_source(path) as source:
        got = list(source)
    assert 5 < len(got) < 50
    assert f"ended after decoding {len(got)} of the 50 frames it announced" in source.end_problem


def test_corrupt_compressed_frame_in_a_bag_is_skipped_and_named(tmp_path):
    messages = []
    for i in range(4):
        msg = compressed_msg(photo_bgr(), T0 + i * 10**8)
        if i == 2:
            msg.data = msg.data[: len(msg.data) // 3]               # a truncated JPEG
        messages.append(("/cam/image/compressed", msg, T0 + i * 10**8))
    got = list(open_source(write_bag(tmp_path / "bag", messages)))
    assert [type(f).__name__ for f in got] == ["Frame", "Frame", "BadFrame", "Frame"]
    assert got[2].where == f"message 2 on /cam/image/compressed stamped {(T0 + 2e8) * 1e-9:.6f} s"
    assert "could not decode" in got[2].reason and got[3].index == 3


@pytest.mark.parametrize("storage", [StoragePlugin.MCAP, StoragePlugin.SQLITE3])
def test_truncated_bag_is_an_error_or_ends_early_never_a_crash(tmp_path, storage):
    messages = [("/image", image_msg(photo_bgr(), T0 + i * 10**8), T0 + i * 10**8)
                for i in range(40)]
    bag = write_bag(tmp_path / "bag", messages, storage)
    [data_file] = [p for p in bag.iterdir() if p.suffix in (".mcap", ".db3")]
    data = data_file.read_bytes()
    data_file.write_bytes(data[: len(data) * 2 // 3])
    try:
        with open_source(bag) as source:
            got = list(source)
    except PoseRosError as exc:                      # refused at open, with the reason
        assert "cannot read bag" in str(exc)
    else:
        assert len(got) < 40 and source.end_problem and "could not be read past" in \
            source.end_problem
