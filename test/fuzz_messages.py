"""Malformed camera messages and files, generated with hypothesis, and the checks they must pass.

Used by test/test_fuzz_inputs.py (a seeded subset in CI) and tools/fuzz_inputs.py (the full
run); not a test module itself. The messages are rosbags' classes of the real sensor_msgs
definitions with every field inside its ROS type's range (uint32 sizes, uint8 is_bigendian), so
each could come from a real (buggy) publisher: wrong step, short or empty data, odd encodings,
0x0, 1x1 and 8000x8000 sizes, NaN and inf in K, D and depth, garbage JPEG / PNG /
compressedDepth, decompression bombs. Files: truncated and byte-flipped videos, MCAP and sqlite3
recordings and images.

They go through the library path the runner and the node share: image_codec.decode_bgr /
decode_depth, the runner's frame check (`runner.unusable`), the input policy (intrinsics from a
CameraInfo, depth beside a colour image), and the sources (open_source and iteration). The
contract: a message gives a usable result (an image of the announced size, finite intrinsics)
or a PoseRosError with a message, and the input policy's refusals of a CameraInfo or depth
image name their reason (the frame goes on without them); any other exception fails.
`OUTCOMES` counts what happened per kind.
"""

from __future__ import annotations

import functools
import logging
import shutil
import struct
import tempfile
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from hypothesis import strategies as st

from pose_ros.errors import PoseRosError
from pose_ros.input_policy import InputPolicy
from pose_ros.io import image_codec
from pose_ros.io.sources import BadFrame, Frame, open_source
from pose_ros.ros.msgdefs import typestore
from pose_ros.tools.runner import unusable

TS = typestore()
OUTCOMES: Counter = Counter()
_QUIET = logging.getLogger("pose_ros.fuzz.quiet")     # the policy's warnings, not printed
_QUIET.propagate = False
_QUIET.addHandler(logging.NullHandler())
UINT32 = 2**32 - 1
MAX_EXACT_BYTES = 16 * 2**20      # larger "exact" payloads are generated short instead


def _header(stamp_ns: int = 1_700_000_000_000_000_000):
    sec, nsec = divmod(stamp_ns, 10**9)
    return TS.types["std_msgs/msg/Header"](
        stamp=TS.types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nsec), frame_id="cam")


def record(kind: str, outcome: str) -> None:
    OUTCOMES[f"{kind}: {outcome}"] += 1


# ----------------------------------------------------------------------------- raw images

SIZES = st.one_of(st.sampled_from([0, 1, 2, 3, 15, 16, 17, 48, 64, 240, 8000]),
                  st.integers(0, 4096), st.integers(0, UINT32))
ENCODINGS = st.one_of(
    st.sampled_from(image_codec.COLOUR_ENCODINGS + image_codec.DEPTH_ENCODINGS),
    st.sampled_from(["", "nv12", "16UC3", "64FC1", "RGB8", "rgb8 ", "bgr8\x00", "8SC1",
                     "jpeg", "32FC3"]),
    st.text(max_size=12))
_BYTES_PER_PIXEL = {"u1": 1, "u2": 2, "f4": 4}


def _pixel_bytes(encoding: str) -> int:
    kind, channels = image_codec._LAYOUTS.get(encoding, ("u1", 3))
    return _BYTES_PER_PIXEL[kind] * channels


@st.composite
def raw_images(draw, depth: bool = False):
    """sensor_msgs/Image: half well-formed small images with at most one field broken, half
    with any size, encoding, step, endianness and data length."""
    known = image_codec.DEPTH_ENCODINGS if depth else image_codec.COLOUR_ENCODINGS
    if draw(st.booleans()):
        width, height = draw(st.one_of(st.just((64, 48)), st.tuples(st.integers(1, 80),
                                                                      st.integers(1, 80))))
        encoding = draw(st.sampled_from(known))
        row = width * _pixel_bytes(encoding)
        step = row + draw(st.sampled_from([0, 0, 3, 64]))
        length = step * height
        broken = draw(st.sampled_from(["nothing", "step", "short", "encoding", "size"]))
        if broken == "step":
            step = draw(st.integers(0, max(row - 1, 0)))
        elif broken == "short":
            length = draw(st.integers(0, max(length - 1, 0)))
        elif broken == "encoding":
            encoding = draw(ENCODINGS)
        elif broken == "size":
            width, height = draw(SIZES), draw(SIZES)
    else:
        width, height = draw(SIZES), draw(SIZES)
        encoding = draw(st.one_of(st.sampled_from(known), ENCODINGS))
        row = width * _pixel_bytes(encoding)
        step = draw(st.one_of(st.just(row), st.sampled_from([0, max(row - 1, 0), row + 1,
                                                             row + 64]),
                              st.integers(0, UINT32)))
        exact = step * height
        length = draw(st.one_of(
            st.just(exact), st.sampled_from([0, 1, max(exact - 1, 0), exact + 7]),
            st.integers(0, 4096)))
    step = min(step, UINT32)
    if length > MAX_EXACT_BYTES:
        length = draw(st.integers(0, 4096))
    fill = draw(st.sampled_from(["zeros", "random", "nan", "inf", "max"]))
    data = _fill(length, fill, encoding, draw(st.integers(0, 2**31)))
    return TS.types["sensor_msgs/msg/Image"](
        header=_header(), height=height, width=width, encoding=encoding,
        is_bigendian=draw(st.sampled_from([0, 0, 1, 255])), step=step, data=data)


def _fill(length: int, fill: str, encoding: str, seed: int) -> np.ndarray:
    if fill == "random":
        return np.random.default_rng(seed).integers(0, 256, length, dtype=np.uint8)
    if fill in ("nan", "inf") and length >= 4:
        value = np.float32(np.nan if fill == "nan" else np.inf)
        floats = np.full(length // 4, value, np.float32)
        floats[::3] = -floats[::3]
        return np.concatenate([floats.view(np.uint8), np.zeros(length % 4, np.uint8)])
    return np.full(length, 255 if fill == "max" else 0, np.uint8)


# ----------------------------------------------------------------------------- compressed

@functools.cache
def _encoded(kind: str) -> bytes:
    """Valid compressed payloads to damage (and a few to keep)."""
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    if kind == "jpeg":
        return cv2.imencode(".jpg", photo)[1].tobytes()
    if kind == "png":
        return cv2.imencode(".png", photo)[1].tobytes()
    if kind == "png16":
        depth = rng.integers(0, 5000, (48, 64), dtype=np.uint16)
        return cv2.imencode(".png", depth)[1].tobytes()
    if kind == "png_tiny":
        return cv2.imencode(".png", photo[:1, :1])[1].tobytes()
    if kind == "png_bomb":          # a real PNG of 17000 x 17000 grey zeros: 289 Mpx in 1.3 MB
        side, compressor = 17000, zlib.compressobj(1)
        rows = bytes(side + 1) * 1000                      # filter byte + pixels, 1000 rows
        idat = b"".join(compressor.compress(rows) for _ in range(side // 1000))
        idat += compressor.compress(bytes(side + 1) * (side % 1000)) + compressor.flush()

        def chunk(kind: bytes, body: bytes) -> bytes:
            return (struct.pack(">I", len(body)) + kind + body
                    + struct.pack(">I", zlib.crc32(kind + body)))
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0,
                                                                    0, 0, 0))
                + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    raise KeyError(kind)


def _damage(data: bytes, how: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if how == "keep" or not data:
        return data
    if how == "truncate":
        return data[: int(rng.integers(0, len(data)))]
    if how == "flip":
        out = bytearray(data)
        for i in rng.integers(0, len(out), 1 + int(rng.integers(0, 8))):
            out[i] ^= int(rng.integers(1, 256))
        return bytes(out)
    if how == "header_only":
        return data[:16]
    return data + rng.integers(0, 256, 100, dtype=np.uint8).tobytes()    # trailing junk


FORMATS = st.one_of(
    st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8", "bgr8; png compressed bgr8",
                     "16UC1; compressedDepth png", "32FC1; compressedDepth png",
                     "compressedDepth", "", "tiff", "h264"]),
    st.text(max_size=16))


@st.composite
def compressed_images(draw):
    """sensor_msgs/CompressedImage: valid, damaged or garbage JPEG / PNG / compressedDepth."""
    fmt = draw(FORMATS)
    source = draw(st.sampled_from(["jpeg", "png", "png16", "png_tiny", "random", "empty",
                                   "png_bomb"]))
    seed = draw(st.integers(0, 2**31))
    if source == "random":
        data = np.random.default_rng(seed).integers(
            0, 256, draw(st.integers(0, 2048)), dtype=np.uint8).tobytes()
    elif source == "empty":
        data = b""
    else:
        data = _damage(_encoded(source), draw(st.sampled_from(
            ["keep", "truncate", "flip", "header_only", "junk"])), seed)
    if "compressedDepth" in fmt and draw(st.booleans()):
        quant = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32),
                              min_size=2, max_size=2))
        data = np.array([0], "<i4").tobytes() + np.array(quant, "<f4").tobytes() + data
    return TS.types["sensor_msgs/msg/CompressedImage"](
        header=_header(), format=fmt, data=np.frombuffer(data, np.uint8).copy())


# ----------------------------------------------------------------------------- camera_info

FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -1.0, 1e-12, 1e12, 500.0, 320.0]))


@st.composite
def camera_infos(draw):
    """sensor_msgs/CameraInfo with NaN / inf / zero / huge K, odd D, any model and size."""
    k = np.array([500.0, 0, 320, 0, 500, 240, 0, 0, 1])
    for i in draw(st.lists(st.integers(0, 8), max_size=3)):
        k[i] = draw(FLOATS)
    d = np.array(draw(st.lists(FLOATS, max_size=draw(st.sampled_from([0, 4, 5, 8, 14, 40])))),
                 np.float64)
    # the image is 640x480: this size, a resize of it, another aspect ratio, or anything
    width, height = draw(st.one_of(st.sampled_from([(640, 480), (320, 240), (1280, 960),
                                                    (640, 360)]), st.tuples(SIZES, SIZES)))
    return TS.types["sensor_msgs/msg/CameraInfo"](
        header=_header(), height=height, width=width,
        distortion_model=draw(st.one_of(st.sampled_from(
            ["plumb_bob", "rational_polynomial", "equidistant", "fisheye", ""]),
            st.text(max_size=10))),
        d=d, k=k, r=np.eye(3).reshape(-1), p=np.zeros(12),
        binning_x=draw(st.sampled_from([0, 0, 1, 2, UINT32])),
        binning_y=draw(st.sampled_from([0, 0, 1, 2, UINT32])),
        roi=TS.types["sensor_msgs/msg/RegionOfInterest"](
            **(draw(st.fixed_dictionaries({
                "x_offset": SIZES, "y_offset": SIZES, "height": SIZES, "width": SIZES}))
               if draw(st.booleans()) else {"x_offset": 0, "y_offset": 0, "height": 0,
                                             "width": 0}),
            do_rectify=draw(st.booleans())))


# ----------------------------------------------------------------------------- the checks

def _rejected(kind: str, exc: PoseRosError) -> None:
    assert str(exc).strip(), f"{kind}: a PoseRosError without a message"
    record(kind, "rejected")


def check_colour(msg) -> None:
    """decode_bgr, then the runner's frame check: a BGR image or a PoseRosError."""
    kind = "CompressedImage" if image_codec.is_compressed(msg) else "Image"
    try:
        image = image_codec.decode_bgr(msg)
    except PoseRosError as exc:
        _rejected(kind, exc)
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, image.shape
    if kind == "Image":
        assert image.shape[:2] == (msg.height, msg.width)
    bad = unusable(Frame(index=0, stamp_ns=0, image_bgr=image))
    if bad is not None:
        assert bad.reason.strip()
        record(kind, "decoded, size refused")
    else:
        record(kind, "accepted")


def check_depth(msg) -> None:
    """decode_depth: float32 metres, finite and > 0 or NaN; or a PoseRosError."""
    kind = "depth " + ("CompressedImage" if image_codec.is_compressed(msg) else "Image")
    try:
        depth = image_codec.decode_depth(msg)
    except PoseRosError as exc:
        _rejected(kind, exc)
        return
    assert depth.dtype == np.float32 and depth.ndim == 2
    valid = depth[~np.isnan(depth)]
    assert np.all(np.isfinite(valid)) and np.all(valid > 0)
    record(kind, "accepted")


def check_camera_info(msg, width: int = 640, height: int = 480) -> None:
    """The input policy (input_policy.InputPolicy, node and runner alike) turns a CameraInfo into
    the intrinsics for a width x height image: usable ones (finite rays through the image) or a
    refusal with its reason (logged; the frame goes on with a guessed field of view)."""
    policy = InputPolicy(logger=_QUIET)
    try:
        prepared = policy.prepare(stamp_ns=1, arrival_ns=1, width=width, height=height,
                                  camera_info=msg)
    except PoseRosError as exc:
        _rejected("CameraInfo", exc)
        return
    camera = prepared.camera
    assert camera is not None and (camera.width, camera.height) == (width, height)
    grid = np.array([[0.0, 0.0], [width / 2, height / 2], [width - 1.0, height - 1.0]])
    rays = camera.normalized(grid)
    assert np.all(np.isfinite(rays)), f"camera_info gives rays {rays.tolist()}"
    if prepared.intrinsics.startswith("assumed"):
        assert "(" in prepared.intrinsics              # the reason is named
        record("CameraInfo", "refused with a reason, field of view guessed")
    else:
        record("CameraInfo", "accepted" + (" (scaled)" if "scaled" in prepared.intrinsics
                                           else ""))


def check_depth_pairing(msg, width: int = 64, height: int = 48) -> None:
    """A decoded depth image through the input policy beside a width x height colour image:
    kept when the sizes match, dropped with a warning otherwise."""
    try:
        depth = image_codec.decode_depth(msg)
    except PoseRosError:
        return
    prepared = InputPolicy(logger=_QUIET).prepare(stamp_ns=1, arrival_ns=1, width=width,
                                                  height=height, depth_m=depth)
    if depth.shape == (height, width):
        assert prepared.depth_m is not None
        record("depth beside a 64x48 image", "kept: same size")
    else:
        assert prepared.depth_m is None
        record("depth beside a 64x48 image", "dropped: another size")


# ----------------------------------------------------------------------------- files

@functools.cache
def sample_files() -> dict[str, Path]:
    """Small valid files of each kind, made once per process, to damage."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from pose_ros.io.video import FragmentedMp4Writer

    folder = Path(tempfile.mkdtemp(prefix="pose_ros_fuzz_"))
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(12)]
    files = {}
    video = FragmentedMp4Writer(folder / "frag.mp4", 25.0, fragment_every_s=0.0)
    for frame in frames:
        video.write(frame)
    video.close()
    files["video.mp4"] = folder / "frag.mp4"
    files["image.png"] = folder / "image.png"
    cv2.imwrite(str(files["image.png"]), frames[0])
    files["image.jpg"] = folder / "image.jpg"
    cv2.imwrite(str(files["image.jpg"]), frames[0])
    for storage, name in ((StoragePlugin.MCAP, "bag.mcap"), (StoragePlugin.SQLITE3, "bag.db3")):
        bag = folder / name.replace(".", "_")
        with Writer(bag, version=9, storage_plugin=storage) as writer:
            image = writer.add_connection("/cam/image_raw", "sensor_msgs/msg/Image", typestore=TS)
            info = writer.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo",
                                         typestore=TS)
            for i, frame in enumerate(frames):
                stamp = 1_700_000_000_000_000_000 + i * 10**8
                msg = TS.types["sensor_msgs/msg/Image"](
                    header=_header(stamp), height=48, width=64, encoding="bgr8", is_bigendian=0,
                    step=192, data=frame.reshape(-1))
                writer.write(image, stamp, TS.serialize_cdr(msg, msg.__msgtype__))
                cam = TS.types["sensor_msgs/msg/CameraInfo"](
                    header=_header(stamp), height=48, width=64, distortion_model="plumb_bob",
                    d=np.zeros(5), k=np.array([50.0, 0, 32, 0, 50, 24, 0, 0, 1]),
                    r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0,
                    roi=TS.types["sensor_msgs/msg/RegionOfInterest"](
                        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
                writer.write(info, stamp, TS.serialize_cdr(cam, cam.__msgtype__))
        files[name] = bag
    return files


@st.composite
def damaged_files(draw):
    """(kind, damage, seed): which sample file to damage and how."""
    return (draw(st.sampled_from(sorted(sample_files()))),
            draw(st.sampled_from(["truncate", "flip", "header_only", "junk", "empty"])),
            draw(st.integers(0, 2**31)))


def check_file(case, workdir: Path) -> None:
    """A damaged file opened and read to its end like `pose-ros run` does: frames, BadFrames,
    an `end_problem`, or a PoseRosError at open. Nothing else."""
    kind, damage, seed = case
    original = sample_files()[kind]
    target = workdir / ("case_bag" if original.is_dir() else f"case{original.suffix}")
    if target.is_dir():
        shutil.rmtree(target)
    if original.is_dir():          # a bag folder: damage its storage file
        shutil.copytree(original, target)
        [data_file] = [p for p in target.iterdir() if p.suffix in (".mcap", ".db3")]
    else:
        shutil.copyfile(original, target)
        data_file = target
    data = data_file.read_bytes()
    data_file.write_bytes(b"" if damage == "empty" else _damage(data, damage, seed))
    label = f"file {kind}"
    try:
        with open_source(target) as source:
            frames = list(source)
    except PoseRosError as exc:
        _rejected(label, exc)
        return
    for frame in frames:
        assert isinstance(frame, (Frame, BadFrame))
        if isinstance(frame, Frame):
            bad = unusable(frame)
            assert bad is None or bad.reason.strip()
        else:
            assert frame.reason.strip()
    bad_frames = sum(isinstance(f, BadFrame) for f in frames)
    record(label, "read" + (", bad frames named" if bad_frames else "")
           + (", end reported" if source.end_problem else ""))
