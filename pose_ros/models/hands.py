"""MediaPipe Holistic's hands on torch: pose wrist/pinky/index -> hand ROI -> hand_recrop ->
hand_landmark_full, every hand of every person in one batch per network.

The stages follow mediapipe 0.10.14's holistic hand subgraphs (HandLandmarksFromPoseCpu): the ROI
from the pose's three hand points (centre on the estimated middle knuckle, side 2 x its distance to
the wrist, x 2.7, shifted 10 % towards the fingers), the re-crop network's two alignment points
(centre and scale point: side 2 x their distance, shifted 10 %), and on video the ROI from last
frame's hand landmarks when it still agrees with the re-crop ROI (RoiTrackingCalculator: within
40 degrees, 20 % translation, 40 % scale, and last landmarks inside the re-crop ROI shrunk 10 %).
A hand is only looked for when the pose's wrist visibility is above 0.1, and kept when the
landmark model's presence is >= 0.5. Crops are MediaPipe's (roi.py), so on the same pose points
our hand keypoints match MediaPipe's (test/test_hands.py against tools/make_hands_golden.py).

    hands = HandLandmarker()
    rois = hands.rois_from_pose(pose_keypoints_px[:, [15, 17, 19]])   # left wrist, pinky, index
    rois = hands.recrop(image_rgb, rois)
    found = hands.landmarks(image_rgb, rois)                          # HandBatch
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from pose_ros.models import store
from pose_ros.models.roi import crop_cv2, normalize_radians, project_to_source
from pose_ros.models.tflite_graph import TFLiteGraph
from pose_ros.skeleton import HAND21

RECROP_INPUT, LANDMARK_INPUT = 256, 224
NUM_HAND_KEYPOINTS = HAND21.num_keypoints
MIN_WRIST_VISIBILITY = 0.1   # HandVisibilityFromHandLandmarksFromPose
MIN_PRESENCE = 0.5           # HandLandmarkCpu's threshold
POSE_ROI_SCALE, RECROP_ROI_SCALE, LANDMARK_ROI_SCALE = 2.7, 1.0, 2.0
ROI_SHIFT_Y = -0.1           # towards the fingers, in units of the ROI side before scaling
# hand_landmarks_to_roi: the palm points (wrist, thumb base, finger bases and their next joints)
PALM_POINTS = np.array([0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18])
TRACK_MAX_ROTATION_DEG, TRACK_MAX_TRANSLATION, TRACK_MAX_SCALE, TRACK_MARGIN = 40.0, 0.2, 0.4, -0.1


@dataclass
class HandBatch:
    """Landmark-model results for N hand ROIs (arrays, one row per ROI, in request order).

    Attributes:
        keypoints_px: (N, 21, 3) x_px, y_px in source pixels, and the presence as score
            (the hand model gives no per-keypoint confidence).
        presence: (N,) probability that a hand is in the ROI (MediaPipe keeps >= 0.5).
        world_m: (N, 21, 3) metres around the hand's centre, turned back by the ROI rotation
            (x right, y down, z away from the camera, roughly camera axes).
        rois: (N, 4) the ROIs the landmarks were found in (cx, cy, side, rotation).
        next_rois: (N, 4) ROIs from these landmarks, for tracking into the next frame.
    """

    keypoints_px: np.ndarray
    presence: np.ndarray
    world_m: np.ndarray
    rois: np.ndarray
    next_rois: np.ndarray


def _shift_and_scale(center: np.ndarray, side: np.ndarray, rotation: np.ndarray,
                     scale: float) -> np.ndarray:
    """RectTransformationCalculator on square pixel ROIs: shift along the rotated y, scale."""
    shift = ROI_SHIFT_Y * side
    cx = center[:, 0] - shift * np.sin(rotation)
    cy = center[:, 1] + shift * np.cos(rotation)
    return np.column_stack([cx, cy, side * scale, rotation]).astype(np.float32)


def rois_from_pose(points_px: np.ndarray) -> np.ndarray:
    """(N, 3, >=2) wrist, pinky, index of one arm (pose keypoints, pixels) -> (N, 4) ROIs."""
    p = np.asarray(points_px, np.float64)[..., :2]
    wrist, pinky, index = p[:, 0], p[:, 1], p[:, 2]
    middle = (2.0 * index + pinky) / 3.0
    d = middle - wrist
    rotation = normalize_radians(np.pi / 2 - np.arctan2(-d[:, 1], d[:, 0]))
    return _shift_and_scale(middle, 2.0 * np.hypot(d[:, 0], d[:, 1]), rotation, POSE_ROI_SCALE)


def rois_from_alignment(center_px: np.ndarray, scale_px: np.ndarray) -> np.ndarray:
    """Re-crop output (centre, scale point), pixels -> (N, 4) ROIs (target angle -90 degrees)."""
    d = scale_px - center_px
    rotation = normalize_radians(-np.pi / 2 - np.arctan2(-d[:, 1], d[:, 0]))
    return _shift_and_scale(center_px, 2.0 * np.hypot(d[:, 0], d[:, 1]), rotation,
                            RECROP_ROI_SCALE)


def rois_from_hand(keypoints_px: np.ndarray) -> np.ndarray:
    """(N, 21, >=2) hand keypoints -> (N, 4) ROIs (HandLandmarksToRect + 2x, 10 % shift)."""
    palm = np.asarray(keypoints_px, np.float64)[:, PALM_POINTS, :2]
    wrist = palm[:, 0]
    knuckles = ((palm[:, 4] + palm[:, 8]) / 2 + palm[:, 6]) / 2   # index, ring, middle bases
    d = knuckles - wrist
    rotation = normalize_radians(np.pi / 2 - np.arctan2(-d[:, 1], d[:, 0]))
    box_centre = (palm.max(axis=1) + palm.min(axis=1)) / 2
    c, s = np.cos(-rotation)[:, None], np.sin(-rotation)[:, None]
    rel = palm - box_centre[:, None]
    turned = np.stack([rel[..., 0] * c - rel[..., 1] * s, rel[..., 0] * s + rel[..., 1] * c], -1)
    lo, hi = turned.min(axis=1), turned.max(axis=1)
    mid = (lo + hi) / 2
    c, s = np.cos(rotation), np.sin(rotation)
    centre = box_centre + np.stack([mid[:, 0] * c - mid[:, 1] * s,
                                    mid[:, 0] * s + mid[:, 1] * c], axis=1)
    # square_long: the long side of the (rotated) box, then the 2x expansion
    side = np.maximum(hi[:, 0] - lo[:, 0], hi[:, 1] - lo[:, 1])
    shifted = _shift_and_scale(centre, (hi[:, 1] - lo[:, 1]), rotation, 1.0)
    shifted[:, 2] = side * LANDMARK_ROI_SCALE
    return shifted


def keep_tracking(prev_rois: np.ndarray, prev_keypoints_px: np.ndarray,
                  recrop_rois: np.ndarray) -> np.ndarray:
    """(N,) bool: last frame's landmark ROI may be used instead of this frame's re-crop ROI."""
    rot = -recrop_rois[:, 3]
    c, s = np.cos(rot), np.sin(rot)

    def turn(x, y):
        return x * c - y * s, x * s + y * c

    px, py = turn(prev_rois[:, 0], prev_rois[:, 1])
    rx, ry = turn(recrop_rois[:, 0], recrop_rois[:, 1])
    dr = np.degrees(prev_rois[:, 3] - recrop_rois[:, 3])
    dr = np.abs((dr + 180.0) % 360.0 - 180.0)
    side = recrop_rois[:, 2]
    ok = (dr <= TRACK_MAX_ROTATION_DEG) & (np.abs(px - rx) <= side * TRACK_MAX_TRANSLATION) \
        & (np.abs(py - ry) <= side * TRACK_MAX_TRANSLATION) \
        & (np.abs(prev_rois[:, 2] - side) <= side * TRACK_MAX_SCALE)
    kx, ky = turn(prev_keypoints_px[..., 0].T, prev_keypoints_px[..., 1].T)   # (21, N)
    half = side * (1.0 + TRACK_MARGIN) / 2
    inside = (np.abs(kx - rx) < half) & (np.abs(ky - ry) < half)
    return ok & inside.all(axis=0)


def _frozen(graph: TFLiteGraph, size: int, device: torch.device, dtype: torch.dtype,
            optimize: bool) -> torch.nn.Module:
    graph = graph.to(device=device, dtype=dtype).eval()
    if not optimize:
        return graph
    example = torch.zeros(1, size, size, 3, device=device, dtype=dtype)
    with torch.no_grad(), warnings.catch_warnings():   # as BlazePose: a frozen trace is fastest
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.freeze(torch.jit.trace(graph, example).eval())


class HandLandmarker:
    """hand_recrop + hand_landmark_full (MediaPipe 0.10.14, Apache-2.0) on our torch executor.

    Args:
        recrop_model, landmark_model: model store names or local .tflite paths.
        device: torch device; precision: "fp32" or "fp16".
        allow_download: fetch missing models with pip.
        optimize: frozen traced graphs (False keeps eager modules, for debugging).
    """

    def __init__(self, *, recrop_model: str = "hand_recrop",
                 landmark_model: str = "hand_landmark_full", device: str = "cpu",
                 precision: str = "fp32", allow_download: bool = True,
                 optimize: bool = True) -> None:
        self.device = torch.device(device)
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        recrop_path = store.model_path(recrop_model, allow_download=allow_download)
        landmark_path = store.model_path(landmark_model, allow_download=allow_download)
        self.recrop_net = _frozen(TFLiteGraph(recrop_path), RECROP_INPUT, self.device,
                                  self.dtype, optimize)
        self.landmark_net = _frozen(TFLiteGraph(landmark_path), LANDMARK_INPUT, self.device,
                                    self.dtype, optimize)

    def _crops(self, image, rois: np.ndarray, size: int) -> torch.Tensor:
        """(N, size, size, 3) RGB in [0, 1]; ROIs are square in pixels, so no letterbox.

        `image`: (H, W, 3) uint8 RGB, or BlazePose's FrameInput (pixels + bgr flag). Hand crops
        are small: they are cut on the CPU with OpenCV and uploaded, on any device.
        """
        pixels, bgr = (image.pixels, image.bgr) if hasattr(image, "pixels") else (image, False)
        crops = crop_cv2(pixels, rois, size, "replicate")
        if bgr:
            crops = crops[..., ::-1]
        return (torch.from_numpy(np.ascontiguousarray(crops)).to(self.device, self.dtype)
                * (1.0 / 255.0))

    rois_from_pose = staticmethod(rois_from_pose)

    @torch.no_grad()
    def recrop(self, image_rgb, rois: np.ndarray) -> np.ndarray:
        """(N, 4) pose-derived ROIs -> (N, 4) refined ROIs, one batched pass."""
        if len(rois) == 0:
            return np.zeros((0, 4), np.float32)
        (out,) = self.recrop_net(self._crops(image_rgb, rois, RECROP_INPUT))
        points = out.float().reshape(len(rois), 2, 2) / RECROP_INPUT
        px = project_to_source(points, torch.from_numpy(rois).to(points.device))
        px = px.cpu().numpy().astype(np.float64)
        return rois_from_alignment(px[:, 0], px[:, 1])

    @torch.no_grad()
    def landmarks(self, image_rgb, rois: np.ndarray) -> HandBatch:
        """21 keypoints per ROI, one batched pass; `presence` says whether a hand is there."""
        n = len(rois)
        if n == 0:
            empty = np.zeros((0, NUM_HAND_KEYPOINTS, 3), np.float32)
            return HandBatch(empty, np.zeros(0, np.float32), empty, np.zeros((0, 4), np.float32),
                             np.zeros((0, 4), np.float32))
        raw, presence, _handedness, world = self.landmark_net(
            self._crops(image_rgb, rois, LANDMARK_INPUT))
        xy = raw.float().reshape(n, NUM_HAND_KEYPOINTS, 3)[..., :2] / LANDMARK_INPUT
        rois_t = torch.from_numpy(rois).to(xy.device)
        xy_px = project_to_source(xy, rois_t).cpu().numpy()
        presence = presence.float().reshape(n).cpu().numpy()
        w = world.float().reshape(n, NUM_HAND_KEYPOINTS, 3).cpu().numpy()
        c, s = np.cos(rois[:, 3])[:, None], np.sin(rois[:, 3])[:, None]
        world_m = np.stack([c * w[..., 0] - s * w[..., 1], s * w[..., 0] + c * w[..., 1],
                            w[..., 2]], axis=-1)
        keypoints = np.concatenate([xy_px, np.repeat(presence[:, None, None],
                                                      NUM_HAND_KEYPOINTS, 1)], axis=-1)
        return HandBatch(keypoints.astype(np.float32), presence.astype(np.float32),
                         world_m.astype(np.float32), rois.astype(np.float32),
                         rois_from_hand(xy_px))
