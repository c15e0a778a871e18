"""`pose-ros export`: the detector, the landmark model and the lifter as ONNX files + a manifest.

Each model is exported with torch's ONNX exporter (torch.export based, the one torch supports
going forward) with a dynamic batch dimension. `--fp16` converts the weights and activations to
float16 and keeps float32 inputs and outputs (onnxruntime's float16 converter), for CUDA; for
TensorRT export fp32 and let TensorRT build fp16 engines (trt_fp16_enable). The manifest,
`manifest.json`, says for each model its file, input and output names and shapes, the
pre-processing its input needs, its source file and sha256, and the largest difference from
the torch module measured at export (onnxruntime CPU, random inputs), when onnxruntime is
installed.

The onnxruntime backend uses `cached_onnx`: the same export, once, into the model cache;
`pose-ros export` copies the BlazePose files from there (exporting them first if needed).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pose_ros.errors import PoseRosError

OPSET = 18
EXPORT_REVISION = 2   # bump when the exported graph changes: it keys the cache with the code
MAX_BATCH = 64
INPUT_NAME = "input"
_EXECUTOR_FILES = ("tflite_graph.py", "tflite_ops.py")   # what the exported graph comes from

PREPROCESSING = {
    "detector": "RGB image, letterboxed to a square (zero border) and resized to 224 x 224 "
                "with MediaPipe's ImageToTensor conventions (pose_ros/models/roi.py); NHWC "
                "float32, values (pixel / 255) * 2 - 1 in [-1, 1]. Outputs: Identity, raw "
                "box/keypoint regressions (batch, 2254, 12), and Identity_1, score logits "
                "(batch, 2254, 1), for the SSD anchors of blazepose_detector.ssd_anchors().",
    "landmarks": "RGB crop of a person's rotated square ROI (roi.py: 1.25 x the alignment "
                 "box, border replicated) resized to 256 x 256; NHWC float32, pixel / 255 in "
                 "[0, 1]. Outputs (MediaPipe names): Identity (batch, 195) = 39 x (x, y, z, "
                 "visibility logit, presence logit) in crop pixels, Identity_1 pose presence "
                 "(batch, 1), Identity_3 heatmaps (batch, 64, 64, 39) logits, Identity_4 world "
                 "landmarks (batch, 117) metres.",
    "lifter": "Per person the last `receptive_field` frames of the 17 lifter joints "
              "(skeleton.H36M17) as (x, y, score), normalized with Lifter.normalize "
              "(intrinsics + 2D body scale, pose_ros/models/lifter.py); float32 (batch, "
              "frames, 17, 3). Output (batch, frames - receptive_field + 1, 17, 3) metres in "
              "the camera frame; subtract the pelvis (joint 0) for root-relative 3D.",
    "segmentation": "RGB crop of a square region (a detector tile, border zero) resized to "
                    "256 x 256; NHWC float32, pixel / 255 in [0, 1]. Output (batch, 256, 256, "
                    "1): per-pixel person probability (pose_ros/proposals.py keeps >= 0.5).",
}


def import_export_deps() -> None:
    """onnx and onnxscript are what torch's ONNX exporter needs; a clear error without them."""
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise PoseRosError(f"exporting to ONNX needs onnx and onnxscript ({exc}): pip install "
                           "'pose_ros[export]' (protobuf >= 6: not in the same environment as "
                           "the mediapipe reference)") from None


class _Single(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor):
        out = self.module(x)
        return tuple(out) if isinstance(out, (tuple, list)) else out


def export_onnx(module: nn.Module, example: torch.Tensor, path: Path, *,
                output_names: list[str], fp16: bool = False) -> None:
    """Write `module` (one input, batch first) to `path` with a dynamic batch dimension."""
    import_export_deps()
    module = _Single(_as_convolutions(module).float().eval().cpu()).eval()
    example = example.float().cpu()
    if len(example) < 2:   # an example of batch 1 would make torch.export fix the batch at 1
        example = example.expand(2, *example.shape[1:]).contiguous()
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    with _quiet_exporter():
        program = torch.onnx.export(
            module, (example,), dynamo=True, opset_version=OPSET,
            input_names=[INPUT_NAME], output_names=output_names,
            dynamic_shapes=({0: batch},), optimize=True, verbose=False)
    _save(to_fp16(program.model_proto) if fp16 else program.model_proto, path)


def to_fp16(model):
    """float16 weights and activations, float32 inputs and outputs (onnxruntime's converter)."""
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise PoseRosError(f"--fp16 uses onnxruntime's float16 converter ({exc}): pip install "
                           "onnxruntime (or onnxruntime-gpu)") from None
    return convert_float_to_float16(model, keep_io_types=True)


def _save(model, path: Path) -> None:
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        onnx.save_model(model, tmp)
        os.chmod(tmp, 0o644)   # mkstemp makes it private; the cache is not secret
        os.replace(tmp, path)   # atomic: a concurrent reader sees the old file or the new one
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _as_convolutions(module: nn.Module) -> nn.Module:
    """A copy whose 1x1 convolutions are Conv ops, not the channels-last GEMMs torch runs
    fastest: exported as GEMMs they become Transpose + MatMul + Transpose (115 Transposes in the
    detector), which onnxruntime and TensorRT cannot fuse with the activation."""
    module = copy.deepcopy(module)
    for m in module.modules():
        if getattr(m, "pointwise", False):
            m.pointwise = False
    return module


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter prints its progress on stdout, logs that torchvision's ops are not
    registered and warns about torch's own pytree internals: nothing a user of pose_ros can act
    on. Errors still raise."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
            yield
    finally:
        registration.setLevel(level)


def _executor_digest() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256(f"{torch.__version__} opset {OPSET} r{EXPORT_REVISION}".encode())
    for name in _EXECUTOR_FILES:
        h.update((here / name).read_bytes())
    return h.hexdigest()


def cached_onnx(module: nn.Module, *, name: str, source: Path, input_shape, fp16: bool,
                cache_dir: Path | None = None) -> Path:
    """The module's ONNX file in the cache, exported first if absent (once: ~10-40 s on a
    2-core CPU). The file name carries the source's sha256 and a digest of the exporter, so a
    new model file or executor version makes a new export."""
    from pose_ros.models import store

    folder = (cache_dir or store.cache_dir()) / "onnx"
    key = hashlib.sha256((store.sha256_of(Path(source)) + _executor_digest()).encode())
    path = folder / f"{name}-{key.hexdigest()[:16]}{'-fp16' if fp16 else ''}.onnx"
    if not path.exists():
        print(f"pose_ros: exporting {Path(source).name} to ONNX once ({path})", file=sys.stderr)
        example = torch.zeros(1, *input_shape[1:])
        export_onnx(module, example, path, output_names=list(module.output_names), fp16=fp16)
    return path


def _max_difference(module: nn.Module, path: Path, example: torch.Tensor) -> list[float]:
    """Largest |onnxruntime CPU - torch| per output on `example`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        expected = module.float().eval()(example)
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    got = session.run(None, {INPUT_NAME: example.numpy()})
    return [float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected, strict=True)]


def _describe(path: Path) -> dict:
    import onnx

    def value(v) -> dict:
        dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type)
        return {"name": v.name, "shape": dims, "dtype": str(np.dtype(dtype))}

    graph = onnx.load(str(path), load_external_data=False).graph
    return {"inputs": [value(v) for v in graph.input],
            "outputs": [value(v) for v in graph.output]}


def export_models(out_dir: Path, *, fp16: bool = False, detector_model: str = "pose_detection",
                  landmark_model: str = "pose_landmark_full", lifter_model: str | None = None,
                  receptive_field: int = 27, allow_download: bool = True,
                  verify_batch: int = 2) -> dict:
    """Export the models the pipeline runs (detector, landmarks, lifter, the body proposals'
    segmentation) into out_dir and write manifest.json; returns the manifest."""
    from pose_ros.models import blazepose_detector, segmentation, store
    from pose_ros.models.blazepose import LANDMARK_INPUT, LANDMARK_OUTPUTS
    from pose_ros.models.lifter import Lifter
    from pose_ros.models.tflite_graph import TFLiteGraph

    import_export_deps()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    det_path = store.model_path(detector_model, allow_download=allow_download)
    lm_path = store.model_path(landmark_model, allow_download=allow_download)
    seg_path = store.model_path("selfie_segmentation", allow_download=allow_download)
    lifter = Lifter.load(lifter_model, receptive_field=receptive_field)
    rf = lifter.receptive_field
    lifter_example = torch.randn_like(   # random values of the model's own input shape
        lifter.model.example_input(verify_batch) if hasattr(lifter.model, "example_input")
        else torch.zeros(verify_batch, rf, 17, 3))
    lifter_source = Path(lifter_model) if lifter_model else None
    jobs = [
        ("detector", TFLiteGraph(det_path), det_path,
         torch.rand(verify_batch, blazepose_detector.INPUT_SIZE,
                    blazepose_detector.INPUT_SIZE, 3) * 2 - 1),
        ("landmarks", TFLiteGraph(lm_path, outputs=LANDMARK_OUTPUTS), lm_path,
         torch.rand(verify_batch, LANDMARK_INPUT, LANDMARK_INPUT, 3)),
        ("lifter", lifter.model, lifter_source, lifter_example),
        ("segmentation", TFLiteGraph(seg_path), seg_path,
         torch.rand(verify_batch, segmentation.INPUT_SIZE, segmentation.INPUT_SIZE, 3)),
    ]
    manifest = {"format": "onnx", "opset": OPSET, "fp16": fp16, "torch": torch.__version__,
                "dynamic_axes": {"batch": f"dimension 0 of every input and output, 1..{MAX_BATCH}"},
                "models": {}}
    for key, module, source, example in jobs:
        names = (list(module.output_names) if hasattr(module, "output_names")
                 else ["joints_3d"])
        file = out_dir / f"{key}{'_fp16' if fp16 else ''}.onnx"
        if source is not None and source.suffix == ".tflite":   # what the backend uses
            shutil.copyfile(cached_onnx(module, name=source.stem, source=source,
                                        input_shape=example.shape, fp16=fp16), file)
        else:
            export_onnx(module, example, file, output_names=names, fp16=fp16)
        entry = {"file": file.name, **_describe(file), "preprocessing": PREPROCESSING[key],
                 "source": source.name if source else "lifter weights shipped in pose_ros",
                 "source_sha256": store.sha256_of(source) if source else lifter.digest}
        if key == "lifter":
            entry["receptive_field"] = rf
        with contextlib.suppress(ImportError):
            entry["max_abs_difference_vs_torch"] = dict(zip(
                names, _max_difference(module, file, example), strict=True))
            entry["checked_batch"] = int(len(example))
        manifest["models"][key] = entry
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# ----------------------------------------------------------------------------- CLI glue

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("onnx",), default="onnx",
                        help="model format (onnx)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the .onnx files and manifest.json")
    parser.add_argument("--fp16", action="store_true", help="float16 weights and activations, "
                        "float32 inputs/outputs (for CUDA; TensorRT takes the fp32 files)")
    parser.add_argument("--detector-model", default="pose_detection")
    parser.add_argument("--landmark-model", default="pose_landmark_full")
    parser.add_argument("--lifter-model", default=None,
                        help="lifter weights (default: the shipped weights)")
    parser.add_argument("--no-download", dest="allow_download", action="store_false")


def run(args: argparse.Namespace) -> int:
    try:
        manifest = export_models(Path(args.out), fp16=args.fp16,
                                 detector_model=args.detector_model,
                                 landmark_model=args.landmark_model,
                                 lifter_model=args.lifter_model,
                                 allow_download=args.allow_download)
    except PoseRosError as exc:
        print(f"pose-ros export: error: {exc}", file=sys.stderr)
        return 1
    for key, entry in manifest["models"].items():
        diff = entry.get("max_abs_difference_vs_torch")
        shown = (f"max |onnxruntime - torch| {max(diff.values()):.2g}" if diff
                 else "not checked (onnxruntime not installed)")
        print(f"{key}: {Path(args.out) / entry['file']} ({shown})")
    print(f"wrote {Path(args.out) / 'manifest.json'}")
    return 0
