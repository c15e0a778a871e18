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


def litert_run_all(model: bytes, xs: list[np.ndarray]) -> np.ndarray:
    interpreter = litert.Interpreter(model_content=model)
    interpreter.allocate_tensors()
    for detail, x in zip(interpreter.get_input_details(), xs, strict=True):
        interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("op", [OP.RELU, OP.HARD_SWISH])
def test_activations(tmp_path, op):
    shape = (1, 5, 4, 6)
    check_against_litert(one_op_model(op, [(shape, None)], shape), shape, tmp_path)


def mul_options(activation: int = 0):
    def write(builder):
        tflite.MulOptionsStart(builder)
        tflite.MulOptionsAddFusedActivationFunction(builder, activation)
        return tflite.MulOptionsEnd(builder)
    return write


@pytest.mark.parametrize("const_shape, activation", [((1, 1, 6), 0), ((6,), 1), ((5, 4, 6), 3)])
def test_mul_by_constant(tmp_path, const_shape, activation):
    shape = (1, 5, 4, 6)
    const = RNG.normal(size=const_shape).astype(np.float32)
    model = one_op_model(OP.MUL, [(shape, None), (const_shape, const)], shape,
                         tflite.BuiltinOptions.MulOptions, mul_options(activation))
    check_against_litert(model, shape, tmp_path)


@pytest.mark.parametrize("gate_first", [False, True])
def test_mul_squeeze_excitation_gate(tmp_path, gate_first):
    """Selfie segmentation's gates: features (1, H, W, C) times a live (1, 1, 1, C)."""
    shape, gate_shape = (1, 5, 4, 6), (1, 1, 1, 6)
    inputs = [(gate_shape, None), (shape, None)] if gate_first else [(shape, None),
                                                                      (gate_shape, None)]
    model = one_op_model(OP.MUL, inputs, shape, tflite.BuiltinOptions.MulOptions, mul_options())
    path = tmp_path / "mul.tflite"
    path.write_bytes(model)
    xs = [RNG.normal(size=s).astype(np.float32) for s, _ in inputs]
    with torch.no_grad():
        ours = TFLiteGraph(path)(*[torch.from_numpy(x) for x in xs])[0].numpy()
    np.testing.assert_allclose(ours, litert_run_all(model, xs), atol=1e-6)


def test_mul_of_4d_and_lower_rank_activations_is_refused(tmp_path):
    path = tmp_path / "mul.tflite"
    path.write_bytes(one_op_model(OP.MUL, [((1, 2, 2, 3), None), ((3,), None)], (1, 2, 2, 3),
                                  tflite.BuiltinOptions.MulOptions, mul_options()))
    with pytest.raises(UnsupportedModelError, match="MUL.*broadcasting"):
        TFLiteGraph(path)


def pool_options(padding: int, kernel: tuple[int, int], stride: tuple[int, int],
                 activation: int = 0):
    def write(builder):
        tflite.Pool2DOptionsStart(builder)
        tflite.Pool2DOptionsAddPadding(builder, padding)
        tflite.Pool2DOptionsAddStrideW(builder, stride[1])
        tflite.Pool2DOptionsAddStrideH(builder, stride[0])
        tflite.Pool2DOptionsAddFilterWidth(builder, kernel[1])
        tflite.Pool2DOptionsAddFilterHeight(builder, kernel[0])
        tflite.Pool2DOptionsAddFusedActivationFunction(builder, activation)
        return tflite.Pool2DOptionsEnd(builder)
    return write


@pytest.mark.parametrize("shape, padding, kernel, stride, activation, out_shape", [
    ((1, 8, 8, 16), tflite.Padding.VALID, (8, 8), (8, 8), 0, (1, 1, 1, 16)),  # SE global pool
    ((1, 9, 8, 4), tflite.Padding.SAME, (3, 3), (2, 2), 0, (1, 5, 4, 4)),  # uneven padding
    ((1, 7, 7, 4), tflite.Padding.SAME, (3, 3), (1, 1), 3, (1, 7, 7, 4)),
    ((1, 8, 6, 4), tflite.Padding.VALID, (2, 3), (2, 1), 1, (1, 4, 4, 4)),
])
def test_average_pool(tmp_path, shape, padding, kernel, stride, activation, out_shape):
    model = one_op_model(OP.AVERAGE_POOL_2D, [(shape, None)], out_shape,
                         tflite.BuiltinOptions.Pool2DOptions,
                         pool_options(padding, kernel, stride, activation))
    check_against_litert(model, shape, tmp_path)


def transpose_conv_reference(x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                             stride: tuple[int, int], same: bool) -> np.ndarray:
    """TFLite's reference TransposeConv loop (what MediaPipe's kernel calls), then the bias:
    input pixel (y, x) adds weight[:, i, j, :] @ x[y, x] at (y * sh - top + i, x * sw - left + j).
    """
    n, in_h, in_w, _ = x.shape
    out_c, kh, kw, _ = weight.shape
    sh, sw = stride
    if same:
        out_h, out_w = in_h * sh, in_w * sw
        top = max((in_h - 1) * sh + kh - out_h, 0) // 2
        left = max((in_w - 1) * sw + kw - out_w, 0) // 2
    else:
        out_h, out_w, top, left = (in_h - 1) * sh + kh, (in_w - 1) * sw + kw, 0, 0
    out = np.zeros((n, out_h, out_w, out_c), np.float64)
    for y in range(in_h):
        for xx in range(in_w):
            for i in range(kh):
                for j in range(kw):
                    oy, ox = y * sh - top + i, xx * sw - left + j
                    if 0 <= oy < out_h and 0 <= ox < out_w:
                        out[:, oy, ox] += x[:, y, xx] @ weight[:, i, j, :].T
    return (out + bias).astype(np.float32)


@pytest.mark.parametrize("shape, out_c, kernel, stride, same", [
    ((1, 8, 8, 16), 1, (2, 2), (2, 2), True),   # selfie segmentation's head
    ((1, 5, 6, 3), 2, (3, 3), (2, 2), True),    # uneven crop: 1 pixel, after
    ((1, 5, 6, 3), 2, (4, 3), (2, 1), True),    # stride_height != stride_width
    ((1, 4, 5, 3), 2, (3, 2), (2, 3), False),   # VALID: the whole output
])
def test_convolution_2d_transpose_bias(tmp_path, shape, out_c, kernel, stride, same):
    """MediaPipe's custom op (LiteRT has no kernel for it) against TFLite's reference loop;
    its options are the raw struct {int32 padding (1 SAME, 2 VALID), stride_w, stride_h}."""
    weight = RNG.normal(size=(out_c, *kernel, shape[3])).astype(np.float32)
    bias = RNG.normal(size=out_c).astype(np.float32)
    ref_shape = transpose_conv_reference(np.zeros(shape, np.float32), weight, bias, stride,
                                         same).shape
    options = np.array([1 if same else 2, stride[1], stride[0]], "<i4").tobytes()
    model = one_op_model(OP.CUSTOM, [(shape, None), (weight.shape, weight), (bias.shape, bias)],
                         ref_shape, custom=("Convolution2DTransposeBias", options))
    path = tmp_path / "tconv.tflite"
    path.write_bytes(model)
    x = RNG.normal(size=(2, *shape[1:])).astype(np.float32)
    with torch.no_grad():
        ours = TFLiteGraph(path)(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(ours, transpose_conv_reference(x, weight, bias, stride, same),
                               atol=1e-5)


def test_convolution_2d_transpose_bias_needs_its_options(tmp_path):
    weight, bias = np.ones((1, 2, 2, 3), np.float32), np.zeros(1, np.float32)
    path = tmp_path / "tconv.tflite"
    path.write_bytes(one_op_model(OP.CUSTOM, [((1, 2, 2, 3), None), (weight.shape, weight),
                                              (bias.shape, bias)], (1, 4, 4, 1),
                                  custom=("Convolution2DTransposeBias", b"\x01\x00")))
    with pytest.raises(UnsupportedModelError, match="Convolution2DTransposeBias.*struct"):
        TFLiteGraph(path)
