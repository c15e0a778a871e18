"""TFLite builtin operators as torch modules (NCHW inside), built from a flatbuffer operator.

Each builder reads the operator's options and constant inputs once, at load time, and returns a
module whose forward is plain torch ops: no shapes or paddings are computed while running.
4D tensors are NCHW here; tensors of other ranks keep TFLite's layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tflite
import torch
import torch.nn.functional as F
from torch import nn

NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}


@dataclass
class OpContext:
    """What a builder needs: shapes as stored in the file (NHWC) and constant inputs."""

    kind: str
    name: str
    op: tflite.Operator
    in_shapes: list[tuple[int, ...]]
    out_shape: tuple[int, ...]
    consts: list[np.ndarray | None]

    def options(self, cls: type) -> object:
        table = self.op.BuiltinOptions()
        opts = cls()
        if table is not None:
            opts.Init(table.Bytes, table.Pos)
        return opts

    def fail(self, why: str) -> ValueError:
        from pose_ros.models.tflite_graph import UnsupportedModelError

        return UnsupportedModelError(f"{self.name}: {why}")


def _activation(ctx: OpContext, code: int) -> nn.Module:
    """Fused activation, in place: it always applies to the fresh output of its own op."""
    acts = {0: nn.Identity(), 1: nn.ReLU(inplace=True), 2: nn.Hardtanh(-1.0, 1.0, inplace=True),
            3: nn.ReLU6(inplace=True), 4: nn.Tanh()}
    if code not in acts:
        raise ctx.fail(f"fused activation {code} is not supported")
    return acts[code]


def _same_padding(in_size: int, out_size: int, kernel: int, stride: int, dilation: int,
                  ) -> tuple[int, int]:
    """TensorFlow SAME padding (before, after); the extra pixel goes after, e.g. (0, 1)."""
    total = max((out_size - 1) * stride + (kernel - 1) * dilation + 1 - in_size, 0)
    return total // 2, total - total // 2


def _param(value: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)),
                        requires_grad=False)


class Conv(nn.Module):
    """CONV_2D / DEPTHWISE_CONV_2D with bias and fused activation; uneven padding pre-applied."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, stride: tuple[int, int],
                 dilation: tuple[int, int], pad_tblr: tuple[int, int, int, int], groups: int,
                 act: nn.Module) -> None:
        super().__init__()
        self.weight = _param(weight)
        self.bias = _param(bias) if bias is not None else None
        self.stride, self.dilation, self.groups, self.act = stride, dilation, groups, act
        top, bottom, left, right = pad_tblr
        self.symmetric = top == bottom and left == right
        self.padding = (top, left) if self.symmetric else (0, 0)
        self.pre_pad = (left, right, top, bottom)
        self.pointwise = (groups == 1 and weight.shape[2:] == (1, 1) and stride == (1, 1)
                          and not any(pad_tblr))
        # A 1x1 depthwise conv (multiplier 1) is a per-channel scale: torch has no fast kernel
        # for it (one slow conv per channel, then a cat: 13 ms of hand_recrop's 14 on CPU).
        self.channel_scale = (groups == weight.shape[0] and weight.shape[1:] == (1, 1, 1)
                              and stride == (1, 1) and not any(pad_tblr))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channel_scale and self.padding == (0, 0):
            y = x * self.weight.reshape(1, -1, 1, 1)
            return self.act(y if self.bias is None else y + self.bias.reshape(1, -1, 1, 1))
        if self.pointwise and self.padding == (0, 0):
            # A 1x1 conv is one GEMM over pixels; on channels-last activations (what an NHWC
            # input gives) it reads and writes them in place, where conv2d would copy.
            y = F.linear(x.permute(0, 2, 3, 1), self.weight[:, :, 0, 0], self.bias)
            return self.act(y.permute(0, 3, 1, 2))
        if not self.symmetric:
            x = F.pad(x, self.pre_pad)
        x = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                     self.groups)
        return self.act(x)


def build_conv(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    depthwise = ctx.kind == "DEPTHWISE_CONV_2D"
    opts = ctx.options(tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
    weight, bias = ctx.consts[1], ctx.consts[2] if len(ctx.consts) > 2 else None
    if weight is None:
        raise ctx.fail("weights are not constant")
    _, in_h, in_w, in_c = ctx.in_shapes[0]
    _, out_h, out_w, _ = ctx.out_shape
    _, kh, kw, _ = weight.shape
    stride = (opts.StrideH(), opts.StrideW())
    dilation = (opts.DilationHFactor(), opts.DilationWFactor())
    if opts.Padding() == tflite.Padding.SAME:
        pad = (*_same_padding(in_h, out_h, kh, stride[0], dilation[0]),
               *_same_padding(in_w, out_w, kw, stride[1], dilation[1]))
    else:
        pad = (0, 0, 0, 0)
    if depthwise:  # (1, kh, kw, C*m) -> (C*m, 1, kh, kw), groups = C
        weight, groups = weight.transpose(3, 0, 1, 2), in_c
    else:  # OHWI -> OIHW
        weight, groups = weight.transpose(0, 3, 1, 2), 1
    act = _activation(ctx, opts.FusedActivationFunction())
    return Conv(weight, bias, stride, dilation, pad, groups, act), [0]


class ConvTransposeBias(nn.Module):
    """A transposed convolution plus bias, cropped to TFLite's output (MediaPipe's
    Convolution2DTransposeBias custom op, the upsampling head of its segmentation models)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, stride: tuple[int, int],
                 crop_tblr: tuple[int, int, int, int], out_hw: tuple[int, int]) -> None:
        super().__init__()
        self.weight, self.bias, self.stride = _param(weight), _param(bias), stride
        top, _, left, _ = crop_tblr
        self.symmetric = crop_tblr[0] == crop_tblr[1] and crop_tblr[2] == crop_tblr[3]
        self.padding = (top, left) if self.symmetric else (0, 0)
        self.window = (slice(None), slice(None), slice(top, top + out_hw[0]),
                       slice(left, left + out_hw[1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding)
        return y if self.symmetric else y[self.window]


def build_conv_transpose_bias(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    """Inputs (activation, weights OHWI, bias); custom_options are MediaPipe's raw
    TfLiteTransposeConvParams struct: int32 padding (1 SAME, 2 VALID), stride_width,
    stride_height. Like TFLite's TRANSPOSE_CONV, input pixel (y, x) adds weight[:, i, j, :] to
    output pixel (y * stride - pad_top + i, x * stride - pad_left + j), no kernel flip: torch's
    conv_transpose2d with the weights as (I, O, H, W), then the output window cropped."""
    raw = ctx.op.CustomOptionsAsNumpy()
    if isinstance(raw, int) or raw.size < 12:
        raise ctx.fail("custom options are not a TfLiteTransposeConvParams struct")
    padding, stride_w, stride_h = (int(v) for v in raw[:12].view("<i4"))
    weight, bias = ctx.consts[1], ctx.consts[2] if len(ctx.consts) > 2 else None
    if weight is None or bias is None or ctx.consts[0] is not None:
        raise ctx.fail("weights and bias must be constant and the input an activation")
    if padding not in (1, 2) or stride_w < 1 or stride_h < 1:
        raise ctx.fail(f"padding {padding}, strides {stride_w}, {stride_h} are not supported")
    _, in_h, in_w, _ = ctx.in_shapes[0]
    _, out_h, out_w, out_c = ctx.out_shape
    _, kh, kw, _ = weight.shape
    full_h, full_w = (in_h - 1) * stride_h + kh, (in_w - 1) * stride_w + kw
    if padding == 2:  # VALID: the whole output
        crop = (0, 0, 0, 0)
    else:  # SAME: output = input * stride, TensorFlow's split with the extra pixel after
        crop = (*_same_padding(out_h, in_h, kh, stride_h, 1),
                *_same_padding(out_w, in_w, kw, stride_w, 1))
    if (full_h - crop[0] - crop[1], full_w - crop[2] - crop[3]) != (out_h, out_w):
        raise ctx.fail(f"output {ctx.out_shape} does not follow from input {ctx.in_shapes[0]}, "
                       f"kernel {kh}x{kw}, strides {stride_h}, {stride_w}")
    if weight.shape[0] != out_c or bias.size != out_c:
        raise ctx.fail(f"weights {weight.shape} / bias {bias.shape} do not give {out_c} channels")
    return ConvTransposeBias(weight.transpose(3, 0, 1, 2), bias.reshape(-1), (stride_h, stride_w),
                             crop, (out_h, out_w)), [0]


def _to_internal(value: np.ndarray, other_rank: int) -> np.ndarray:
    """A constant operand broadcast against an activation, in that activation's layout."""
    if other_rank != 4:
        return value
    value = value.reshape((1,) * (4 - value.ndim) + value.shape)
    return value.transpose(0, 3, 1, 2)


class Add(nn.Module):
    """ADD of an activation and another activation or a constant (Mul: the same for MUL)."""

    op = staticmethod(torch.add)

    def __init__(self, act: nn.Module, const: np.ndarray | None = None) -> None:
        super().__init__()
        self.act = act
        self.const = _param(const) if const is not None else None

    def forward(self, a: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        return self.act(self.op(a, b if self.const is None else self.const))


class Mul(Add):
    """MUL, e.g. a squeeze-excitation gate (N, C, 1, 1) times its features (N, C, H, W)."""

    op = staticmethod(torch.mul)


def _binary(ctx: OpContext, module: type, act: nn.Module) -> tuple[nn.Module, list[int]]:
    """An elementwise op of two operands, one of which may be a constant."""
    consts = [c is not None for c in ctx.consts]
    if not any(consts):
        ranks = {len(s) for s in ctx.in_shapes}
        if 4 in ranks and len(ranks) > 1:  # NCHW and TFLite's layout do not broadcast
            raise ctx.fail(f"broadcasting {ctx.in_shapes[0]} with {ctx.in_shapes[1]} (a 4D "
                           f"activation with one of another rank) is not supported")
        return module(act), [0, 1]
    if all(consts):
        raise ctx.fail("both operands are constant")
    live = consts.index(False)
    const = ctx.consts[1 - live]
    return module(act, _to_internal(const, len(ctx.in_shapes[live]))), [live]


def build_add(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    return _binary(ctx, Add, _activation(ctx, ctx.options(tflite.AddOptions)
                                         .FusedActivationFunction()))


def build_mul(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    return _binary(ctx, Mul, _activation(ctx, ctx.options(tflite.MulOptions)
                                         .FusedActivationFunction()))


class MaxPool(nn.Module):
    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int],
                 pad_tblr: tuple[int, int, int, int], act: nn.Module) -> None:
        super().__init__()
        self.kernel, self.stride, self.act = kernel, stride, act
        top, bottom, left, right = pad_tblr
        self.pre_pad = (left, right, top, bottom)
        self.padded = any(pad_tblr)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.padded:  # SAME max pooling ignores the padding: pad with -inf
            x = F.pad(x, self.pre_pad, value=float("-inf"))
        return self.act(F.max_pool2d(x, self.kernel, self.stride))


def _pool_geometry(ctx: OpContext) -> tuple[tuple[int, int], tuple[int, int],
                                             tuple[int, int, int, int], nn.Module]:
    """Kernel, stride, padding (top, bottom, left, right) and activation of a 2D pooling."""
    opts = ctx.options(tflite.Pool2DOptions)
    kernel, stride = (opts.FilterHeight(), opts.FilterWidth()), (opts.StrideH(), opts.StrideW())
    _, in_h, in_w, _ = ctx.in_shapes[0]
    _, out_h, out_w, _ = ctx.out_shape
    pad = (0, 0, 0, 0)
    if opts.Padding() == tflite.Padding.SAME:
        pad = (*_same_padding(in_h, out_h, kernel[0], stride[0], 1),
               *_same_padding(in_w, out_w, kernel[1], stride[1], 1))
    return kernel, stride, pad, _activation(ctx, opts.FusedActivationFunction())


def build_max_pool(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    return MaxPool(*_pool_geometry(ctx)), [0]


class AvgPool(nn.Module):
    """AVERAGE_POOL_2D. SAME padding is left out of each window's average (TFLite divides by
    the number of pixels inside the image): zero padding, then a per-pixel rescale fixed at
    load time. A window over the whole input (MediaPipe's squeeze-excitation) is a mean."""

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int],
                 pad_tblr: tuple[int, int, int, int], act: nn.Module,
                 in_hw: tuple[int, int]) -> None:
        super().__init__()
        self.kernel, self.stride, self.act = kernel, stride, act
        top, bottom, left, right = pad_tblr
        self.pre_pad = (left, right, top, bottom)
        self.padded = any(pad_tblr)
        self.global_mean = not self.padded and kernel == in_hw
        self.rescale = None
        if self.padded:
            ones = F.pad(torch.ones(1, 1, *in_hw), self.pre_pad)
            inside = F.avg_pool2d(ones, kernel, stride)  # fraction of each window in the image
            self.rescale = _param(1.0 / inside.numpy())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.global_mean:
            return self.act(x.mean(dim=(2, 3), keepdim=True))
        if self.padded:
            x = F.pad(x, self.pre_pad)
        y = F.avg_pool2d(x, self.kernel, self.stride)
        return self.act(y if self.rescale is None else y * self.rescale)


def build_average_pool(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    _, in_h, in_w, _ = ctx.in_shapes[0]
    return AvgPool(*_pool_geometry(ctx), in_hw=(in_h, in_w)), [0]


class Pad(nn.Module):
    def __init__(self, pad: tuple[int, ...]) -> None:
        super().__init__()
        self.pad = pad

    def spatial_symmetric(self) -> bool:
        left, right, top, bottom, c0, c1 = self.pad
        return left == right and top == bottom and c0 == c1 == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x, self.pad)


def build_pad(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    paddings = ctx.consts[1]
    if paddings is None or len(ctx.in_shapes[0]) != 4:
        raise ctx.fail("only constant paddings of 4D tensors are supported")
    (b0, b1), (t, b), (le, r), (c0, c1) = paddings.reshape(4, 2).tolist()
    if b0 or b1:
        raise ctx.fail("padding the batch dimension is not supported")
    return Pad((le, r, t, b, c0, c1)), [0]


class Reshape(nn.Module):
    """RESHAPE with TFLite's (NHWC, row-major) element order; the batch stays first."""

    def __init__(self, in_rank: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.in_rank, self.shape = in_rank, (-1, *shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_rank == 4:
            x = x.permute(0, 2, 3, 1)
        x = x.reshape(self.shape)
        return x.permute(0, 3, 1, 2) if len(self.shape) == 4 else x


def build_reshape(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    if ctx.in_shapes[0][:1] != ctx.out_shape[:1]:
        raise ctx.fail(f"reshape {ctx.in_shapes[0]} -> {ctx.out_shape} changes the batch size")
    return Reshape(len(ctx.in_shapes[0]), ctx.out_shape), [0]


class Concat(nn.Module):
    def __init__(self, axis: int, act: nn.Module) -> None:
        super().__init__()
        self.axis, self.act = axis, act

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.act(torch.cat(xs, dim=self.axis))


def build_concat(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    opts = ctx.options(tflite.ConcatenationOptions)
    if any(c is not None for c in ctx.consts):
        raise ctx.fail("constant operands are not supported")
    rank = len(ctx.out_shape)
    axis = opts.Axis() % rank
    if rank == 4:
        axis = NHWC_TO_NCHW_AXIS[axis]
    act = _activation(ctx, opts.FusedActivationFunction())
    return Concat(axis, act), list(range(len(ctx.consts)))


class ResizeBilinear(nn.Module):
    def __init__(self, size: tuple[int, int], align_corners: bool) -> None:
        super().__init__()
        self.size, self.align_corners = size, align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=self.size, mode="bilinear",
                             align_corners=self.align_corners)


def build_resize_bilinear(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    opts = ctx.options(tflite.ResizeBilinearOptions)
    if not (opts.HalfPixelCenters() or opts.AlignCorners()):
        raise ctx.fail("legacy resize (neither half_pixel_centers nor align_corners) is not "
                       "supported")
    return ResizeBilinear(tuple(ctx.out_shape[1:3]), bool(opts.AlignCorners())), [0]


class DepthToSpace(nn.Module):
    """TensorFlow's channel order: input channel (i * block + j) * C_out + c -> pixel (i, j)."""

    def __init__(self, block: int, out_c: int, in_h: int, in_w: int) -> None:
        super().__init__()
        self.block, self.out_c, self.in_h, self.in_w = block, out_c, in_h, in_w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = self.block, self.out_c, self.in_h, self.in_w
        x = x.reshape(-1, b, b, c, h, w).permute(0, 3, 4, 1, 5, 2)
        return x.reshape(-1, c, h * b, w * b)


def build_depth_to_space(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    block = ctx.options(tflite.DepthToSpaceOptions).BlockSize()
    _, in_h, in_w, _ = ctx.in_shapes[0]
    return DepthToSpace(block, ctx.out_shape[3], in_h, in_w), [0]


def build_logistic(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    return nn.Sigmoid(), [0]


def build_relu(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    return nn.ReLU(), [0]  # not in place: the input may have other readers


def build_hard_swish(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    return nn.Hardswish(), [0]  # x * relu6(x + 3) / 6, as TFLite's HARD_SWISH


class PRelu(nn.Module):
    """PRELU: x where x >= 0, alpha * x below; alpha broadcast in the activation's layout."""

    def __init__(self, alpha: np.ndarray) -> None:
        super().__init__()
        self.alpha = _param(alpha)
        self.per_channel = alpha.ndim == 4 and alpha.shape[0] == alpha.shape[2] == \
            alpha.shape[3] == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_channel:  # one fused kernel (and ONNX PRelu) for the common case
            return F.prelu(x, self.alpha.reshape(-1))
        return torch.where(x >= 0, x, x * self.alpha)


def build_prelu(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    alpha = ctx.consts[1]
    if alpha is None or ctx.consts[0] is not None:
        raise ctx.fail("alpha must be constant and x an activation")
    return PRelu(_to_internal(alpha, len(ctx.in_shapes[0]))), [0]


class Slice(nn.Module):
    """STRIDED_SLICE with constant bounds: plain indexing with slices fixed at load time."""

    def __init__(self, slices: tuple[slice, ...]) -> None:
        super().__init__()
        self.slices = slices

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.slices]


def build_strided_slice(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    opts = ctx.options(tflite.StridedSliceOptions)
    begin, end, strides = ctx.consts[1:4]
    if begin is None or end is None or strides is None:
        raise ctx.fail("begin, end and strides must be constant")
    if opts.EllipsisMask() or opts.NewAxisMask() or opts.ShrinkAxisMask():
        raise ctx.fail("ellipsis, new-axis and shrink-axis masks are not supported")
    shape = ctx.in_shapes[0]
    slices = []
    for axis in range(len(shape)):
        b, e, s = int(begin[axis]), int(end[axis]), int(strides[axis])
        if opts.Offset():
            e = b + e
        b = None if opts.BeginMask() >> axis & 1 else b
        e = None if opts.EndMask() >> axis & 1 else e
        if s < 1:
            raise ctx.fail("negative strides are not supported")
        slices.append(slice(b, e, s))
    if range(shape[0])[slices[0]] != range(shape[0]):  # numpy's slice rules are TFLite's
        raise ctx.fail("slicing the batch dimension is not supported")
    slices[0] = slice(None)  # any batch size runs through
    if len(shape) == 4:
        slices = [slices[0], slices[3], slices[1], slices[2]]
    return Slice(tuple(slices)), [0]


class Mean(nn.Module):
    """MEAN over constant axes, given in TFLite's (NHWC) numbering."""

    def __init__(self, axes: tuple[int, ...], keep_dims: bool, in_rank: int) -> None:
        super().__init__()
        self.keep_dims, self.nhwc = keep_dims, in_rank == 4 and not keep_dims
        # keep_dims leaves a 4D result in our NCHW layout; otherwise reduce in TFLite's order
        self.axes = tuple(NHWC_TO_NCHW_AXIS[a] for a in axes) if in_rank == 4 and keep_dims \
            else axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.nhwc:
            x = x.permute(0, 2, 3, 1)
        return x.mean(dim=self.axes, keepdim=self.keep_dims)


def build_mean(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    axes = ctx.consts[1]
    if axes is None:
        raise ctx.fail("axes must be constant")
    rank = len(ctx.in_shapes[0])
    axes = tuple(sorted({int(a) % rank for a in np.atleast_1d(axes)}))
    if 0 in axes:
        raise ctx.fail("averaging over the batch dimension is not supported")
    keep_dims = bool(ctx.options(tflite.ReducerOptions).KeepDims())
    return Mean(axes, keep_dims, rank), [0]


class FullyConnected(nn.Module):
    """FULLY_CONNECTED: rows of the input (TFLite's element order) times weights (out, in)."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None, in_rank: int,
                 out_shape: tuple[int, ...], act: nn.Module) -> None:
        super().__init__()
        self.weight = _param(weight)
        self.bias = _param(bias) if bias is not None else None
        self.in_rank, self.out_shape, self.act = in_rank, (-1, *out_shape[1:]), act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_rank == 4:
            x = x.permute(0, 2, 3, 1)
        y = F.linear(x.reshape(-1, self.weight.shape[1]), self.weight, self.bias)
        return self.act(y.reshape(self.out_shape))


def build_fully_connected(ctx: OpContext) -> tuple[nn.Module, list[int]]:
    opts = ctx.options(tflite.FullyConnectedOptions)
    weight = ctx.consts[1]
    bias = ctx.consts[2] if len(ctx.consts) > 2 else None
    if weight is None or (len(ctx.consts) > 2 and ctx.in_shapes[2] and bias is None):
        raise ctx.fail("weights and bias must be constant")
    if opts.WeightsFormat() != 0:
        raise ctx.fail("shuffled weight formats are not supported")
    in_shape = ctx.in_shapes[0]
    rows = int(np.prod(in_shape)) // weight.shape[1]
    if rows * weight.shape[1] != int(np.prod(in_shape)) or rows != in_shape[0] * int(
            np.prod(ctx.out_shape[1:-1])):
        raise ctx.fail(f"input {in_shape} does not split into rows of {weight.shape[1]} per "
                       f"batch item as the output {ctx.out_shape} needs")
    act = _activation(ctx, opts.FusedActivationFunction())
    return FullyConnected(weight, bias, len(in_shape), ctx.out_shape, act), [0]


BUILDERS: dict[str, Callable[[OpContext], tuple[nn.Module, list[int]]]] = {
    "CONV_2D": build_conv,
    "DEPTHWISE_CONV_2D": build_conv,
    "ADD": build_add,
    "MAX_POOL_2D": build_max_pool,
    "PAD": build_pad,
    "RESHAPE": build_reshape,
    "CONCATENATION": build_concat,
    "RESIZE_BILINEAR": build_resize_bilinear,
    "DEPTH_TO_SPACE": build_depth_to_space,
    "LOGISTIC": build_logistic,
    "RELU": build_relu,
    "HARD_SWISH": build_hard_swish,
    "MUL": build_mul,
    "AVERAGE_POOL_2D": build_average_pool,
    "PRELU": build_prelu,
    "STRIDED_SLICE": build_strided_slice,
    "MEAN": build_mean,
    "FULLY_CONNECTED": build_fully_connected,
    # custom ops, by their custom_code
    "Convolution2DTransposeBias": build_conv_transpose_bias,
}
