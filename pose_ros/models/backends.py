"""Where the BlazePose networks run: torch (CPU, CUDA) or ONNX Runtime (CPU, CUDA, TensorRT).

Every backend is a callable `network(x) -> tuple of tensors`: a torch tensor in TFLite layout
(NHWC images, batch first) in, torch tensors out, on the pipeline's device. BlazePose's pre- and
post-processing therefore never know which backend runs.

- torch: the executor's module as a torch.fx graph (no torch.jit: trace/freeze are deprecated);
  CPU or CUDA, fp32 or fp16.
- onnxruntime: the same module exported to ONNX once (export.cached_onnx) and run by an
  InferenceSession whose execution providers follow the device: CPU (threads, graph
  optimisation level); on CUDA, TensorRT (fp16 when asked, engines cached on disk) when the
  installed onnxruntime has it, else CUDA. On a GPU the tensors stay on the device (IOBinding
  on torch's own memory and stream).

`auto` picks, per device, the backend measured fastest (bench/README.md): onnxruntime on CPU
when it is installed, torch on CUDA (nothing was measured on a GPU yet: bench/gpu_check.sh).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.fx
from torch import nn

from pose_ros.errors import PoseRosError

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "onnxruntime", "onnxruntime-cpu", "onnxruntime-cuda",
            "onnxruntime-tensorrt")
OPTIMIZATION_LEVELS = ("disable", "basic", "extended", "all")
MAX_TRT_BATCH = 8   # TensorRT's engines take batches 1..8; larger batches run in chunks


@dataclass(frozen=True)
class BackendOptions:
    """How to run the networks.

    Attributes:
        backend: one of BACKENDS; "onnxruntime" picks its providers from the device, the
            "onnxruntime-<provider>" forms force one (CPU on a CPU device only).
        device: torch device string of the pipeline ("cpu", "cuda", "cuda:1").
        precision: "fp32" or "fp16" (fp16 only on CUDA).
        num_threads: CPU threads for torch and onnxruntime's CPU provider.
        graph_optimization: onnxruntime's graph optimisation level (OPTIMIZATION_LEVELS).
        cache_dir: where exported ONNX files and TensorRT engines are kept.
    """

    backend: str = "auto"
    device: str = "cpu"
    precision: str = "fp32"
    num_threads: int = 1
    graph_optimization: str = "all"
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise PoseRosError(f"backend {self.backend!r}: use one of {', '.join(BACKENDS)}")
        if self.graph_optimization not in OPTIMIZATION_LEVELS:
            raise PoseRosError(f"graph_optimization {self.graph_optimization!r}: use one of "
                               f"{', '.join(OPTIMIZATION_LEVELS)}")
        if self.precision == "fp16" and torch.device(self.device).type == "cpu":
            raise PoseRosError("precision fp16 on the CPU is unsupported (no fast fp16 kernels "
                               "there: 1.5 fps measured); use precision fp32 on the CPU, fp16 "
                               "on CUDA")


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def import_onnxruntime():
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise PoseRosError(
            f"backend onnxruntime needs the onnxruntime package ({exc}): pip install "
            "'pose_ros[onnxruntime]' on a CPU machine, onnxruntime-gpu plus 'pose_ros[export]' "
            "with CUDA, NVIDIA's onnxruntime-gpu wheel on a Jetson; or use backend torch"
            ) from None
    return ort


def resolve_backend(backend: str, device: str) -> str:
    """`auto` -> the backend measured fastest on this device (see the module docstring)."""
    if backend != "auto":
        return backend
    if torch.device(device).type == "cpu" and onnxruntime_available():
        return "onnxruntime"
    return "torch"


def onnxruntime_providers(backend: str, device: str, precision: str, cache_dir: Path,
                          input_name: str, input_shape: Sequence[int]) -> list:
    """Execution providers for a session, best first (onnxruntime falls back in order)."""
    ort = import_onnxruntime()
    available = set(ort.get_available_providers())
    dev = torch.device(device)
    wanted = backend.removeprefix("onnxruntime").lstrip("-") or None
    if dev.type == "cpu":
        if wanted not in (None, "cpu"):
            raise PoseRosError(f"backend {backend} needs device cuda (the device is cpu)")
        return ["CPUExecutionProvider"]
    if wanted == "cpu":
        raise PoseRosError(f"backend {backend} runs on the CPU: set device cpu")
    index = dev.index or 0
    stream = str(torch.cuda.current_stream(dev).cuda_stream)
    cuda = ("CUDAExecutionProvider", {"device_id": index, "user_compute_stream": stream})
    providers = []
    if wanted in (None, "tensorrt") and "TensorrtExecutionProvider" in available:
        engines = cache_dir / "tensorrt"
        engines.mkdir(parents=True, exist_ok=True)
        dims = "x".join(str(d) for d in input_shape[1:])
        providers.append(("TensorrtExecutionProvider", {
            "device_id": index, "user_compute_stream": stream,
            "trt_fp16_enable": precision == "fp16",
            "trt_engine_cache_enable": True, "trt_engine_cache_path": str(engines),
            "trt_timing_cache_enable": True, "trt_timing_cache_path": str(engines),
            "trt_profile_min_shapes": f"{input_name}:1x{dims}",
            "trt_profile_opt_shapes": f"{input_name}:1x{dims}",
            "trt_profile_max_shapes": f"{input_name}:{MAX_TRT_BATCH}x{dims}"}))
    elif wanted == "tensorrt":
        raise PoseRosError("backend onnxruntime-tensorrt: this onnxruntime has no TensorRT "
                           f"provider (it has {sorted(available)}); install onnxruntime-gpu "
                           "with TensorRT (JetPack on a Jetson) or use onnxruntime-cuda")
    if "CUDAExecutionProvider" not in available:
        raise PoseRosError(f"backend {backend} on {device}: this onnxruntime has no CUDA "
                           f"provider (it has {sorted(available)}); pip install onnxruntime-gpu "
                           "(NVIDIA's wheel on a Jetson) instead of onnxruntime")
    return [*providers, cuda]


class _Single(nn.Module):
    """A one-input view of a module, so torch.fx and torch.export trace a fixed signature."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.module(x))


class TorchNetwork:
    """The module as a torch.fx graph on the device (fewer Python calls per op than eager)."""

    def __init__(self, module: nn.Module, device: str, dtype: torch.dtype) -> None:
        module = module.to(device=device, dtype=dtype).eval()
        self.module = torch.fx.symbolic_trace(_Single(module))
        self.input_dtype = dtype
        self.name = "torch"

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.module(x)


class OrtNetwork:
    """An ONNX file run by onnxruntime; torch tensors in and out, on the pipeline's device.

    Inputs and outputs are float32 (an fp16 model keeps fp32 IO); `provider` says which
    execution provider really runs it.
    """

    def __init__(self, path: Path, *, options: BackendOptions, output_shapes: Sequence[tuple],
                 input_shape: Sequence[int]) -> None:
        ort = import_onnxruntime()
        so = ort.SessionOptions()
        so.intra_op_num_threads = options.num_threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[options.graph_optimization]
        so.log_severity_level = 3   # TensorRT/CUDA chatter; errors still raise
        # No CPU memory arena: it keeps the peak batch's activations (the detector's tiles, a
        # batch of people) for good: +252 MiB RSS for a PoseEstimator with it, +81 MiB without,
        # and the same per-image time (27.4 vs 26.8 ms landmarks, 28.9 vs 28.8 ms detector,
        # batches 1-3, one process, 2026-12-03).
        so.enable_cpu_mem_arena = False
        input_name = "input"
        providers = onnxruntime_providers(options.backend, options.device, options.precision,
                                          options.cache_dir, input_name, input_shape)
        try:
            self.session = ort.InferenceSession(str(path), so, providers=providers)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise PoseRosError(f"onnxruntime cannot load {path}: {exc}; delete the file to "
                               "export it again, or use backend torch") from None
        self.device = torch.device(options.device)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.output_shapes = [tuple(s[1:]) for s in output_shapes]
        self.provider = self.session.get_providers()[0]
        self.input_dtype = torch.float32
        self.name = f"onnxruntime ({self.provider})"

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = x.to(torch.float32).contiguous()
        if self.provider == "TensorrtExecutionProvider" and len(x) > MAX_TRT_BATCH:
            parts = [self(x[i:i + MAX_TRT_BATCH]) for i in range(0, len(x), MAX_TRT_BATCH)]
            return tuple(torch.cat(outs) for outs in zip(*parts, strict=True))
        if self.device.type == "cpu":
            outs = self.session.run(self.output_names, {self.input_name: x.numpy()})
            return tuple(torch.from_numpy(o) for o in outs)
        index = self.device.index or 0
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, "cuda", index, np.float32, tuple(x.shape),
                           x.data_ptr())
        outs = [torch.empty((len(x), *shape), dtype=torch.float32, device=self.device)
                for shape in self.output_shapes]
        for name, out in zip(self.output_names, outs, strict=True):
            binding.bind_output(name, "cuda", index, np.float32, tuple(out.shape),
                                out.data_ptr())
        self.session.run_with_iobinding(binding)
        return tuple(outs)


def network(module: nn.Module, *, name: str, source: Path, options: BackendOptions,
            input_shape: Sequence[int], output_shapes: Sequence[tuple]):
    """The module behind `options.backend` (already resolved from "auto").

    name: the file stem the exported ONNX gets in the cache; source: the file the module was
    built from (its sha256 keys the cache).
    """
    dtype = torch.float16 if options.precision == "fp16" else torch.float32
    if options.backend == "torch":
        return TorchNetwork(module, options.device, dtype)
    from pose_ros.models import export

    fp16_model = options.precision == "fp16" and "tensorrt" not in _provider_kind(options)
    path = export.cached_onnx(module, name=name, source=source, input_shape=input_shape,
                              fp16=fp16_model, cache_dir=options.cache_dir)
    return OrtNetwork(path, options=options, output_shapes=output_shapes,
                      input_shape=input_shape)


def _provider_kind(options: BackendOptions) -> str:
    """"tensorrt" where TensorRT will run the model (it takes fp32 ONNX and builds fp16)."""
    if torch.device(options.device).type == "cpu" or options.backend == "onnxruntime-cuda":
        return "cpu" if torch.device(options.device).type == "cpu" else "cuda"
    ort = import_onnxruntime()
    return "tensorrt" if "TensorrtExecutionProvider" in ort.get_available_providers() else "cuda"
