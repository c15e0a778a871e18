"""Run a float TFLite graph with torch ops, so TFLite models run on CUDA and export to ONNX.

The flatbuffer is read with the `tflite` schema bindings (no TensorFlow). Weights stored as
float16 (DEQUANTIZE) or as sparse CSR tensors (DENSIFY) are folded into dense float32 tensors at
load time. Activations are kept in NCHW inside the module; inputs and outputs keep TFLite's
layout (NHWC) so the module is a drop-in replacement for the TFLite interpreter. The first
dimension is the batch: any batch size works although the file says 1.

`forward` is a fixed list of torch ops with every shape and padding computed at load time, so
torch.jit.trace, torch.export and torch.onnx.export see no Python control flow on values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tflite
import torch
from torch import nn

from pose_ros.models import tflite_ops as ops

_OP_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16,
           9: np.int8}
FOLDED_OPS = ("DEQUANTIZE", "DENSIFY")


class UnsupportedModelError(ValueError):
    """The TFLite file uses something this executor does not implement."""


def _op_name(model: tflite.Model, op: tflite.Operator) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    value = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if value == tflite.BuiltinOperator.CUSTOM:  # named by its custom_code
        return (code.CustomCode() or b"CUSTOM").decode()
    return _OP_NAMES.get(value, f"builtin code {value}")


def _buffer_array(model: tflite.Model, data: bytes, tensor: tflite.Tensor) -> np.ndarray | None:
    """The constant stored for a tensor, or None for an activation."""
    buf = model.Buffers(tensor.Buffer())
    if buf is None:
        return None
    if buf.DataLength() > 0:
        raw = buf.DataAsNumpy().tobytes()
    elif buf.Offset() > 1:  # large models keep buffers after the flatbuffer
        raw = data[buf.Offset(): buf.Offset() + buf.Size()]
    else:
        return None
    dtype = _DTYPES.get(tensor.Type())
    if dtype is None:
        raise UnsupportedModelError(f"tensor {tensor.Name()!r} has TFLite type {tensor.Type()}")
    if tensor.Sparsity() is not None:  # sparse values are densified by the DENSIFY op
        return np.frombuffer(raw, dtype=dtype).copy()
    return np.frombuffer(raw, dtype=dtype).reshape(tensor.ShapeAsNumpy()).copy()


def _sparse_indices(dim: tflite.DimensionMetadata, which: str) -> np.ndarray:
    """array_segments or array_indices of a CSR dimension, whatever integer type it is stored in."""
    kind = getattr(dim, f"Array{which}Type")()
    table = getattr(dim, f"Array{which}")()
    vector = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[kind]()
    vector.Init(table.Bytes, table.Pos)
    return vector.ValuesAsNumpy().astype(np.int64)


def densify(values: np.ndarray, tensor: tflite.Tensor) -> np.ndarray:
    """Dense array of a TFLite sparse tensor (any mix of DENSE/CSR levels, optional blocks).

    Walks the levels in traversal order, level by level and vectorized: each level expands every
    path of the previous level into its children (all of them for DENSE, the CSR segment for
    SPARSE_CSR); the leaves come out in storage order, one per stored value.
    """
    sp = tensor.Sparsity()
    shape = [int(s) for s in tensor.ShapeAsNumpy()]
    order = [int(i) for i in sp.TraversalOrderAsNumpy()]
    block_map = [int(i) for i in sp.BlockMapAsNumpy()] if sp.BlockMapLength() else []
    rank = len(shape)
    coords = np.zeros((1, len(order)), dtype=np.int64)  # per path: index on each expanded dim
    parent = np.zeros(1, dtype=np.int64)  # per path: position in the previous level
    for level, expanded_dim in enumerate(order):
        meta = sp.DimMetadata(level)
        if meta.Format() == 0:  # DENSE
            size = int(meta.DenseSize())
            child = np.arange(size)
            coords = np.repeat(coords, size, axis=0)
            coords[:, expanded_dim] = np.tile(child, len(parent))
            parent = np.repeat(parent, size) * size + coords[:, expanded_dim]
        else:  # SPARSE_CSR
            segments = _sparse_indices(meta, "Segments")
            indices = _sparse_indices(meta, "Indices")
            counts = segments[parent + 1] - segments[parent]
            starts = np.repeat(segments[parent], counts)
            within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            parent = starts + within
            coords = np.repeat(coords, counts, axis=0)
            coords[:, expanded_dim] = indices[parent]
    if len(coords) != values.size:
        raise UnsupportedModelError(
            f"sparse tensor {tensor.Name()!r}: {values.size} values for {len(coords)} positions")
    dense_index = coords[:, :rank].copy()
    for i, dim in enumerate(block_map):
        block = int(sp.DimMetadata(order.index(rank + i)).DenseSize())
        dense_index[:, dim] = dense_index[:, dim] * block + coords[:, rank + i]
    out = np.zeros(shape, dtype=values.dtype)
    out[tuple(dense_index.T)] = values
    return out


def _dequantize(values: np.ndarray, tensor: tflite.Tensor) -> np.ndarray:
    if values.dtype == np.float16:
        return values.astype(np.float32)
    q = tensor.Quantization()
    if q is None or q.ScaleLength() == 0:
        raise UnsupportedModelError(f"DEQUANTIZE of {tensor.Name()!r} without scales")
    axis = q.QuantizedDimension()
    bshape = [1] * values.ndim
    bshape[axis] = -1
    scale = q.ScaleAsNumpy().reshape(bshape if q.ScaleLength() > 1 else [1] * values.ndim)
    zero = q.ZeroPointAsNumpy().reshape(scale.shape) if q.ZeroPointLength() else 0
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)


def _constants(model: tflite.Model, data: bytes, tensors: list, op_list: list,
               name: str) -> dict[int, np.ndarray]:
    """Every constant tensor: stored buffers, then DEQUANTIZE/DENSIFY results folded."""
    consts: dict[int, np.ndarray] = {}
    for i, t in enumerate(tensors):
        value = _buffer_array(model, data, t)
        if value is not None:
            consts[i] = value
    for op in op_list:
        kind = _op_name(model, op)
        if kind in FOLDED_OPS:
            src, dst = int(op.Inputs(0)), int(op.Outputs(0))
            if src not in consts:
                raise UnsupportedModelError(f"{name}: {kind} of an activation")
            fold = densify if kind == "DENSIFY" else _dequantize
            consts[dst] = fold(consts[src], tensors[src])
    return consts


def _live_ops(op_list: list, out_ids: list[int], consts: dict) -> list[int]:
    """Indices, in graph order, of the ops that feed the requested outputs."""
    producer = {int(op.Outputs(0)): k for k, op in enumerate(op_list)}
    needed, stack = set(), list(out_ids)
    while stack:
        t = stack.pop()
        if t in consts or t not in producer or producer[t] in needed:
            continue
        needed.add(producer[t])
        stack.extend(int(i) for i in op_list[producer[t]].InputsAsNumpy() if i >= 0)
    return sorted(needed)


def _fold_pads(steps: list[nn.Module], wiring: list[tuple[list[int], int]], keep: set[int],
               ) -> tuple[list[nn.Module], list[tuple[list[int], int]]]:
    """Drop each zero PAD whose only readers are unpadded convs, padding inside them instead.

    MediaPipe's models pad symmetrically before every stride-2 VALID conv; F.pad would write a
    padded copy of the activation (a few ms per frame on CPU), conv2d's own padding does not.
    """
    readers: dict[int, list[int]] = {}
    for k, (ins, _) in enumerate(wiring):
        for t in ins:
            readers.setdefault(t, []).append(k)
    dropped = set()
    for k, (step, (ins, out)) in enumerate(zip(steps, wiring)):
        users = readers.get(out, [])
        if (isinstance(step, ops.Pad) and step.spatial_symmetric() and out not in keep and users
                and all(isinstance(steps[u], ops.Conv) and steps[u].padding == (0, 0)
                        and steps[u].symmetric for u in users)):
            left, _, top, _ = step.pad[:4]
            for u in users:
                steps[u].padding = (top, left)
                wiring[u] = ([ins[0] if t == out else t for t in wiring[u][0]], wiring[u][1])
            dropped.add(k)
    keep_steps = [k for k in range(len(steps)) if k not in dropped]
    return [steps[k] for k in keep_steps], [wiring[k] for k in keep_steps]


class TFLiteGraph(nn.Module):
    """A float TFLite model as a torch module.

    Args:
        path: the .tflite file.
        outputs: names of the graph outputs to compute, in the order `forward` returns them;
            default all, in the file's order. Ops that feed no requested output are dropped
            (e.g. BlazePose's segmentation head).
    Raises:
        UnsupportedModelError: an op, option or tensor type the executor does not implement,
            named together with the model file.
    """

    def __init__(self, path: str | Path, *, outputs: Sequence[str] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        data = self.path.read_bytes()
        model = tflite.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() != 1:
            raise UnsupportedModelError(f"{self.path.name}: {model.SubgraphsLength()} subgraphs")
        graph = model.Subgraphs(0)
        tensors = [graph.Tensors(i) for i in range(graph.TensorsLength())]
        names = [t.Name().decode() for t in tensors]
        self.input_names = [names[i] for i in graph.InputsAsNumpy()]
        self.input_shapes = [tuple(int(s) for s in tensors[i].ShapeAsNumpy())
                             for i in graph.InputsAsNumpy()]
        all_outputs = [int(i) for i in graph.OutputsAsNumpy()]
        if outputs is None:
            out_ids = all_outputs
        else:
            unknown = set(outputs) - {names[i] for i in all_outputs}
            if unknown:
                raise ValueError(f"{self.path.name}: no outputs {sorted(unknown)}; the model has "
                                 f"{[names[i] for i in all_outputs]}")
            out_ids = [names.index(n) for n in outputs]
        self.output_names = [names[i] for i in out_ids]

        op_list = [graph.Operators(i) for i in range(graph.OperatorsLength())]
        consts = _constants(model, data, tensors, op_list, self.path.name)
        needed = _live_ops(op_list, out_ids, consts)

        self._input_ids = [int(i) for i in graph.InputsAsNumpy()]
        self._output_ids = out_ids
        self.output_shapes = [tuple(int(s) for s in tensors[i].ShapeAsNumpy()) for i in out_ids]
        steps, wiring = [], []
        for k in needed:
            op = op_list[k]
            kind = _op_name(model, op)
            ins = [int(i) for i in op.InputsAsNumpy()]
            if op.OutputsLength() != 1:
                raise UnsupportedModelError(f"{self.path.name}: op #{k} {kind} has "
                                            f"{op.OutputsLength()} outputs")
            out = int(op.Outputs(0))
            build = ops.BUILDERS.get(kind)
            if build is None:
                raise UnsupportedModelError(
                    f"{self.path.name}: operator {kind} (op #{k}) is not supported by the "
                    f"pose_ros TFLite executor (supported: "
                    f"{', '.join(sorted(ops.BUILDERS) + list(FOLDED_OPS))})")
            for i in ins:
                if i >= 0 and i not in consts and tensors[i].Type() != 0:
                    raise UnsupportedModelError(
                        f"{self.path.name}: op #{k} {kind} reads a non-float activation "
                        f"(quantized models are not supported)")
            ctx = ops.OpContext(
                kind=kind, name=f"{self.path.name} op #{k} {kind}", op=op,
                in_shapes=[tuple(int(s) for s in tensors[i].ShapeAsNumpy()) if i >= 0 else ()
                           for i in ins],
                out_shape=tuple(int(s) for s in tensors[out].ShapeAsNumpy()),
                consts=[consts.get(i) if i >= 0 else None for i in ins])
            module, used_inputs = build(ctx)
            steps.append(module)
            wiring.append(([ins[j] for j in used_inputs], out))
        steps, wiring = _fold_pads(steps, wiring, set(out_ids))
        self.steps = nn.ModuleList(steps)
        self._wiring = wiring
        missing = [names[i] for i in out_ids if i not in {w[1] for w in wiring}
                   and i not in self._input_ids]
        if missing:
            raise UnsupportedModelError(f"{self.path.name}: outputs {missing} are constants")

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Inputs and outputs in TFLite layout (NHWC for images), batch first.

        A contiguous NHWC input becomes a channels-last NCHW view, the layout the pointwise
        GEMMs and oneDNN's depthwise convolutions are fastest in on CPU. Ranks come from the
        file, not from the tensors, so torch.fx and torch.export trace it without guards.
        """
        values: dict[int, torch.Tensor] = {}
        for tid, shape, x in zip(self._input_ids, self.input_shapes, inputs, strict=True):
            values[tid] = x.permute(0, 3, 1, 2) if len(shape) == 4 else x
        for step, (ins, out) in zip(self.steps, self._wiring):
            values[out] = step(*[values[i] for i in ins])
        return tuple(values[i].permute(0, 2, 3, 1) if len(shape) == 4 else values[i]
                     for i, shape in zip(self._output_ids, self.output_shapes))

    def extra_repr(self) -> str:
        return f"{self.path.name}: {self.input_names} -> {self.output_names}"


def load(path: str | Path, *, outputs: Sequence[str] | None = None,
         device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> TFLiteGraph:
    """A TFLiteGraph in eval mode on `device` with parameters in `dtype`."""
    return TFLiteGraph(path, outputs=outputs).to(device=device, dtype=dtype).eval()
