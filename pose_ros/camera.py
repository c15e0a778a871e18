"""Camera geometry: intrinsics, projection, and placing a lifted skeleton in the camera frame.

Frames are camera optical frames (REP-103: x right, y down, z forward), pixels have (0, 0) at
the top-left corner. Lens distortion: when a CameraInfo has non-zero D, 2D keypoints are
undistorted with cv2.undistortPoints before they are used in 3D; otherwise it is ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_HFOV_DEG = 69.0   # a typical RGB-D robot camera (RealSense D4xx colour: 69 x 42 degrees)
MIN_DEPTH_JOINTS = 3      # joints with valid depth needed to trust a depth-based root


@dataclass(frozen=True)
class CameraIntrinsics:
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] = ()

    @classmethod
    def guess(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG):
        """Square pixels, principal point at the centre, horizontal field of view `hfov_deg`."""
        f = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
        return cls(f, f, width / 2, height / 2, int(width), int(height))

    @classmethod
    def from_camera_info(cls, info) -> CameraIntrinsics:
        """From a sensor_msgs/CameraInfo-like object (.k, .d, .width, .height) or such a dict."""
        get = info.get if isinstance(info, dict) else lambda name: getattr(info, name)
        k = np.asarray(get("k"), dtype=np.float64).reshape(-1)
        if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
            raise ValueError(f"camera_info has no usable K matrix ({k.tolist()}): calibrate the "
                             "camera or leave camera_info out to use a guessed field of view")
        d = np.asarray(get("d") if _has(info, "d") else [], dtype=np.float64).reshape(-1)
        distortion = tuple(d.tolist()) if np.any(d != 0) else ()
        return cls(float(k[0]), float(k[4]), float(k[2]), float(k[5]), int(get("width")),
                   int(get("height")), distortion)

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]])

    def normalized(self, points_px: np.ndarray) -> np.ndarray:
        """(..., 2) pixels -> (..., 2) normalized image coordinates (x/z, y/z), undistorted."""
        pts = np.asarray(points_px, dtype=np.float64)
        if self.distortion:
            flat = pts.reshape(-1, 1, 2)
            und = cv2.undistortPoints(flat, self.matrix(), np.array(self.distortion))
            return und.reshape(pts.shape)
        return np.stack([(pts[..., 0] - self.cx) / self.fx,
                         (pts[..., 1] - self.cy) / self.fy], axis=-1)

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame metres -> (..., 2) pixels (pinhole, no distortion)."""
        p = np.asarray(points_m, dtype=np.float64)
        z = p[..., 2]
        return np.stack([self.fx * p[..., 0] / z + self.cx, self.fy * p[..., 1] / z + self.cy],
                        axis=-1)

    def back_project(self, points_px: np.ndarray, depth_m: np.ndarray) -> np.ndarray:
        """(..., 2) pixels + (...) z-depth in metres -> (..., 3) camera-frame metres."""
        xy = self.normalized(points_px)
        z = np.asarray(depth_m, dtype=np.float64)
        return np.concatenate([xy * z[..., None], z[..., None]], axis=-1)


def _has(info, name: str) -> bool:
    return name in info if isinstance(info, dict) else hasattr(info, name)


def solve_root(relative_m: np.ndarray, keypoints: np.ndarray,
               intrinsics: CameraIntrinsics) -> np.ndarray:
    """Translation T that best reprojects `relative_m + T` onto the 2D keypoints.

    relative_m: (J, 3) root-relative joints; keypoints: (J, 3) x_px, y_px, score. Weighted linear
    least squares on x_n (Z + Tz) = X + Tx (same for y), weights = scores: exact without noise.
    """
    xy = intrinsics.normalized(keypoints[:, :2])
    w = np.sqrt(np.clip(keypoints[:, 2], 0.0, 1.0)) + 1e-6
    X, Y, Z = relative_m[:, 0], relative_m[:, 1], relative_m[:, 2]
    ones, zeros = np.ones_like(X), np.zeros_like(X)
    a = np.concatenate([np.stack([ones, zeros, -xy[:, 0]], 1),
                        np.stack([zeros, ones, -xy[:, 1]], 1)])
    b = np.concatenate([xy[:, 0] * Z - X, xy[:, 1] * Z - Y])
    ww = np.concatenate([w, w])
    root, *_ = np.linalg.lstsq(a * ww[:, None], b * ww, rcond=None)
    if root[2] <= 0:  # behind the camera: degenerate input; keep the person in front
        root[2] = max(abs(root[2]), 0.5)
    return root


def sample_depth(depth_m: np.ndarray, points_px: np.ndarray, radius_px: int = 3) -> np.ndarray:
    """Median of valid depth (finite, > 0) in a (2r+1)^2 window around each point; NaN if none."""
    h, w = depth_m.shape[:2]
    offsets = np.arange(-radius_px, radius_px + 1)
    cols = np.floor(points_px[:, 0]).astype(np.int64)[:, None, None] + offsets[None, None, :]
    rows = np.floor(points_px[:, 1]).astype(np.int64)[:, None, None] + offsets[None, :, None]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    patch = depth_m[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)].astype(np.float64)
    patch = np.where(inside & np.isfinite(patch) & (patch > 0), patch, np.nan)
    flat = patch.reshape(len(points_px), -1)
    out = np.full(len(points_px), np.nan)
    valid = ~np.all(np.isnan(flat), axis=1)
    out[valid] = np.nanmedian(flat[valid], axis=1)
    return out


def root_from_depth(relative_m: np.ndarray, keypoints: np.ndarray, depth_m: np.ndarray,
                    intrinsics: CameraIntrinsics, min_score: float = 0.3) -> np.ndarray | None:
    """Root from an aligned depth image, or None when too few joints have valid depth.

    Each confident joint with depth gives a root candidate (its back-projected point minus its
    lifted offset from the root); the median of candidates is robust to depth edges and
    occluders. Depth images hold z (not range), 16UC1 converted to metres by the caller.
    """
    z = sample_depth(depth_m, keypoints[:, :2])
    ok = np.isfinite(z) & (keypoints[:, 2] >= min_score)
    if ok.sum() < MIN_DEPTH_JOINTS:
        return None
    points = intrinsics.back_project(keypoints[ok, :2], z[ok])
    return np.median(points - relative_m[ok], axis=0)
