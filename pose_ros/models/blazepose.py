"""MediaPipe BlazePose (detector + full landmark model) on torch: image -> people with 33 keypoints.

The stages reproduce MediaPipe 0.10.14's pose_landmark_cpu graph (its fixed-point crops, the
heatmap refinement, the projection back to the image and the ROI for the next frame follow its
calculators, pixel conventions included: on the test photo our keypoints are within 0.01 px of
mp.solutions.pose's), but every person found is kept, all people of a frame go through the
landmark network as one batch, and a caller can skip the detector for people it already tracks
by passing last frame's `next_roi`.

    pose = BlazePose()
    rois = pose.detect(image_rgb)            # detector pass: every person found
    people = pose.landmarks(image_rgb, rois) # one batched landmark pass
    rois = [p.next_roi for p in people if p.presence >= 0.5]  # tracking: next frame
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pose_ros.models import backends, store
from pose_ros.models import blazepose_detector as det
from pose_ros.models.roi import (
    Roi,
    crop_cv2,
    crop_torch,
    letterbox_roi,
    project_to_source,
    rois_from_array,
    rois_from_points,
    rois_to_array,
)
from pose_ros.models.tflite_graph import TFLiteGraph
from pose_ros.skeleton import BLAZEPOSE33_TO_COCO17

__all__ = ["BlazePose", "FrameInput", "PoseLandmarks", "Roi", "default_num_threads"]

LANDMARK_INPUT = 256
NUM_LANDMARKS = 33  # + 2 auxiliary (hip centre, size/rotation point) + 4 unused = 39 outputs
LANDMARK_OUTPUTS = ["Identity", "Identity_1", "Identity_3", "Identity_4"]  # no segmentation
HEATMAP_KERNEL = 9
HEATMAP_MIN_CONFIDENCE = 0.5


@dataclass
class PoseLandmarks:
    """One person from the landmark model.

    Attributes:
        keypoints_px: (33, 3) x_px, y_px, score in full-resolution source pixels (BLAZEPOSE33
            order); score is MediaPipe's visibility: sigmoid of the visibility logit, the
            probability that the keypoint is in the image and not occluded.
        presence: probability in [0, 1] that a pose is in the ROI (MediaPipe drops < 0.5).
        world_m: (33, 3) metres, origin between the hips, MediaPipe's world landmarks turned
            back by the ROI rotation (x right, y down, z away from the camera, roughly).
        bbox_px: (4,) x0, y0, x1, y1 around the 33 keypoints, clipped to the image.
        next_roi: ROI for the next frame (tracking mode), from the auxiliary keypoints.
        auxiliary_px: (2, 2) the two auxiliary keypoints next_roi is made from (hip centre,
            size/rotation point). MediaPipe smooths them over time (One Euro, min_cutoff 0.01,
            beta 10, derivate cutoff 1, speed scaled by the ROI size) before making the ROI;
            a tracker that wants the same steadiness filters these and calls
            roi.rois_from_points(center, scale_point).
    """

    keypoints_px: np.ndarray
    presence: float
    world_m: np.ndarray
    bbox_px: np.ndarray
    next_roi: Roi
    auxiliary_px: np.ndarray | None = None

    def coco17(self) -> np.ndarray:
        """(17, 3) x_px, y_px, score in COCO order."""
        return self.keypoints_px[BLAZEPOSE33_TO_COCO17]


def default_num_threads() -> int:
    """Torch CPU threads when the caller gives none: 1.

    On a CPU that other processes also use, OpenMP threads wait for each other at every op and
    throughput collapses (2 threads + one busy process: 61 -> 13 fps, bench/README.md), while
    one thread keeps working on whichever core is free. Pass num_threads > 1 for a machine
    that is otherwise idle.
    """
    return 1


def refine_from_heatmap(xy: torch.Tensor, heatmap: torch.Tensor,
                        kernel: int = HEATMAP_KERNEL,
                        min_confidence: float = HEATMAP_MIN_CONFIDENCE) -> torch.Tensor:
    """MediaPipe's RefineLandmarksFromHeatmapCalculator, batched.

    xy (N, K, 2) crop-normalized; heatmap (N, H, W, K) logits. Each keypoint moves to the
    sigmoid-weighted centroid (in heatmap pixel indices / size) of the kernel x kernel window at
    its heatmap pixel when the window's peak is >= min_confidence. Kept from MediaPipe: the
    truncating int cast and its bounds check, which tests the column against the height and
    never the row against it. The window is 9 x 9: that is what mediapipe 0.10.14 computes
    (a 7 x 7 window, as some published graph files say, moves uncertain keypoints by 2-4 px
    away from its output; 9 x 9 matches it to 0.04 px).
    """
    n, h, w, k = heatmap.shape
    col = torch.trunc(xy[..., 0] * w).long()
    row = torch.trunc(xy[..., 1] * h).long()
    inside = (col >= 0) & (col < w) & (row >= 0) & (col < h)
    offsets = torch.arange(kernel, device=xy.device) - (kernel - 1) // 2
    rows = row[..., None] + offsets  # (N, K, kernel)
    cols = col[..., None] + offsets
    valid = ((rows >= 0) & (rows < h))[..., :, None] & ((cols >= 0) & (cols < w))[..., None, :]
    batch = torch.arange(n, device=xy.device)[:, None, None, None]
    chan = torch.arange(k, device=xy.device)[None, :, None, None]
    flat = ((batch * h + rows.clamp(0, h - 1)[..., :, None]) * w
            + cols.clamp(0, w - 1)[..., None, :]) * k + chan
    conf = torch.sigmoid(heatmap.reshape(-1)[flat].float()) * valid  # (N, K, kernel, kernel)
    total = conf.sum(dim=(-1, -2))
    ref_col = (conf * cols[..., None, :]).sum(dim=(-1, -2)) / w / total.clamp_min(1e-30)
    ref_row = (conf * rows[..., :, None]).sum(dim=(-1, -2)) / h / total.clamp_min(1e-30)
    ok = inside & (conf.amax(dim=(-1, -2)) >= min_confidence) & (total > 0)
    return torch.where(ok[..., None], torch.stack([ref_col, ref_row], dim=-1), xy)


def _rotate_xy(points: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(rotation)[:, None], torch.sin(rotation)[:, None]
    x, y = points[..., 0], points[..., 1]
    return torch.stack([c * x - s * y, s * x + c * y, points[..., 2]], dim=-1)


def decode_landmarks(raw: torch.Tensor, heatmap: torch.Tensor, world: torch.Tensor,
                     rois: torch.Tensor) -> torch.Tensor:
    """Landmark outputs + ROIs (N, 4) -> (N, 39, 6): x_px, y_px, visibility, world x, y, z."""
    lm = raw.float().reshape(len(raw), -1, 5)
    xy = refine_from_heatmap(lm[..., :2] / LANDMARK_INPUT, heatmap)
    xy_px = project_to_source(xy, rois)
    visibility = torch.sigmoid(lm[..., 3:4])
    world_m = _rotate_xy(world.float().reshape(len(world), -1, 3), rois[:, 3])
    return torch.cat([xy_px, visibility, world_m], dim=-1)


@dataclass
class FrameInput:
    """One frame as the networks read it: the pixels once, on the device once.

    BlazePose.prepare makes it; detect and landmarks accept it (or a plain array) so a frame
    that is both detected and tracked is checked, colour-handled and uploaded only once.

    Attributes:
        pixels: (H, W, 3) uint8, C-contiguous (a channel-reversed view such as
            bgr[..., ::-1] is turned back into its contiguous buffer, not copied).
        bgr: True when `pixels` is in BGR order; the crops are swapped to RGB (a 256 x 256
            crop costs less to swap than the whole frame).
        tensor: (3, H, W) float32 on the device (CUDA crop path only), uploaded on first use.
    """

    pixels: np.ndarray
    bgr: bool
    tensor: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.pixels.shape


class BlazePose:
    """Pretrained BlazePose (MediaPipe 0.10.14 models, Apache-2.0) run by our torch executor.

    Args:
        detector_model, landmark_model: model names from the store, or local .tflite paths.
        device: torch device ("cpu", "cuda", "cuda:1"...).
        precision: "fp32" or "fp16" (CUDA only; post-processing stays fp32).
        detection_threshold: minimum detector score (MediaPipe's min_detection_confidence).
        allow_download: fetch missing models with pip (else a clear error says what to do).
        num_threads: CPU threads (torch, onnxruntime); None -> default_num_threads().
        backend: "auto", "torch", "onnxruntime" or "onnxruntime-<provider>"
            (pose_ros/models/backends.py; auto = the one measured fastest on the device).
        graph_optimization: onnxruntime's graph optimisation level ("all" by default).
    """

    def __init__(self, *, detector_model: str = "pose_detection",
                 landmark_model: str = "pose_landmark_full", device: str = "cpu",
                 precision: str = "fp32", detection_threshold: float = 0.5,
                 allow_download: bool = True, num_threads: int | None = None,
                 backend: str = "auto", graph_optimization: str = "all") -> None:
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
        if not 0.0 <= detection_threshold <= 1.0:
            raise ValueError(f"detection_threshold must be in [0, 1], got {detection_threshold}")
        self.device = torch.device(device)
        self.detection_threshold = detection_threshold
        self.num_threads = num_threads or default_num_threads()
        torch.set_num_threads(self.num_threads)
        self.options = backends.BackendOptions(
            backend=backends.resolve_backend(backend, device), device=device,
            precision=precision, num_threads=self.num_threads,
            graph_optimization=graph_optimization)
        self.backend = self.options.backend
        det_path = store.model_path(detector_model, allow_download=allow_download)
        lm_path = store.model_path(landmark_model, allow_download=allow_download)
        self.detector_net = self._network(TFLiteGraph(det_path), det_path)
        self.landmark_net = self._network(TFLiteGraph(lm_path, outputs=LANDMARK_OUTPUTS),
                                          lm_path)
        self.input_dtype = self.landmark_net.input_dtype   # what the networks take
        self._anchors = torch.from_numpy(det.ssd_anchors()).to(self.device)
        # OpenCV crops touch only the output pixels (fastest on CPU); on a GPU the frame is
        # uploaded once and cropped there. Both give MediaPipe's crops (see roi.py).
        self.crop_backend = "cv2" if self.device.type == "cpu" else "torch"

    def _network(self, graph: TFLiteGraph, path):
        return backends.network(graph, name=path.stem, source=path, options=self.options,
                                input_shape=graph.input_shapes[0],
                                output_shapes=graph.output_shapes)

    def prepare(self, image: np.ndarray | FrameInput, *, bgr: bool = False) -> FrameInput:
        """Check the image once and wrap it for detect/landmarks (see FrameInput)."""
        if isinstance(image, FrameInput):
            return image
        self._check_image(image)
        if image.strides[2] < 0 and image[..., ::-1].flags.c_contiguous:
            image, bgr = image[..., ::-1], not bgr   # a reversed view of a BGR/RGB buffer
        return FrameInput(np.ascontiguousarray(image), bgr)

    def _device_image(self, frame: FrameInput) -> torch.Tensor:
        if frame.tensor is None:   # the one upload of this frame
            pixels = torch.from_numpy(frame.pixels).to(self.device, non_blocking=True)
            frame.tensor = pixels.permute(2, 0, 1).float()
        return frame.tensor

    def _crops(self, frame: FrameInput, rois: np.ndarray, size: int, border: str,
               low: float, high: float) -> torch.Tensor:
        """(N, size, size, 3) RGB network input in [low, high], cropped as MediaPipe does."""
        dtype = self.input_dtype
        if self.crop_backend == "cv2":
            crops = crop_cv2(frame.pixels, rois, size, border)
            if frame.bgr:
                crops = crops[..., ::-1]
            x = np.empty(crops.shape, np.float32)
            np.multiply(crops, np.float32((high - low) / 255.0), out=x)
            x += np.float32(low)
            return torch.from_numpy(x).to(self.device, dtype)
        crops = crop_torch(self._device_image(frame), rois, size, border)
        if frame.bgr:
            crops = crops.flip(-1)
        return (crops * ((high - low) / 255.0) + low).to(dtype)

    @staticmethod
    def _check_image(image: np.ndarray) -> None:
        if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
                and image.shape[2] == 3 and image.shape[0] > 0 and image.shape[1] > 0):
            got = (f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray)
                   else type(image).__name__)
            raise ValueError(f"BlazePose expects an H x W x 3 uint8 RGB image, got {got}")

    @torch.no_grad()
    def detect(self, image: np.ndarray | FrameInput, *, bgr: bool = False) -> list[Roi]:
        """Every person the detector finds (score >= detection_threshold), best first."""
        return rois_from_array(*self._detect(self.prepare(image, bgr=bgr)))

    def _detect(self, frame: FrameInput) -> tuple[np.ndarray, np.ndarray]:
        height, width = frame.shape[:2]
        box = letterbox_roi(width, height)
        x = self._crops(frame, box, det.INPUT_SIZE, "zero", -1.0, 1.0)
        raw_boxes, raw_scores = self.detector_net(x)
        found = det.postprocess(raw_boxes, raw_scores, self._anchors,
                                torch.from_numpy(box), self.detection_threshold)
        return found.rois, found.scores

    @torch.no_grad()
    def detect_regions(self, image: np.ndarray | FrameInput, regions: np.ndarray, *,
                       bgr: bool = False
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The detector on square regions (N, 4: cx, cy, side, rotation; parts outside the
        image read as zero, as the letterboxed frame's do) in one batch: every candidate
        before NMS, in source pixels (blazepose_detector.candidates). pose_ros.detection runs
        the frame and tiles of it through this and merges them with weighted_nms."""
        frame = self.prepare(image, bgr=bgr)
        regions = np.asarray(regions, np.float32).reshape(-1, 4)
        x = self._crops(frame, regions, det.INPUT_SIZE, "zero", -1.0, 1.0)
        raw_boxes, raw_scores = self.detector_net(x)
        return det.candidates(raw_boxes, raw_scores, self._anchors,
                              torch.from_numpy(regions).to(self.device),
                              self.detection_threshold)

    @torch.no_grad()
    def landmarks(self, image: np.ndarray | FrameInput, rois: list[Roi], *,
                  bgr: bool = False) -> list[PoseLandmarks]:
        """One PoseLandmarks per ROI, in order, from one batched forward pass.

        Every ROI gets a result; `presence` says whether a person is really there (MediaPipe
        keeps only presence >= 0.5).
        """
        frame = self.prepare(image, bgr=bgr)
        if not rois:
            return []
        roi_arr = rois_to_array(rois)
        x = self._crops(frame, roi_arr, LANDMARK_INPUT, "replicate", 0.0, 1.0)
        raw, presence, heatmap, world = self.landmark_net(x)
        rois_t = torch.from_numpy(roi_arr).to(self.device)
        out = decode_landmarks(raw, heatmap, world, rois_t).cpu().numpy()
        presence = presence.float().reshape(-1).cpu().numpy()
        height, width = frame.shape[:2]
        kp = out[:, :NUM_LANDMARKS, :3]
        lo = np.clip(kp[:, :, :2].min(axis=1), 0, [width - 1, height - 1])
        hi = np.clip(kp[:, :, :2].max(axis=1), 0, [width - 1, height - 1])
        next_rois = rois_from_points(out[:, 33, :2], out[:, 34, :2])
        return [PoseLandmarks(keypoints_px=kp[i].copy(), presence=float(presence[i]),
                              world_m=out[i, :NUM_LANDMARKS, 3:6].copy(),
                              bbox_px=np.concatenate([lo[i], hi[i]]).astype(np.float32),
                              next_roi=Roi(next_rois[i, :2], next_rois[i, 2], next_rois[i, 3],
                                           float(presence[i])),
                              auxiliary_px=out[i, NUM_LANDMARKS:NUM_LANDMARKS + 2, :2].copy())
                for i in range(len(rois))]

    def __call__(self, image: np.ndarray | FrameInput, rois: list[Roi] | None = None,
                 min_presence: float = 0.5, *, bgr: bool = False) -> list[PoseLandmarks]:
        """Detect (when no ROIs are given) then landmarks; people with presence < min_presence
        are dropped."""
        frame = self.prepare(image, bgr=bgr)
        rois = self.detect(frame) if not rois else rois
        return [p for p in self.landmarks(frame, rois) if p.presence >= min_presence]
