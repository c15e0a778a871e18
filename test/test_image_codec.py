"""Image codec: every supported encoding, row padding, endianness, compressed formats, errors."""

from __future__ import annotations

import array
import struct
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from pose_ros.errors import PoseRosError
from pose_ros.io import image_codec as codec
from pose_ros.ros.msgdefs import typestore

TS = typestore()
Image = TS.types["sensor_msgs/msg/Image"]
CompressedImage = TS.types["sensor_msgs/msg/CompressedImage"]
Header = TS.types["std_msgs/msg/Header"]
Time = TS.types["builtin_interfaces/msg/Time"]


def header():
    return Header(stamp=Time(sec=1, nanosec=2), frame_id="cam")


def image_msg(array_hwc: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    """Build an Image the way a driver would: rows padded with `pad` junk bytes."""
    a = array_hwc
    if bigendian:
        a = a.astype(a.dtype.newbyteorder(">"))
    rows = a.reshape(a.shape[0], -1).view(np.uint8)
    junk = np.full((rows.shape[0], pad), 0xAB, np.uint8)
    data = np.concatenate([rows, junk], axis=1).reshape(-1)
    return Image(header=header(), height=a.shape[0], width=a.shape[1], encoding=encoding,
                 is_bigendian=int(bigendian), step=rows.shape[1] + pad, data=data)


@pytest.fixture(scope="module")
def bgr():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (6, 10, 3), dtype=np.uint8)


@pytest.mark.parametrize("pad", [0, 7])
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "8UC3", "8UC4"])
def test_colour_8bit_encodings(bgr, encoding, pad):
    rgb = bgr[..., ::-1]
    alpha = np.full(bgr.shape[:2] + (1,), 255, np.uint8)
    source = {"rgb8": rgb, "bgr8": bgr, "rgba8": np.concatenate([rgb, alpha], -1),
              "bgra8": np.concatenate([bgr, alpha], -1), "8UC3": bgr,
              "8UC4": np.concatenate([bgr, alpha], -1)}[encoding]
    out = codec.image_to_bgr(image_msg(np.ascontiguousarray(source), encoding, pad))
    assert out.shape == bgr.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, bgr)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8(bgr, encoding):
    gray = bgr[..., 0].copy()
    out = codec.image_to_bgr(image_msg(gray[..., None], encoding, pad=3))
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, -1))


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("encoding", ["rgb16", "bgr16", "mono16"])
def test_16bit_colour_honours_endianness(bgr, encoding, bigendian):
    wide = bgr.astype(np.uint16) * 257                         # 8-bit value v -> v * 257
    source = {"rgb16": wide[..., ::-1], "bgr16": wide, "mono16": wide[..., :1]}[encoding]
    msg = image_msg(np.ascontiguousarray(source), encoding, pad=4, bigendian=bigendian)
    out = codec.image_to_bgr(msg)
    want = bgr if encoding != "mono16" else np.repeat(bgr[..., :1], 3, -1)
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("bigendian", [False, True])
def test_depth_encodings(bigendian):
    mm = np.array([[0, 1000, 2500], [65535, 10, 0]], np.uint16)
    out = codec.depth_to_metres(image_msg(mm[..., None], "16UC1", pad=2, bigendian=bigendian))
    np.testing.assert_allclose(out, [[np.nan, 1.0, 2.5], [65.535, 0.01, np.nan]], rtol=1e-6)
    metres = np.array([[1.5, np.nan, 0.0], [np.inf, 3.25, -1.0]], np.float32)
    out = codec.depth_to_metres(image_msg(metres[..., None], "32FC1", pad=4,
                                          bigendian=bigendian))
    np.testing.assert_allclose(out, [[1.5, np.nan, np.nan], [np.nan, 3.25, np.nan]])


@pytest.mark.parametrize("encoding,pattern", [
    ("bayer_rggb8", "RGGB"), ("bayer_bggr8", "BGGR"), ("bayer_gbrg8", "GBRG"),
    ("bayer_grbg8", "GRBG")])
def test_bayer_patterns(encoding, pattern):
    colour = {"R": 200, "G": 100, "B": 30}
    mosaic = np.zeros((8, 8), np.uint8)
    for i, ch in enumerate(pattern):
        mosaic[i // 2::2, i % 2::2] = colour[ch]
    out = codec.image_to_bgr(image_msg(mosaic[..., None], encoding))
    np.testing.assert_allclose(out[2:-2, 2:-2].reshape(-1, 3).mean(0), [30, 100, 200], atol=2)


@pytest.mark.parametrize("encoding,order", [("uyvy", "UYVY"), ("yuv422", "UYVY"),
                                            ("yuyv", "YUYV"), ("yuv422_yuy2", "YUYV")])
def test_packed_yuv422(encoding, order):
    y, u, v = 120, 90, 180                                     # a reddish colour
    quad = {"U": u, "Y": y, "V": v}
    packed = np.tile(np.array([quad[c] for c in order], np.uint8), (4, 3))   # 4 rows x 6 px
    out = codec.image_to_bgr(image_msg(packed.reshape(4, 6, 2), encoding))
    want = cv2.cvtColor(np.array([[[y, u, v]]], np.uint8), cv2.COLOR_YUV2BGR)[0, 0]
    assert out.shape == (4, 6, 3)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0), want, atol=25)
    assert out[..., 2].mean() > out[..., 0].mean() + 50        # red, not blue: U/V not swapped


def test_rclpy_style_message_with_array_data(bgr):
    """rclpy gives data as array.array('B') and plain ints: the codec only reads attributes."""
    msg = SimpleNamespace(height=6, width=10, encoding="bgr8", is_bigendian=0, step=30,
                          data=array.array("B", bgr.tobytes()))
    np.testing.assert_array_equal(codec.image_to_bgr(msg), bgr)
    msg.data = bgr.tobytes()
    np.testing.assert_array_equal(codec.decode_bgr(msg), bgr)


def test_compressed_png_jpeg_and_depth(bgr):
    ok, png = cv2.imencode(".png", bgr)
    msg = CompressedImage(header=header(), format="rgb8; png compressed bgr8",
                          data=png.reshape(-1))
    np.testing.assert_array_equal(codec.decode_bgr(msg), bgr)
    big = cv2.resize(bgr, (80, 48), interpolation=cv2.INTER_NEAREST)
    fields = codec.compressed_fields(big, "jpeg", quality=95)
    out = codec.decode_bgr(CompressedImage(header=header(), **fields))
    assert out.shape == big.shape
    assert np.abs(out.astype(int) - big).mean() < 20

    mm = np.array([[0, 1500], [2000, 65000]], np.uint16)
    ok, png16 = cv2.imencode(".png", mm)
    data = np.concatenate([np.frombuffer(struct.pack("<iff", 0, 0, 0), np.uint8),
                           png16.reshape(-1)])
    depth = CompressedImage(header=header(), format="16UC1; compressedDepth png", data=data)
    np.testing.assert_allclose(codec.decode_depth(depth), [[np.nan, 1.5], [2.0, 65.0]])
    with pytest.raises(codec.UnsupportedEncodingError, match="depth"):
        codec.decode_bgr(depth)


def test_image_fields_round_trip(bgr):
    for encoding in ("bgr8", "rgb8"):
        msg = Image(header=header(), **codec.image_fields(bgr, encoding))
        np.testing.assert_array_equal(codec.image_to_bgr(msg), bgr)


def test_errors_name_the_cause(bgr):
    msg = image_msg(bgr, "bgr8")
    msg.encoding = "nv12"
    with pytest.raises(codec.UnsupportedEncodingError, match="'nv12'.*supported are") as err:
        codec.image_to_bgr(msg)
    assert isinstance(err.value, PoseRosError)
    with pytest.raises(codec.UnsupportedEncodingError, match="depth image"):
        codec.image_to_bgr(image_msg(np.zeros((2, 2, 1), np.uint16), "16UC1"))
    short = image_msg(bgr, "bgr8")
    short.data = short.data[:-5]
    with pytest.raises(PoseRosError, match="corrupt"):
        codec.image_to_bgr(short)
    bad = CompressedImage(header=header(), format="jpeg", data=np.arange(50, dtype=np.uint8))
    with pytest.raises(PoseRosError, match="decode"):
        codec.decode_bgr(bad)
