"""`pose-ros export --format onnx`: every exported model against its torch module (onnxruntime CPU).

Tolerances are absolute, per output, on random inputs of a batch (3) other than the one the
export traced (2), so the batch really is dynamic. Measured on the 2-core development machine:
landmarks raw coordinates <= 4e-3 crop px, heatmap logits <= 7e-4, presence and world <= 1e-4;
detector regressions <= 3e-3 px, score logits <= 2e-4; lifter <= 1e-5 m.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pose_ros.models import store

ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test extra)")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra)")
pytest.importorskip("onnxscript", reason="onnxscript (test extra)")
ROOT = Path(__file__).resolve().parents[1]

TOLERANCES = {
    "detector": {"Identity": 2e-2, "Identity_1": 2e-3},
    "landmarks": {"Identity": 2e-2, "Identity_1": 1e-3, "Identity_3": 5e-3, "Identity_4": 1e-3},
    "lifter": {"joints_3d": 1e-4},
    "segmentation": {"activation_10": 1e-4},   # person probabilities
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    try:
        store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available: {exc}")
    out = tmp_path_factory.mktemp("onnx")
    done = subprocess.run([sys.executable, "-m", "pose_ros.cli", "export", "--format", "onnx",
                           "--out", str(out), "--no-download"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "manifest.json" in done.stdout
    return out


def _torch_modules():
    from pose_ros.models.blazepose import LANDMARK_OUTPUTS
    from pose_ros.models.lifter import Lifter
    from pose_ros.models.tflite_graph import TFLiteGraph

    lifter = Lifter.load().model
    segmentation = TFLiteGraph(store.model_path("selfie_segmentation", allow_download=False))
    torch.manual_seed(0)      # the same inputs whatever other tests drew from torch's generator
    return {
        "detector": (TFLiteGraph(store.model_path("pose_detection", allow_download=False)),
                     torch.rand(3, 224, 224, 3) * 2 - 1),
        "landmarks": (TFLiteGraph(store.model_path("pose_landmark_full", allow_download=False),
                                  outputs=LANDMARK_OUTPUTS), torch.rand(3, 256, 256, 3)),
        "lifter": (lifter, torch.randn_like(lifter.example_input(3))),
        "segmentation": (segmentation, torch.rand(3, 256, 256, 3)),
    }


@pytest.mark.slow  # exports four models (about a minute on 2 cores)
def test_exported_models_match_torch(exported):
    manifest = json.loads((exported / "manifest.json").read_text())
    assert set(manifest["models"]) == {"detector", "landmarks", "lifter", "segmentation"}
    for key, (module, x) in _torch_modules().items():
        entry = manifest["models"][key]
        assert entry["inputs"][0]["name"] == "input"
        assert entry["inputs"][0]["shape"][0] == "batch"   # dynamic batch
        assert len(entry["source_sha256"]) == 64 and entry["preprocessing"]
        names = [o["name"] for o in entry["outputs"]]
        assert names == list(TOLERANCES[key])
        session = ort.InferenceSession(str(exported / entry["file"]),
                                       providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": x.numpy()})
        with torch.no_grad():
            expected = module.eval()(x)
        expected = expected if isinstance(expected, tuple) else (expected,)
        for name, g, e in zip(names, got, expected, strict=True):
            assert g.shape == tuple(e.shape), (key, name)
            err = float(np.abs(g - e.numpy()).max())
            assert err < TOLERANCES[key][name], (key, name, err)
            # the export-time check in the manifest measured the same thing
            assert entry["max_abs_difference_vs_torch"][name] < TOLERANCES[key][name]
    detector = manifest["models"]["detector"]
    assert detector["source_sha256"] == store.sha256_of(
        store.model_path("pose_detection", allow_download=False))


@pytest.mark.slow
def test_fp16_conversion_keeps_float32_io_and_stays_close(exported, tmp_path):
    import onnx

    from pose_ros.models.export import to_fp16

    src = exported / "landmarks.onnx"
    half = tmp_path / "landmarks_fp16.onnx"
    onnx.save_model(to_fp16(onnx.load(str(src))), str(half))
    import cv2

    photo = cv2.resize(skimage_data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    x = np.stack([photo, photo[:, ::-1]]).astype(np.float32) / 255   # a real picture: noise
    full = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
    fp16 = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"])
    assert fp16.get_inputs()[0].type == "tensor(float)"
    a, b = full.run(None, {"input": x}), fp16.run(None, {"input": x})
    # keypoint x, y in 256-px crop pixels (z and the logits have other scales), world metres;
    # measured 0.21 px and 1.2 mm (random noise input moves them 8 px: not a picture)
    xy = [r[0].reshape(2, 39, 5)[..., :2] for r in (a, b)]
    assert np.abs(xy[0] - xy[1]).max() < 1.0 and np.abs(a[3] - b[3]).max() < 0.01
    assert half.stat().st_size < 0.6 * src.stat().st_size


def test_export_help_and_missing_dependency_message():
    done = subprocess.run([sys.executable, "-m", "pose_ros.cli", "export", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--fp16" in done.stdout and "--out" in done.stdout
