"""The TFLite-graph executor against the reference TFLite runtime (ai-edge-litert), on both
BlazePose models, a real photograph and random input; batching, tracing and ONNX export."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import tflite
import torch

from pose_ros.models import store
from pose_ros.models.tflite_graph import (
    TFLiteGraph,
    UnsupportedModelError,
    _buffer_array,
    _op_name,
    densify,
)
from pose_ros.models.tflite_ops import _same_padding

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (test extra)")

# name -> (input size, input range)
MODELS = {"pose_detection": (224, (-1.0, 1.0)), "pose_landmark_full": (256, (0.0, 1.0))}
LANDMARK_OUTPUTS = ["Identity", "Identity_1", "Identity_3", "Identity_4"]


@pytest.fixture(scope="module")
def paths() -> dict:
    try:
        return store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available (PyPI unreachable?): {exc}")


def model_input(name: str, kind: str, batch: int = 1) -> np.ndarray:
    size, (lo, hi) = MODELS[name]
    if kind == "photo":
        skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra)")
        image = cv2.resize(skimage_data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
        x = image.astype(np.float32) / 255.0 * (hi - lo) + lo
        return np.repeat(x[None], batch, axis=0)
    return np.random.default_rng(7).uniform(lo, hi, (batch, size, size, 3)).astype(np.float32)


def litert_outputs(path, x: np.ndarray) -> dict[str, np.ndarray]:
    interpreter = litert.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"])
            for d in interpreter.get_output_details()}


def torch_outputs(graph: TFLiteGraph, x: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        return {n: o.numpy() for n, o in zip(graph.output_names, graph(torch.from_numpy(x)))}


def assert_close_to_reference(name: str, ours: dict, ref: dict) -> None:
    """The issue's tolerances: fp32 rounding, not model error."""
    assert set(ours) <= set(ref)
    for out, value in ours.items():
        assert value.shape == ref[out].shape, out
    if name == "pose_detection":
        # boxes and keypoints in 224-pixel units; score logits
        assert np.abs(ours["Identity"] - ref["Identity"]).max() < 2e-3
        assert np.abs(ours["Identity_1"] - ref["Identity_1"]).max() < 2e-3
        return
    lm = np.abs(ours["Identity"] - ref["Identity"]).reshape(-1, 39, 5).max(axis=(0, 1))
    assert lm[:2].max() < 2e-3, f"x, y differ by {lm[:2]} px at 256 scale"
    assert lm[2] < 1e-2, f"z differs by {lm[2]}"
    assert lm[3:].max() < 2e-3, f"visibility/presence logits differ by {lm[3:]}"
    assert np.abs(ours["Identity_1"] - ref["Identity_1"]).max() < 1e-5  # pose presence
    assert np.abs(ours["Identity_3"] - ref["Identity_3"]).max() < 1e-3  # heatmap logits
    assert np.abs(ours["Identity_4"] - ref["Identity_4"]).max() < 1e-4  # world landmarks, m
    if "Identity_2" in ours:  # segmentation logits (|x| up to ~1500): relative tolerance
        seg = ref["Identity_2"]
        assert np.abs(ours["Identity_2"] - seg).max() < 1e-3 * np.abs(seg).max()


@pytest.mark.parametrize("kind", ["photo", "random"])
@pytest.mark.parametrize("name", list(MODELS))
def test_matches_litert(paths, name, kind):
    x = model_input(name, kind)
    graph = TFLiteGraph(paths[name]).eval()
    assert graph.output_names == list(litert_outputs(paths[name], x))
    assert_close_to_reference(name, torch_outputs(graph, x), litert_outputs(paths[name], x))


def test_folded_weights_equal_litert_kernels(paths):
    """DENSIFY (sparse CSR weights of the detector) and DEQUANTIZE (fp16) fold bit-exactly."""
    path = paths["pose_detection"]
    ref = litert.Interpreter(
        model_path=str(path), experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], model_input("pose_detection", "random"))
    ref.invoke()
    data = path.read_bytes()
    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)
    checked = 0
    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        if _op_name(model, op) == "DENSIFY":
            src = graph.Tensors(op.Inputs(0))
            dense = densify(_buffer_array(model, data, src), src)
            np.testing.assert_array_equal(dense, ref.get_tensor(op.Outputs(0)))
            checked += 1
    assert checked == 38  # every sparse weight of the detector


def test_pruned_outputs_batch_and_trace(paths):
    """Dropping the segmentation head changes nothing else; any batch size; a trace at batch 1
    (then frozen) runs batch 3 with the same numbers."""
    path = paths["pose_landmark_full"]
    full = TFLiteGraph(path).eval()
    pruned = TFLiteGraph(path, outputs=LANDMARK_OUTPUTS).eval()
    assert len(pruned.steps) < len(full.steps)
    x = np.concatenate([model_input("pose_landmark_full", "photo"),
                        model_input("pose_landmark_full", "random", batch=2)])
    batched = torch_outputs(pruned, x)
    single = torch_outputs(full, x[1:2])
    for out in LANDMARK_OUTPUTS:
        np.testing.assert_allclose(batched[out][1:2], single[out], atol=1e-3, rtol=0)
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(pruned, torch.from_numpy(x[:1])).eval())
        for out, value in zip(LANDMARK_OUTPUTS, frozen(torch.from_numpy(x))):
            np.testing.assert_allclose(value.numpy(), batched[out], atol=1e-3, rtol=0)


def test_torch_export(paths):
    graph = TFLiteGraph(paths["pose_landmark_full"], outputs=LANDMARK_OUTPUTS).eval()
    x = torch.from_numpy(model_input("pose_landmark_full", "photo"))
    exported = torch.export.export(graph, (x,))
    with torch.no_grad():
        for ours, ref in zip(exported.module()(x), graph(x)):
            torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_export_runs_in_onnxruntime(paths, name):
    pytest.importorskip("onnx", reason="onnx (test extra)")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (test extra)")
    outputs = LANDMARK_OUTPUTS if name == "pose_landmark_full" else None
    graph = TFLiteGraph(paths[name], outputs=outputs).eval()
    x = model_input(name, "random", batch=2)
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(graph, (torch.from_numpy(x[:1]),), buf, dynamo=False, opset_version=17,
                          input_names=["image"], output_names=graph.output_names,
                          dynamic_axes={"image": {0: "batch"}})
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    ours = dict(zip(graph.output_names, session.run(None, {"image": x})))
    assert_close_to_reference(name, ours, torch_outputs(graph, x))


def test_unsupported_op_is_named_at_load(paths, tmp_path):
    """Turn the landmark model's LOGISTIC into EXP: loading names the op and the file."""
    data = bytearray(paths["pose_landmark_full"].read_bytes())
    model = tflite.Model.GetRootAsModel(data, 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == tflite.BuiltinOperator.LOGISTIC:
            table = code._tab
            for field, width in ((4, 1), (10, 4)):  # deprecated_builtin_code, builtin_code
                offset = table.Offset(field)
                if offset:
                    pos = table.Pos + offset
                    data[pos:pos + width] = tflite.BuiltinOperator.EXP.to_bytes(
                        width, "little", signed=True)
    patched = tmp_path / "patched_landmark.tflite"
    patched.write_bytes(bytes(data))
    with pytest.raises(UnsupportedModelError, match=r"patched_landmark\.tflite.*EXP"):
        TFLiteGraph(patched)
    # the op only feeds the presence output: a graph without it still loads
    TFLiteGraph(patched, outputs=["Identity", "Identity_3"])


def test_same_padding_is_tensorflows():
    assert _same_padding(224, 112, 3, 2, 1) == (0, 1)  # stride 2 on even input: extra after
    assert _same_padding(225, 113, 3, 2, 1) == (1, 1)
    assert _same_padding(64, 64, 5, 1, 1) == (2, 2)
    assert _same_padding(64, 64, 3, 1, 2) == (2, 2)  # dilation 2
    assert _same_padding(8, 4, 2, 2, 1) == (0, 0)
