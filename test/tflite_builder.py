"""One-operator TFLite models written with the `tflite` schema's flatbuffer builders, so each op
of the executor can be checked against LiteRT on shapes and options the real models do not
cover. Test helper, not part of the package."""

from __future__ import annotations

from collections.abc import Callable

import flatbuffers
import numpy as np
import tflite

_TYPES = {np.dtype(np.float32): tflite.TensorType.FLOAT32,
          np.dtype(np.int32): tflite.TensorType.INT32}


def _vector(builder: flatbuffers.Builder, start: Callable, values, prepend: str) -> int:
    start(builder, len(values))
    for v in reversed(list(values)):
        getattr(builder, prepend)(v)
    return builder.EndVector()


def one_op_model(op: int, inputs: list[tuple[tuple[int, ...], np.ndarray | None] | None],
                 output_shape: tuple[int, ...], options_type: int = 0,
                 options: Callable[[flatbuffers.Builder], int] | None = None,
                 custom: tuple[str, bytes] | None = None) -> bytes:
    """A model with one op: `inputs` are (shape, None) for a graph input, (shape, constant), or
    None for an optional input left out (index -1).

    options(builder) writes the op's options table and returns its offset (built first, as
    flatbuffers needs nested tables finished before their parent starts). custom is
    (custom_code, custom_options bytes) for a CUSTOM op (then op is BuiltinOperator.CUSTOM).
    """
    b = flatbuffers.Builder(1024)
    opts = options(b) if options is not None else None
    custom_options = custom_code = None
    if custom is not None:
        custom_code = b.CreateString(custom[0])
        custom_options = _vector(b, tflite.OperatorStartCustomOptionsVector, custom[1],
                                 "PrependUint8")
    # buffer 0 is the empty sentinel; then one per constant
    present = [spec for spec in inputs if spec is not None]
    datas = [None] + [np.ascontiguousarray(c) for _, c in present if c is not None]
    buffers = []
    for data in datas:
        raw = None
        if data is not None:
            raw = _vector(b, tflite.BufferStartDataVector, data.tobytes(), "PrependUint8")
        tflite.BufferStart(b)
        if raw is not None:
            tflite.BufferAddData(b, raw)
        buffers.append(tflite.BufferEnd(b))

    tensors, graph_inputs, next_buffer = [], [], 1
    specs = present + [(output_shape, None)]
    for i, (shape, const) in enumerate(specs):
        name = b.CreateString(f"t{i}")
        dims = _vector(b, tflite.TensorStartShapeVector, shape, "PrependInt32")
        dtype = np.dtype(np.float32) if const is None else const.dtype
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, dims)
        tflite.TensorAddType(b, _TYPES[dtype])
        tflite.TensorAddName(b, name)
        if const is not None:
            tflite.TensorAddBuffer(b, next_buffer)
            next_buffer += 1
        elif i < len(present):
            graph_inputs.append(i)
        tensors.append(tflite.TensorEnd(b))
    out_index = len(present)
    positions = iter(range(len(present)))
    op_in = [next(positions) if spec is not None else -1 for spec in inputs]

    op_inputs = _vector(b, tflite.OperatorStartInputsVector, op_in, "PrependInt32")
    op_outputs = _vector(b, tflite.OperatorStartOutputsVector, [out_index], "PrependInt32")
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_inputs)
    tflite.OperatorAddOutputs(b, op_outputs)
    if opts is not None:
        tflite.OperatorAddBuiltinOptionsType(b, options_type)
        tflite.OperatorAddBuiltinOptions(b, opts)
    if custom_options is not None:
        tflite.OperatorAddCustomOptions(b, custom_options)
    operator = tflite.OperatorEnd(b)

    tensor_vec = _vector(b, tflite.SubGraphStartTensorsVector, tensors, "PrependUOffsetTRelative")
    in_vec = _vector(b, tflite.SubGraphStartInputsVector, graph_inputs, "PrependInt32")
    out_vec = _vector(b, tflite.SubGraphStartOutputsVector, [out_index], "PrependInt32")
    op_vec = _vector(b, tflite.SubGraphStartOperatorsVector, [operator],
                     "PrependUOffsetTRelative")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vec)
    tflite.SubGraphAddInputs(b, in_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    tflite.SubGraphAddOperators(b, op_vec)
    subgraph = tflite.SubGraphEnd(b)

    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(op, 127))
    tflite.OperatorCodeAddBuiltinCode(b, op)
    tflite.OperatorCodeAddVersion(b, 1)
    if custom_code is not None:
        tflite.OperatorCodeAddCustomCode(b, custom_code)
    code = tflite.OperatorCodeEnd(b)

    codes = _vector(b, tflite.ModelStartOperatorCodesVector, [code], "PrependUOffsetTRelative")
    graphs = _vector(b, tflite.ModelStartSubgraphsVector, [subgraph], "PrependUOffsetTRelative")
    bufs = _vector(b, tflite.ModelStartBuffersVector, buffers, "PrependUOffsetTRelative")
    description = b.CreateString("pose_ros test op")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, graphs)
    tflite.ModelAddDescription(b, description)
    tflite.ModelAddBuffers(b, bufs)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
