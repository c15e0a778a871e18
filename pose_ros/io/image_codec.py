"""sensor_msgs/Image and CompressedImage <-> numpy, for any message class.

Works on rosbags' dataclasses and rclpy's generated classes alike: it only reads `.encoding`,
`.height`, `.width`, `.step`, `.is_bigendian`, `.data` (Image) or `.format`, `.data`
(CompressedImage), and it builds plain field dicts for the caller's own message class. The ROS
node falls back to it when cv_bridge is missing or fails, so offline and online decode the same.

Colour images come out as (H, W, 3) uint8 BGR, OpenCV's order (what cv_bridge's "bgr8" gives and
what the pipeline takes). Depth comes out as (H, W) float32 metres with NaN where missing.

Every problem with a message (unknown encoding, short data, a step too small, undecodable bytes,
a compressed image announcing more than DECODE_LIMIT_PX pixels) raises PoseRosError with the
reason; nothing else escapes (OpenCV's own errors are caught), so callers skip the frame and go
on. Decoding does not judge sizes: `check_frame_size` says whether
the pipeline supports a frame, and the runner and the node call it.
"""

from __future__ import annotations

import struct

import cv2
import numpy as np

from pose_ros.errors import PoseRosError

# Frame sizes the pipeline supports, per side: a 16 px image still runs through detection,
# landmarks, drawing and the H.264 video (tested); above 8192 px (8K) a frame takes hundreds of
# MB per copy and the video encoder's limits are near, so such input is named and refused.
MIN_SIDE_PX = 16
MAX_SIDE_PX = 8192
# Compressed images announcing more pixels than this are not decoded: a few hundred kB of PNG
# can claim 17000 x 17000 pixels, and OpenCV's own limit (2**30 pixels, 3 GB) is far above any
# camera. 10000 x 10000 still decodes, so check_frame_size can name its size.
DECODE_LIMIT_PX = 16384 * 16384
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}

# encoding -> (numpy dtype, channels)
_LAYOUTS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "mono8": ("u1", 1), "8UC1": ("u1", 1), "8UC3": ("u1", 3), "8UC4": ("u1", 4),
    "rgb16": ("u2", 3), "bgr16": ("u2", 3), "rgba16": ("u2", 4), "bgra16": ("u2", 4),
    "mono16": ("u2", 1), "16UC1": ("u2", 1), "32FC1": ("f4", 1),
    "yuv422": ("u1", 2), "uyvy": ("u1", 2), "yuv422_yuy2": ("u1", 2), "yuyv": ("u1", 2),
    "bayer_rggb8": ("u1", 1), "bayer_bggr8": ("u1", 1), "bayer_gbrg8": ("u1", 1),
    "bayer_grbg8": ("u1", 1),
}
# Conversions of the (H, W, C) array of an encoding to BGR, None = already BGR.
_TO_BGR: dict[str, int | None] = {
    "rgb8": cv2.COLOR_RGB2BGR, "bgr8": None, "rgba8": cv2.COLOR_RGBA2BGR,
    "bgra8": cv2.COLOR_BGRA2BGR, "mono8": cv2.COLOR_GRAY2BGR, "8UC1": cv2.COLOR_GRAY2BGR,
    "8UC3": None, "8UC4": cv2.COLOR_BGRA2BGR,
    "rgb16": cv2.COLOR_RGB2BGR, "bgr16": None, "rgba16": cv2.COLOR_RGBA2BGR,
    "bgra16": cv2.COLOR_BGRA2BGR, "mono16": cv2.COLOR_GRAY2BGR,
    "yuv422": cv2.COLOR_YUV2BGR_UYVY, "uyvy": cv2.COLOR_YUV2BGR_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2BGR_YUY2, "yuyv": cv2.COLOR_YUV2BGR_YUY2,
    # ROS names the first 2x2 cell; OpenCV names the second row's cell (as cv_bridge maps them).
    "bayer_rggb8": cv2.COLOR_BayerBG2BGR, "bayer_bggr8": cv2.COLOR_BayerRG2BGR,
    "bayer_gbrg8": cv2.COLOR_BayerGR2BGR, "bayer_grbg8": cv2.COLOR_BayerGB2BGR,
}
COLOUR_ENCODINGS = tuple(_TO_BGR)
_EVEN_WIDTH = ("yuv422", "uyvy", "yuv422_yuy2", "yuyv")
DEPTH_ENCODINGS = ("16UC1", "32FC1")


class UnsupportedEncodingError(PoseRosError):
    pass


def check_frame_size(width: int, height: int, what: str = "frame") -> None:
    """PoseRosError unless MIN_SIDE_PX <= width, height <= MAX_SIDE_PX."""
    if not (MIN_SIDE_PX <= width <= MAX_SIDE_PX and MIN_SIDE_PX <= height <= MAX_SIDE_PX):
        raise PoseRosError(
            f"{what} size {width}x{height} is outside what pose-ros supports ({MIN_SIDE_PX} to "
            f"{MAX_SIDE_PX} pixels per side): resize the input (e.g. `ffmpeg -i IN -vf "
            f"scale=1280:-2 OUT`) or publish a supported size")


def announced_size(data: bytes | np.ndarray) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header without decoding; None for other data.

    Hand-written because OpenCV has no header-only read: PNG's IHDR is at a fixed place, JPEG's
    size is in its first start-of-frame segment.
    """
    head = bytes(data[:8])
    if head == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", bytes(data[16:24]))
        return width, height
    if head[:2] == b"\xff\xd8":
        raw, i = bytes(data[:1 << 16]), 2
        while i + 9 <= len(raw) and raw[i] == 0xFF:
            marker, length = raw[i + 1], struct.unpack(">H", raw[i + 2:i + 4])[0]
            if marker in _JPEG_SOF:
                height, width = struct.unpack(">HH", raw[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


def _imdecode(data: np.ndarray, what: str, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray | None:
    """cv2.imdecode that refuses decompression bombs and names OpenCV's refusals instead of
    raising cv2.error."""
    if data.size == 0:
        raise PoseRosError(f"empty {what}: the message has no data")
    size = announced_size(data)
    if size is not None and size[0] * size[1] > DECODE_LIMIT_PX:
        raise PoseRosError(
            f"{what} announces {size[0]}x{size[1]} pixels, more than pose-ros decodes "
            f"({MIN_SIDE_PX} to {MAX_SIDE_PX} pixels per side are supported)")
    try:
        return cv2.imdecode(data, flags)
    except cv2.error as exc:
        raise PoseRosError(f"could not decode the {what}: {str(exc).strip().splitlines()[-1]}") \
            from None


def _bytes(data) -> np.ndarray:
    """Message data (numpy array, bytes, array.array, list) as flat uint8, without copying."""
    if isinstance(data, np.ndarray):
        return data.view(np.uint8).reshape(-1)
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:
        return np.asarray(data, dtype=np.uint8)


def image_to_array(msg) -> np.ndarray:
    """Image message -> (H, W) or (H, W, C) array in the encoding's own dtype and channel order.

    Honours `step` (rows padded beyond width * pixel size) and `is_bigendian`.
    """
    encoding = str(msg.encoding)
    if encoding not in _LAYOUTS:
        raise UnsupportedEncodingError(
            f"unsupported image encoding {encoding!r}: supported are "
            f"{', '.join(COLOUR_ENCODINGS + ('32FC1',))} (convert the topic, e.g. with "
            f"image_proc, or publish one of these)")
    kind, channels = _LAYOUTS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    dtype = np.dtype(kind).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = width * channels * dtype.itemsize
    data = _bytes(msg.data)
    if height <= 0 or width <= 0:
        raise PoseRosError(f"empty {encoding} image ({width}x{height}): the publisher sent no "
                           f"pixels")
    if step < row_bytes or data.size < step * (height - 1) + row_bytes:
        raise PoseRosError(
            f"corrupt {encoding} image: {width}x{height} needs step >= {row_bytes} and "
            f"{step * height} bytes, got step {step} and {data.size} bytes")
    if encoding in _EVEN_WIDTH and width % 2:
        raise PoseRosError(f"corrupt {encoding} image: width {width} is odd (4:2:2 pixels come "
                           f"in pairs)")
    rows = np.lib.stride_tricks.as_strided(data, shape=(height, row_bytes), strides=(step, 1))
    array = np.ascontiguousarray(rows).view(dtype).reshape(height, width, channels)
    array = array.astype(dtype.newbyteorder("="), copy=False)
    return array[..., 0] if channels == 1 else array


def image_to_bgr(msg) -> np.ndarray:
    """Image message -> (H, W, 3) uint8 BGR. 16-bit colour is scaled to 8 bits."""
    encoding = str(msg.encoding)
    if encoding in DEPTH_ENCODINGS:
        raise UnsupportedEncodingError(
            f"image encoding {encoding!r} is a depth image, not a colour image: choose the "
            f"colour topic (depth is used only as an aligned depth topic)")
    array = image_to_array(msg)
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    code = _TO_BGR[encoding]
    out = array if code is None else cv2.cvtColor(array, code)
    return np.ascontiguousarray(out)


def depth_to_metres(msg) -> np.ndarray:
    """Depth Image message (16UC1 millimetres or 32FC1 metres) -> (H, W) float32 metres, NaN = none.

    Zero, NaN and infinite readings are missing.
    """
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise UnsupportedEncodingError(
            f"unsupported depth encoding {encoding!r}: use 16UC1 (millimetres) or 32FC1 (metres)")
    array = image_to_array(msg)
    with np.errstate(all="ignore"):                  # NaN and inf readings are "missing"
        metres = array.astype(np.float32) * (np.float32(1e-3) if encoding == "16UC1" else 1)
        metres[~np.isfinite(metres) | (metres <= 0)] = np.nan
    return metres


def image_file_to_bgr(data: bytes, what: str = "image file") -> np.ndarray:
    """An image file's bytes (JPEG, PNG, ...) -> (H, W, 3) uint8 BGR, as cv2.imread's
    IMREAD_COLOR reads it (grey, alpha and 16-bit converted; EXIF orientation applied)."""
    image = _imdecode(np.frombuffer(data, np.uint8), what, cv2.IMREAD_COLOR)
    if image is None:
        raise PoseRosError(f"OpenCV cannot decode the {what} (not an image, corrupt or "
                           f"truncated)")
    return image


def compressed_to_bgr(msg) -> np.ndarray:
    """CompressedImage (jpeg/png, any image_transport format string) -> (H, W, 3) uint8 BGR."""
    fmt = str(msg.format)
    if "compressedDepth" in fmt:
        raise UnsupportedEncodingError(
            f"compressed image format {fmt!r} is depth, not colour: choose the colour topic")
    image = _imdecode(_bytes(msg.data), f"compressed image (format {fmt!r})")
    if image is None:
        raise PoseRosError(f"could not decode a compressed image (format {fmt!r}): not JPEG or "
                           f"PNG data, or truncated")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    # image_transport compresses colour as bgr8 ("rgb8; jpeg compressed bgr8"), so this is BGR.
    return image


def compressed_depth_to_metres(msg) -> np.ndarray:
    """compressed_depth_image_transport message ("16UC1; compressedDepth png") -> metres, NaN."""
    fmt = str(msg.format)
    data = _bytes(msg.data)
    # A 12-byte header (int32 format, float32 depthQuantA, depthQuantB) precedes the PNG.
    header, png = data[:12], data[12:]
    image = _imdecode(png, f"compressed depth image (format {fmt!r})") if data.size > 12 \
        else None
    if image is None or image.ndim != 2 or image.dtype != np.uint16:
        raise PoseRosError(f"could not decode a compressed depth image (format {fmt!r}): "
                           f"compressed_depth_image_transport sends a 12-byte header and a "
                           f"16-bit PNG")
    if fmt.startswith("32FC1"):
        quant_a, quant_b = np.frombuffer(header.tobytes()[4:12], dtype="<f4")
        valid = image > 0
        metres = np.full(image.shape, np.nan, np.float32)
        with np.errstate(all="ignore"):      # garbage quantization gives inf/NaN: missing
            metres[valid] = quant_a / (image[valid].astype(np.float32) - quant_b)
    else:
        metres = image.astype(np.float32) * np.float32(1e-3)
    with np.errstate(all="ignore"):
        metres[~np.isfinite(metres) | (metres <= 0)] = np.nan
    return metres


def is_compressed(msg) -> bool:
    return hasattr(msg, "format") and not hasattr(msg, "encoding")


def decode_bgr(msg) -> np.ndarray:
    """Image or CompressedImage message -> (H, W, 3) uint8 BGR."""
    return compressed_to_bgr(msg) if is_compressed(msg) else image_to_bgr(msg)


def decode_depth(msg) -> np.ndarray:
    """Depth Image or compressedDepth CompressedImage -> (H, W) float32 metres, NaN = missing."""
    return compressed_depth_to_metres(msg) if is_compressed(msg) else depth_to_metres(msg)


def image_fields(image_bgr: np.ndarray, encoding: str = "bgr8") -> dict:
    """(H, W, 3) uint8 BGR -> sensor_msgs/Image fields (no header) for any message class.

    `data` is a flat uint8 numpy array (rosbags takes it as is; messages.RosFactory packs it).
    """
    if image_bgr.dtype != np.uint8 or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8 BGR, got {image_bgr.shape} {image_bgr.dtype}")
    if encoding == "rgb8":
        image = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
    elif encoding == "bgr8":
        image = image_bgr
    else:
        raise ValueError(f"image_fields writes bgr8 or rgb8, not {encoding!r}")
    height, width = image.shape[:2]
    return {"height": height, "width": width, "encoding": encoding, "is_bigendian": 0,
            "step": width * 3, "data": np.ascontiguousarray(image).reshape(-1)}


def compressed_fields(image_bgr: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> dict:
    """(H, W, 3) uint8 BGR -> sensor_msgs/CompressedImage fields (no header)."""
    ext = {"jpeg": ".jpg", "png": ".png"}[fmt]
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpeg" else []
    ok, buf = cv2.imencode(ext, image_bgr, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image_bgr.shape} image as {fmt}")
    return {"format": fmt, "data": buf.reshape(-1)}
