"""Rotated square regions of interest, and the affine crops that feed BlazePose's networks.

Conventions follow MediaPipe's ImageToTensorCalculator (OpenCV path), so our crops are the
ones its models were run with: a crop of side `size_px` at `center_px`, turned by
`rotation_rad`, is mapped corner-to-corner onto the output tensor; output pixel (j, i) samples
the source at

    u = j / out_w - 0.5,  v = i / out_h - 0.5
    x = cx + size * (cos(r) * u - sin(r) * v)
    y = cy + size * (sin(r) * u + cos(r) * v)

in source pixel-index coordinates (pixel centres at integers), bilinearly. With image y pointing
down, a positive rotation turns the crop clockwise on screen; 0 means the person is upright.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

ROI_SCALE = 1.25  # MediaPipe enlarges the alignment box by 25 % on each side (RectTransformation)


@dataclass
class Roi:
    """A square, rotated region of one person, in source-image pixels.

    Attributes:
        center_px: (2,) x, y of the centre (the person's mid-hip for BlazePose).
        size_px: side length.
        rotation_rad: MediaPipe convention: 0 = upright person; positive turns the crop
            clockwise on screen (image y down). Normalized to [-pi, pi).
        score: detection score, or pose presence for a ROI carried over from landmarks.
    """

    center_px: np.ndarray
    size_px: float
    rotation_rad: float
    score: float = field(default=1.0)

    def __post_init__(self) -> None:
        self.center_px = np.asarray(self.center_px, dtype=np.float32).reshape(2)
        self.size_px = float(self.size_px)
        self.rotation_rad = float(self.rotation_rad)
        self.score = float(self.score)


def rois_to_array(rois: list[Roi]) -> np.ndarray:
    """(N, 4) float32: cx, cy, size, rotation."""
    return np.array([[*r.center_px, r.size_px, r.rotation_rad] for r in rois],
                    dtype=np.float32).reshape(-1, 4)


def rois_from_array(arr: np.ndarray, scores: np.ndarray | None = None) -> list[Roi]:
    scores = np.ones(len(arr)) if scores is None else scores
    return [Roi(a[:2].copy(), a[2], a[3], s) for a, s in zip(arr, scores)]


def normalize_radians(angle: np.ndarray) -> np.ndarray:
    return angle - 2 * np.pi * np.floor((angle + np.pi) / (2 * np.pi))


def rois_from_points(center_px: np.ndarray, scale_px: np.ndarray) -> np.ndarray:
    """(N, 4) ROIs from alignment points, as MediaPipe's AlignmentPointsRects + RectTransformation.

    The centre is the first point; the side is 2 x the distance to the second point, x 1.25;
    the rotation makes the centre -> second point vector point up (90 degrees target angle).
    """
    center_px = np.asarray(center_px, dtype=np.float32).reshape(-1, 2)
    delta = np.asarray(scale_px, dtype=np.float32).reshape(-1, 2) - center_px
    size = 2.0 * np.hypot(delta[:, 0], delta[:, 1]) * ROI_SCALE
    rotation = normalize_radians(np.pi / 2 - np.arctan2(-delta[:, 1], delta[:, 0]))
    return np.column_stack([center_px, size, rotation]).astype(np.float32)


def letterbox_roi(width: int, height: int) -> np.ndarray:
    """(1, 4) ROI of the whole image padded to a square (MediaPipe keep_aspect_ratio)."""
    return np.array([[width / 2, height / 2, max(width, height), 0.0]], dtype=np.float32)


def crop_to_source(rois: np.ndarray, out_size: int) -> np.ndarray:
    """(N, 2, 3) float64 affine maps from output pixel (j, i, 1) to source pixel (x, y)."""
    rois = np.asarray(rois, dtype=np.float64).reshape(-1, 4)
    cx, cy, size, rot = rois.T
    c, s = np.cos(rot) * size, np.sin(rot) * size
    m = np.empty((len(rois), 2, 3))
    m[:, 0] = np.stack([c / out_size, -s / out_size, cx - 0.5 * c + 0.5 * s], axis=1)
    m[:, 1] = np.stack([s / out_size, c / out_size, cy - 0.5 * s - 0.5 * c], axis=1)
    return m


def project_to_source(points: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
    """(N, K, 2) crop-normalized points ([0, 1] across the crop) -> (N, K, 2) source pixels."""
    u, v = points[..., 0] - 0.5, points[..., 1] - 0.5
    cx, cy, size, rot = (rois[:, i, None] for i in range(4))
    c, s = torch.cos(rot), torch.sin(rot)
    return torch.stack([cx + size * (c * u - s * v), cy + size * (s * u + c * v)], dim=-1)


def source_planes(rois: np.ndarray, out_size: int) -> np.ndarray:
    """(N, 2, out, out) float32: source pixel x (plane 0) and y (plane 1) sampled by each output
    pixel. Planes, not (out, out, 2) pairs: numpy's loops then run along rows of 256 values, and
    OpenCV takes the two planes as they are (a pair layout cost 3x as much to build)."""
    m = crop_to_source(rois, out_size)[:, :, None, None, :]  # (N, 2, 1, 1, 3)
    idx = np.arange(out_size, dtype=np.float64)
    xy = m[..., 0] * idx[None, :] + m[..., 1] * idx[:, None] + m[..., 2]  # (N, 2, out, out)
    return xy.astype(np.float32)


def crop_cv2(image: np.ndarray, rois: np.ndarray, out_size: int, border: str,
             ) -> np.ndarray:
    """(N, out, out, C) uint8 crops with OpenCV (fastest on CPU: only the crop is touched).

    Uses OpenCV's fixed-point remap (positions rounded to 1/32 pixel, 15-bit weights), which
    reproduces MediaPipe 0.10.14's input tensors bit for bit; cv2.warpAffine in OpenCV >= 5
    interpolates more exactly and so differs by up to 3 grey levels.
    """
    mode = {"zero": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}[border]
    planes = source_planes(rois, out_size)
    out = np.empty((len(planes), out_size, out_size, image.shape[2]), dtype=np.uint8)
    for k, (x, y) in enumerate(planes):  # one remap per person, not per pixel
        fixed, frac = cv2.convertMaps(x, y, cv2.CV_16SC2)
        cv2.remap(image, fixed, frac, cv2.INTER_LINEAR, dst=out[k], borderMode=mode,
                  borderValue=0)
    return out


def crop_torch(image: torch.Tensor, rois: np.ndarray, out_size: int, border: str,
               ) -> torch.Tensor:
    """(N, out, out, C) float crops of a (C, H, W) image, one grid_sample on its device.

    Positions are rounded to 1/32 pixel and values to integers as in crop_cv2, so both paths
    give the same crops up to the 15-bit interpolation weights.
    """
    _, height, width = image.shape
    xy = torch.from_numpy(source_planes(rois, out_size)).to(image.device).permute(0, 2, 3, 1)
    xy = torch.round(xy * 32.0) / 32.0
    scale = torch.tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)],
                         device=image.device)
    grid = (xy * scale - 1.0).reshape(1, -1, out_size, 2)
    padding = {"zero": "zeros", "replicate": "border"}[border]
    out = F.grid_sample(image[None].float(), grid, mode="bilinear",
                        padding_mode=padding, align_corners=True)
    out = torch.round(out[0]).reshape(image.shape[0], -1, out_size, out_size)
    return out.permute(1, 2, 3, 0)
