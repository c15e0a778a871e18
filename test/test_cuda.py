"""CUDA paths agree with the CPU ones: BlazePose (fp32, fp16), the person segmentation of the
body proposals, the lifter, the whole pipeline.

Skips without a CUDA device (CI and the development machines here have none); run it on the
robot or any GPU machine: `python -m pytest -q test/test_cuda.py`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra)")

from pose_ros.models import store  # noqa: E402
from pose_ros.models.blazepose import BlazePose  # noqa: E402
from pose_ros.models.lifter import Lifter  # noqa: E402


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    try:
        store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available: {exc}")
    return skimage_data.astronaut()


@pytest.mark.parametrize("precision, tolerance_px", [("fp32", 0.1), ("fp16", 1.0)])
def test_blazepose_on_cuda_matches_cpu(photo, precision, tolerance_px):
    cpu = BlazePose(device="cpu", backend="torch")(photo)
    gpu = BlazePose(device="cuda", precision=precision, backend="torch")(photo)
    assert len(cpu) == len(gpu) == 1
    confident = cpu[0].keypoints_px[:, 2] > 0.9
    err = np.linalg.norm(gpu[0].keypoints_px[:, :2] - cpu[0].keypoints_px[:, :2], axis=1)
    assert confident.sum() >= 12 and err[confident].max() < tolerance_px, err


@pytest.mark.parametrize("precision, tolerance", [("fp32", 1e-3), ("fp16", 3e-2)])
def test_segmentation_on_cuda_matches_cpu(photo, precision, tolerance):
    import cv2

    from pose_ros.models.segmentation import PersonSegmenter

    crop = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)[None]
    cpu = PersonSegmenter(device="cpu", backend="torch").masks(crop)
    gpu = PersonSegmenter(device="cuda", precision=precision, backend="torch").masks(crop)
    assert (cpu > 0.5).mean() > 0.1          # the astronaut is there
    assert np.abs(gpu - cpu).max() < tolerance


def test_lifter_step_on_cuda_matches_cpu():
    rng = np.random.default_rng(0)
    frames = rng.normal(0, 0.3, (40, 3, 17, 3)).astype(np.float32)
    frames[..., 2] = 1.0
    cpu, gpu = Lifter.load(device="cpu"), Lifter.load(device="cuda")
    cpu_streams, gpu_streams = [cpu.stream() for _ in range(3)], [gpu.stream() for _ in range(3)]
    for f in frames:
        a, b = cpu.step(cpu_streams, f), gpu.step(gpu_streams, f)
    assert np.abs(a - b).max() < 1e-3  # metres


def test_pipeline_on_cuda_finds_the_person_in_3d(photo):
    from pose_ros.pipeline import PipelineConfig, PoseEstimator

    estimator = PoseEstimator(PipelineConfig(device="cuda"))
    assert estimator.device.startswith("cuda")
    for i in range(3):
        people = estimator(photo, i / 30, rgb=True)
    assert len(people) == 1 and people[0].keypoints_3d is not None
    assert np.isfinite(people[0].keypoints_3d).all() and people[0].root_camera_m[2] > 0.3


def test_one_upload_per_frame_and_bgr_views(photo):
    """detect + landmarks on one prepared frame upload it once; a channel-reversed view
    (negative strides, which torch.from_numpy refuses) works and gives the RGB result."""
    pose = BlazePose(device="cuda", backend="torch")
    bgr = np.ascontiguousarray(photo[..., ::-1])
    frame = pose.prepare(bgr[..., ::-1])
    rois = pose.detect(frame)
    uploaded = frame.tensor
    assert uploaded is not None and uploaded.is_cuda
    people = pose.landmarks(frame, rois)
    assert frame.tensor is uploaded and len(people) == 1
    ref = BlazePose(device="cuda", backend="torch")(photo)[0].keypoints_px
    np.testing.assert_allclose(people[0].keypoints_px, ref, atol=1e-3)


@pytest.mark.parametrize("backend, precision, tolerance_px", [
    ("onnxruntime-cuda", "fp32", 0.1), ("onnxruntime-tensorrt", "fp16", 1.0)])
def test_onnxruntime_gpu_providers_match_cpu(photo, backend, precision, tolerance_px):
    ort = pytest.importorskip("onnxruntime")
    wanted = {"onnxruntime-cuda": "CUDAExecutionProvider",
              "onnxruntime-tensorrt": "TensorrtExecutionProvider"}[backend]
    if wanted not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime has no {wanted}")
    cpu = BlazePose(device="cpu", backend="torch")(photo)
    gpu_pose = BlazePose(device="cuda", backend=backend, precision=precision)
    assert gpu_pose.landmark_net.provider == wanted
    gpu = gpu_pose(photo)
    assert len(cpu) == len(gpu) == 1
    confident = cpu[0].keypoints_px[:, 2] > 0.9
    err = np.linalg.norm(gpu[0].keypoints_px[:, :2] - cpu[0].keypoints_px[:, :2], axis=1)
    assert confident.sum() >= 12 and err[confident].max() < tolerance_px, err
