"""Person segmentation: MediaPipe's selfie segmentation model (0.10.14, Apache-2.0) on torch.

Why: a body-level cue that a person is in a crop, that needs no visible face. BlazePose's
detector is anchored on the face (it finds a face and extrapolates the body), so a person seen
from behind, bent over or with the head out of the crop can go unfound; the segmentation mask
answers "which pixels are a person" for whatever part of the body is visible.

The model (`selfie_segmentation.tflite`, square variant) takes 256x256 RGB in [0, 1] (its
MediaPipe graph: ImageToTensorCalculator with output_tensor_float_range [0, 1]) and ends in a
sigmoid, so its (256, 256, 1) output is already a per-pixel person probability (MediaPipe's
TensorsToSegmentationCalculator runs it with activation NONE). It is run by our TFLite executor
(tflite_graph.py, including MediaPipe's Convolution2DTransposeBias upsampling op); on two real
crops it matches mp.solutions.selfie_segmentation within 3e-5 (test/test_segmentation.py).

    segmenter = PersonSegmenter()
    probs = segmenter.masks(crops_rgb_uint8)     # (N, 256, 256, 3) uint8 -> (N, 256, 256)
    person_fraction = (probs > 0.5).mean(axis=(1, 2))

Crops are the caller's: cut them square around the region of interest (e.g. a tracked box)
and resize to 256x256, as MediaPipe does (it stretches a non-square image to the square input).
"""

from __future__ import annotations

import numpy as np
import torch

from pose_ros.models import backends, store
from pose_ros.models.tflite_graph import TFLiteGraph

__all__ = ["INPUT_SIZE", "PersonSegmenter"]

INPUT_SIZE = 256


class PersonSegmenter:
    """Per-pixel person probabilities for square RGB crops, one batched pass.

    Args:
        model: model store name or a local .tflite path (the square, 256x256 variant).
        device: torch device string ("cpu", "cuda", "cuda:1").
        precision: "fp32" or "fp16" (fp16 on CUDA only, as for BlazePose).
        backend: one of backends.BACKENDS; "auto" picks as BlazePose does (onnxruntime on the
            CPU when installed: 5 ms per crop on one thread, torch 19 ms).
        allow_download: fetch the model with pip when it is not cached.
        num_threads: CPU threads for onnxruntime (torch's process-wide count is left alone).
    """

    def __init__(self, *, model: str = "selfie_segmentation", device: str = "cpu",
                 precision: str = "fp32", backend: str = "auto", allow_download: bool = True,
                 num_threads: int = 1) -> None:
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"precision must be 'fp32' or 'fp16', got {precision!r}")
        self.device = torch.device(device)
        self.options = backends.BackendOptions(
            backend=backends.resolve_backend(backend, device), device=device,
            precision=precision, num_threads=num_threads)
        path = store.model_path(model, allow_download=allow_download)
        graph = TFLiteGraph(path)
        if graph.input_shapes[0][1:] != (INPUT_SIZE, INPUT_SIZE, 3) or \
                graph.output_shapes[0][1:] != (INPUT_SIZE, INPUT_SIZE, 1):
            raise ValueError(f"{path.name}: input {graph.input_shapes[0]} / output "
                             f"{graph.output_shapes[0]}, expected a {INPUT_SIZE}x{INPUT_SIZE} "
                             f"RGB -> mask model")
        self.net = backends.network(graph, name=path.stem, source=path, options=self.options,
                                    input_shape=graph.input_shapes[0],
                                    output_shapes=graph.output_shapes)

    @torch.no_grad()
    def masks(self, crops: np.ndarray) -> np.ndarray:
        """(N, 256, 256) float32 person probabilities in [0, 1], one pass for the batch of
        (N, 256, 256, 3) uint8 RGB crops."""
        if crops.dtype != np.uint8 or crops.ndim != 4 or \
                crops.shape[1:] != (INPUT_SIZE, INPUT_SIZE, 3):
            raise ValueError(f"crops must be (N, {INPUT_SIZE}, {INPUT_SIZE}, 3) uint8 RGB, got "
                             f"{crops.shape} {crops.dtype}")
        if len(crops) == 0:
            return np.zeros((0, INPUT_SIZE, INPUT_SIZE), np.float32)
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        (out,) = self.net(x.to(self.net.input_dtype) * (1.0 / 255.0))
        return out[..., 0].float().cpu().numpy()
