"""Backends: onnxruntime (CPU provider) gives MediaPipe's keypoints as torch does; options are
checked with one clear error each."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pose_ros.errors import PoseRosError
from pose_ros.models import backends, store

pytest.importorskip("onnxruntime", reason="onnxruntime (test extra)")
pytest.importorskip("onnxscript", reason="onnxscript (test extra)")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra)")
GOLDEN = json.loads((Path(__file__).parent / "data" / "blazepose_golden.json").read_text())


@pytest.fixture(scope="module")
def ort_pose():
    from pose_ros.models.blazepose import BlazePose

    try:
        store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available: {exc}")
    return BlazePose(backend="onnxruntime")   # exported into the model cache on first use


def test_onnxruntime_backend_matches_mediapipe(ort_pose):
    """Same tolerance as the torch path in test_blazepose.py (measured: 0.002-0.006 px)."""
    assert ort_pose.landmark_net.provider == "CPUExecutionProvider"
    golden = GOLDEN["solution"]["astronaut"]
    people = ort_pose(skimage_data.astronaut())
    assert len(people) == 1
    ref = np.asarray(golden["keypoints_px"])
    err = np.linalg.norm(people[0].keypoints_px[:, :2] - ref[:, :2], axis=1)
    visible = ref[:, 2] > 0.5
    assert visible.sum() >= 12 and np.median(err[visible]) < 0.1 and err[visible].max() < 2.0


def test_onnxruntime_batches_people_like_torch(ort_pose):
    image = np.ascontiguousarray(np.concatenate([skimage_data.astronaut()] * 2, axis=1))
    rois = ort_pose.detect(image)
    assert len(rois) >= 1
    both = ort_pose.landmarks(image, rois * 3)            # batch 3: the dynamic batch works
    alone = ort_pose.landmarks(image, rois[:1])[0]
    assert len(both) == 3
    np.testing.assert_allclose(both[2].keypoints_px, alone.keypoints_px, atol=1e-2)


def test_auto_picks_onnxruntime_on_cpu_and_torch_on_cuda():
    assert backends.resolve_backend("auto", "cpu") == "onnxruntime"
    assert backends.resolve_backend("auto", "cuda") == "torch"
    assert backends.resolve_backend("torch", "cpu") == "torch"


@pytest.mark.parametrize("kwargs, message", [
    ({"backend": "tensorflow"}, "backend 'tensorflow'"),
    ({"graph_optimization": "max"}, "graph_optimization"),
    ({"precision": "fp16"}, "fp16 on the CPU"),
])
def test_bad_options_are_one_clear_error(kwargs, message):
    with pytest.raises(PoseRosError, match=message):
        backends.BackendOptions(**kwargs)


def test_gpu_providers_are_refused_on_a_cpu_device(tmp_path):
    with pytest.raises(PoseRosError, match="needs device cuda"):
        backends.onnxruntime_providers("onnxruntime-cuda", "cpu", "fp32", tmp_path, "input",
                                       (1, 256, 256, 3))
    assert backends.onnxruntime_providers("onnxruntime", "cpu", "fp32", tmp_path, "input",
                                          (1, 256, 256, 3)) == ["CPUExecutionProvider"]


def test_pipeline_config_rejects_an_unknown_backend():
    from pose_ros.pipeline import PipelineConfig

    with pytest.raises(PoseRosError, match="backend"):
        PipelineConfig(backend="tensorrt")
    assert PipelineConfig().backend == "auto"
