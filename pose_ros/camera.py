"""Camera geometry: intrinsics, projection, and placing a lifted skeleton in the camera frame.

Frames are camera optical frames (REP-103: x right, y down, z forward), pixels have (0, 0) at
the top-left corner. Intrinsics come from a sensor_msgs/CameraInfo as its rules say: K and D are
for the full sensor resolution, `binning_x/y` and `roi` describe the image actually published
(image_geometry's PinholeCameraModel reads them the same way). Lens distortion (plumb_bob,
rational_polynomial: OpenCV's model; equidistant: cv2.fisheye) is undone on the 2D keypoints
before they are used in 3D; other models are reported by `distortion_problem()` and ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

DEFAULT_HFOV_DEG = 69.0   # a typical RGB-D robot camera (RealSense D4xx colour: 69 x 42 degrees)
MIN_DEPTH_JOINTS = 3      # joints with valid depth needed to trust a depth-based root
# distortion_model -> allowed lengths of D (sensor_msgs/distortion_models.hpp names)
DISTORTION_MODELS = {"plumb_bob": (4, 5, 8, 12, 14), "rational_polynomial": (8, 12, 14),
                     "equidistant": (4,)}
# cv2.undistortPoints' default 5 iterations leave pixels of error at the corners of wide lenses.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
ASPECT_TOLERANCE = 0.01   # a CameraInfo is scaled to an image of the same aspect ratio only


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of one image size, with the lens distortion of the raw image."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion: tuple[float, ...] = ()
    distortion_model: str = "plumb_bob"

    @classmethod
    def guess(cls, width: int, height: int, hfov_deg: float = DEFAULT_HFOV_DEG):
        """Square pixels, principal point at the centre, horizontal field of view `hfov_deg`."""
        f = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
        return cls(f, f, width / 2, height / 2, int(width), int(height))

    @classmethod
    def from_camera_info(cls, info) -> CameraIntrinsics:
        """From a sensor_msgs/CameraInfo-like object or dict, for the image it describes.

        Binning and ROI are applied (image size (roi or full) / binning, K shifted by the ROI
        offset and divided by the binning). Raises ValueError when K is unusable (an
        uncalibrated camera publishes K all zeros).
        """
        get = info.get if isinstance(info, dict) else lambda name: getattr(info, name)
        k = np.asarray(get("k"), dtype=np.float64).reshape(-1)
        if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
            raise ValueError(f"camera_info has no usable K matrix ({k.tolist()})")
        d = np.asarray(get("d") if _has(info, "d") else [], dtype=np.float64).reshape(-1)
        if not np.all(np.isfinite(d)):
            raise ValueError(f"camera_info has non-finite distortion coefficients {d.tolist()}")
        model = str(get("distortion_model") if _has(info, "distortion_model") else "") \
            or "plumb_bob"
        distortion = tuple(d.tolist()) if np.any(d != 0) else ()
        width, height = int(get("width")), int(get("height"))
        bin_x = int(get("binning_x") if _has(info, "binning_x") else 0) or 1
        bin_y = int(get("binning_y") if _has(info, "binning_y") else 0) or 1
        x0 = y0 = 0
        roi = get("roi") if _has(info, "roi") else None
        if roi is not None:
            rget = roi.get if isinstance(roi, dict) else lambda name: getattr(roi, name)
            if int(rget("width")) > 0 and int(rget("height")) > 0:
                x0, y0 = int(rget("x_offset")), int(rget("y_offset"))
                width, height = int(rget("width")), int(rget("height"))
        if bin_x < 0 or bin_y < 0 or width // bin_x <= 0 or height // bin_y <= 0:
            raise ValueError(f"camera_info describes no image: {width}x{height} (roi or full "
                             f"size) with binning {bin_x}x{bin_y}")
        intrinsics = cls(float(k[0]) / bin_x, float(k[4]) / bin_y, (float(k[2]) - x0) / bin_x,
                         (float(k[5]) - y0) / bin_y, width // bin_x, height // bin_y,
                         distortion, model)
        w, h = intrinsics.width, intrinsics.height
        corners = np.array([[0.0, 0.0], [w - 1.0, 0.0], [0.0, h - 1.0], [w - 1.0, h - 1.0],
                            [w / 2, h / 2]])
        with np.errstate(all="ignore"):
            rays = intrinsics.normalized(corners)
        if not np.all(np.isfinite(rays)):   # e.g. fx 1e-306, or coefficients that diverge
            raise ValueError(f"camera_info K {k.tolist()} and D {d.tolist()[:14]} give no "
                             f"finite rays through the image corners")
        return intrinsics

    def scaled_to(self, width: int, height: int) -> CameraIntrinsics:
        """These intrinsics for the same view resized to width x height (as image_proc's resize
        scales K); ValueError when the aspect ratio differs (a crop is not a resize)."""
        sx, sy = width / self.width, height / self.height
        if abs(sx / sy - 1.0) > ASPECT_TOLERANCE:
            raise ValueError(f"camera_info is for {self.width}x{self.height}, the image is "
                             f"{width}x{height}: another aspect ratio, not a resize of it")
        return replace(self, fx=self.fx * sx, fy=self.fy * sy, cx=self.cx * sx,
                       cy=self.cy * sy, width=int(width), height=int(height))

    def distortion_problem(self) -> str | None:
        """Why the distortion coefficients are ignored, or None when they are applied."""
        if not self.distortion:
            return None
        lengths = DISTORTION_MODELS.get(self.distortion_model)
        if lengths is None:
            return (f"distortion model {self.distortion_model!r} is not supported (supported: "
                    f"{', '.join(DISTORTION_MODELS)}): its coefficients are ignored")
        if len(self.distortion) not in lengths:
            return (f"{self.distortion_model} distortion needs {' or '.join(map(str, lengths))} "
                    f"coefficients, camera_info has {len(self.distortion)}: they are ignored")
        return None

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]])

    def normalized(self, points_px: np.ndarray) -> np.ndarray:
        """(..., 2) pixels -> (..., 2) normalized image coordinates (x/z, y/z), undistorted."""
        pts = np.asarray(points_px, dtype=np.float64)
        if self.distortion and self.distortion_problem() is None and pts.size:
            flat = pts.reshape(-1, 1, 2)
            d = np.array(self.distortion)
            if self.distortion_model == "equidistant":
                und = cv2.fisheye.undistortPoints(flat, self.matrix(), d)
            else:
                und = _undistort_points(flat, self.matrix(), d)
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


def _undistort_points(points: np.ndarray, k: np.ndarray, d: np.ndarray) -> np.ndarray:
    """cv2.undistortPoints iterated to convergence: OpenCV 4 names that overload
    undistortPointsIter; OpenCV 5 takes the criteria in undistortPoints itself."""
    iterate = getattr(cv2, "undistortPointsIter", None)
    if iterate is not None:
        return iterate(points, k, d, None, None, _UNDISTORT_CRITERIA)
    return cv2.undistortPoints(points, k, d, R=None, P=None, criteria=_UNDISTORT_CRITERIA)


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
