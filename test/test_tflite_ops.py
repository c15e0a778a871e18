"""Single TFLite operators against LiteRT: one-op models written by tflite_builder, run by both
runtimes on random input (batch 1 as stored, then batch 3 through ours against three LiteRT runs).
"""

from __future__ import annotations

import numpy as np
import pytest
import tflite
import torch
from tflite_builder import one_op_model

from pose_ros.models.tflite_graph import TFLiteGraph, UnsupportedModelError

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (test extra)")
OP = tflite.BuiltinOperator
RNG = np.random.default_rng(3)


def litert_run(model: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = litert.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def check_against_litert(model: bytes, in_shape: tuple[int, ...], tmp_path,
                         atol: float = 1e-5) -> None:
    path = tmp_path / "op.tflite"
    path.write_bytes(model)
    graph = TFLiteGraph(path).eval()
    x = RNG.normal(size=(3, *in_shape[1:])).astype(np.float32)
    with torch.no_grad():
        ours = graph(torch.from_numpy(x))[0].numpy()
    ref = np.concatenate([litert_run(model, x[i:i + 1]) for i in range(3)])
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, atol=atol, rtol=1e-5)


@pytest.mark.parametrize("alpha_shape", [(1, 1, 6), (6,), (5, 4, 6)])
def test_prelu(tmp_path, alpha_shape):
    alpha = RNG.normal(size=alpha_shape).astype(np.float32)
    shape = (1, 5, 4, 6)
    check_against_litert(one_op_model(OP.PRELU, [(shape, None), (alpha_shape, alpha)], shape),
                         shape, tmp_path)


def test_prelu_needs_constant_alpha(tmp_path):
    shape = (1, 2, 2, 3)
    path = tmp_path / "op.tflite"
    path.write_bytes(one_op_model(OP.PRELU, [(shape, None), (shape, None)], shape))
    with pytest.raises(UnsupportedModelError, match="PRELU.*alpha must be constant"):
        TFLiteGraph(path)


def strided_slice_options(begin_mask: int = 0, end_mask: int = 0, offset: bool = False):
    def write(builder):
        tflite.StridedSliceOptionsStart(builder)
        tflite.StridedSliceOptionsAddBeginMask(builder, begin_mask)
        tflite.StridedSliceOptionsAddEndMask(builder, end_mask)
        tflite.StridedSliceOptionsAddOffset(builder, offset)
        return tflite.StridedSliceOptionsEnd(builder)
    return write


@pytest.mark.parametrize("shape, begin, end, strides, masks, out_shape", [
    ((1, 4, 4, 64), (0, 0, 0, 0), (1, 4, 4, 32), (1, 1, 1, 1), (0, 0), (1, 4, 4, 32)),  # recrop
    ((1, 6, 7, 8), (0, 1, -6, 2), (1, 5, 7, 8), (1, 2, 3, 3), (0, 0), (1, 2, 3, 2)),
    ((1, 6, 7, 8), (0, 3, 2, 1), (0, 0, 6, 5), (1, 1, 2, 1), (0b0011, 0b0011), (1, 6, 2, 4)),
    ((1, 10), (0, 2), (1, 9), (1, 3), (0, 0), (1, 3)),
])
def test_strided_slice(tmp_path, shape, begin, end, strides, masks, out_shape):
    consts = [np.array(v, np.int32) for v in (begin, end, strides)]
    model = one_op_model(OP.STRIDED_SLICE, [(shape, None)] + [((len(shape),), c) for c in consts],
                         out_shape, tflite.BuiltinOptions.StridedSliceOptions,
                         strided_slice_options(*masks))
    check_against_litert(model, shape, tmp_path)


def reducer_options(keep_dims: bool):
    def write(builder):
        tflite.ReducerOptionsStart(builder)
        tflite.ReducerOptionsAddKeepDims(builder, keep_dims)
        return tflite.ReducerOptionsEnd(builder)
    return write


@pytest.mark.parametrize("shape, axes, keep_dims, out_shape", [
    ((1, 7, 7, 16), (1, 2), False, (1, 16)),  # hand_landmark_full's global pooling
    ((1, 7, 7, 16), (1, 2), True, (1, 1, 1, 16)),
    ((1, 7, 5, 16), (-1,), False, (1, 7, 5)),
    ((1, 7, 5, 16), (1,), False, (1, 5, 16)),
    ((1, 7, 5, 16), (2, 3), True, (1, 7, 1, 1)),
    ((1, 10, 4), (1,), False, (1, 4)),
])
def test_mean(tmp_path, shape, axes, keep_dims, out_shape):
    axes = np.array(axes, np.int32)
    model = one_op_model(OP.MEAN, [(shape, None), (axes.shape, axes)], out_shape,
                         tflite.BuiltinOptions.ReducerOptions, reducer_options(keep_dims))
    check_against_litert(model, shape, tmp_path)


def fully_connected_options(activation: int = 0, keep_num_dims: bool = False):
    def write(builder):
        tflite.FullyConnectedOptionsStart(builder)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(builder, activation)
        tflite.FullyConnectedOptionsAddKeepNumDims(builder, keep_num_dims)
        return tflite.FullyConnectedOptionsEnd(builder)
    return write


@pytest.mark.parametrize("shape, units, bias, activation, keep, out_shape", [
    ((1, 48), 7, True, 0, False, (1, 7)),        # hand_landmark_full's heads
    ((1, 48), 5, True, 1, False, (1, 5)),        # fused RELU
    ((1, 2, 3, 8), 6, False, 0, False, (1, 6)),  # flattens NHWC order; no bias (index -1)
    ((1, 3, 8), 4, True, 3, True, (1, 3, 4)),    # keep_num_dims, RELU6
])
def test_fully_connected(tmp_path, shape, units, bias, activation, keep, out_shape):
    depth = shape[-1] if keep else int(np.prod(shape[1:]))
    weight = RNG.normal(size=(units, depth)).astype(np.float32)
    inputs = [(shape, None), (weight.shape, weight),
              ((units,), RNG.normal(size=units).astype(np.float32)) if bias else None]
    model = one_op_model(OP.FULLY_CONNECTED, inputs, out_shape,
                         tflite.BuiltinOptions.FullyConnectedOptions,
                         fully_connected_options(activation, keep))
    check_against_litert(model, shape, tmp_path, atol=1e-4)


def depthwise_options(activation: int):
    def write(builder):
        tflite.DepthwiseConv2DOptionsStart(builder)
        tflite.DepthwiseConv2DOptionsAddPadding(builder, tflite.Padding.VALID)
        tflite.DepthwiseConv2DOptionsAddStrideW(builder, 1)
        tflite.DepthwiseConv2DOptionsAddStrideH(builder, 1)
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(builder, 1)
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(builder, activation)
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(builder, 1)
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(builder, 1)
        return tflite.DepthwiseConv2DOptionsEnd(builder)
    return write


@pytest.mark.parametrize("activation", [0, 3])
def test_depthwise_1x1_is_a_channel_scale(tmp_path, activation):
    """hand_recrop's 1x1 depthwise convs run as x * w + b (conv2d has no fast kernel for them)."""
    shape = (1, 9, 7, 8)
    weight = RNG.normal(size=(1, 1, 1, 8)).astype(np.float32)
    bias = RNG.normal(size=8).astype(np.float32)
    model = one_op_model(OP.DEPTHWISE_CONV_2D,
                         [(shape, None), (weight.shape, weight), (bias.shape, bias)], shape,
                         tflite.BuiltinOptions.DepthwiseConv2DOptions,
                         depthwise_options(activation))
    path = tmp_path / "dw.tflite"
    path.write_bytes(model)
    assert TFLiteGraph(path).steps[0].channel_scale
    check_against_litert(model, shape, tmp_path)
