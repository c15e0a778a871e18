#!/usr/bin/env bash
# The GPU check of issue 12 in one script: test/test_cuda.py, then `pose-ros bench` on CUDA for
# torch fp32, torch fp16, onnxruntime CUDA fp32 and onnxruntime TensorRT fp16 over the video
# clips, one table at the end. Planned to finish in under 8 minutes (a 150-frame cap per clip
# and run; the first TensorRT engine build is the slow part and is cached).
#
#   bash bench/gpu_check.sh prepare       # on a connected machine: fill .gpu_carry/ (ignored)
#   bash bench/gpu_check.sh run           # on the GPU machine, from the repository root
#   bash bench/gpu_check.sh run --cpu-dry-run   # the same plumbing on a CPU, 20 frames a run
#
# `prepare` copies what an offline GPU machine lacks into .gpu_carry/: the models (BlazePose's
# two and the body proposals' segmentation, from the model cache), the clips (../shared/data/video) and wheels of the runtime
# dependencies that a stock CUDA/PyTorch image does not have (x86_64, CPython 3.12: the
# device machine's; PREP_PYTHON_VERSION overrides). onnxruntime-gpu (~300 MB) and TensorRT do
# not fit a 64 MiB transfer: where the image has no CUDA/TensorRT provider those rows say so.
# `run` installs from .gpu_carry/wheels when present (pip --no-index), else from PyPI.
set -uo pipefail
cd "$(dirname "$0")/.."
CARRY=.gpu_carry
MODE=${1:-run}
shift || true

if [ "$MODE" = prepare ]; then
  set -e
  mkdir -p "$CARRY/models" "$CARRY/video" "$CARRY/wheels"
  exclude=$(git rev-parse --git-path info/exclude)   # also right in a git worktree
  mkdir -p "$(dirname "$exclude")"
  grep -qx "/$CARRY/" "$exclude" 2>/dev/null || echo "/$CARRY/" >> "$exclude"
  models=$(python3 -m pose_ros.cli models path 2>/dev/null || true)
  [ -n "$models" ] || models=${POSE_ROS_MODELS:-$HOME/.cache/pose_ros/models}
  cp "$models"/pose_detection.tflite "$models"/pose_landmark_full.tflite \
     "$models"/selfie_segmentation.tflite "$CARRY/models/"
  cp ../shared/data/video/*.mp4 "$CARRY/video/"
  pyver=${PREP_PYTHON_VERSION:-3.12}
  for pkg in rosbags apsw backports.zstd lz4 ruamel.yaml ruamel.yaml.clib tflite pycocotools platformdirs; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform any -d "$CARRY/wheels" "$pkg" \
      || echo "prepare: no wheel for $pkg (run will try PyPI)" >&2
  done
  du -sh "$CARRY"
  echo "carry $CARRY with the working tree, then: bash bench/gpu_check.sh run"
  exit 0
fi
[ "$MODE" = run ] || { echo "usage: bash bench/gpu_check.sh prepare|run [--cpu-dry-run]" >&2; exit 2; }

DRY=0
[ "${1:-}" = --cpu-dry-run ] && DRY=1
OUT=${OUT:-/tmp/pose_ros_gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
START=$(date +%s)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
[ -d "$CARRY/models" ] && export POSE_ROS_MODELS="$PWD/$CARRY/models"
VIDEOS=${VIDEOS:-$CARRY/video}
[ -d "$VIDEOS" ] || VIDEOS=../shared/data/video

echo "== environment"
$PY - <<'EOF'
import platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda",
      torch.version.cuda, "gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available()
      else "none")
try:
    import onnxruntime as ort
    print("onnxruntime", ort.__version__, ort.get_available_providers())
except ImportError:
    print("onnxruntime: not installed")
EOF
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null

echo "== installing what is missing"
need=$($PY - <<'EOF'
import importlib.util as u
mods = {"rosbags": "rosbags", "tflite": "tflite", "pycocotools": "pycocotools",
        "platformdirs": "platformdirs", "cv2": "opencv-python-headless", "scipy": "scipy",
        "tqdm": "tqdm", "onnx": "onnx", "onnxscript": "onnxscript", "pytest": "pytest",
        "skimage": "scikit-image"}
print(" ".join(p for m, p in mods.items() if u.find_spec(m) is None))
EOF
)
if [ -d "$CARRY/wheels" ] && ls "$CARRY"/wheels/*.whl >/dev/null 2>&1; then
  # carried wheels: an offline machine, so PyPI is never tried (pip would wait on its timeouts)
  $PY -m pip install -q --no-index --no-deps --target /tmp/pose_ros_site "$CARRY"/wheels/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/pose_ros_site"
else
  [ -z "$need" ] || $PY -m pip install -q $need || echo "pip could not install: $need" >&2
  if [ "$DRY" = 0 ]; then   # a connected GPU machine: onnxruntime with CUDA/TensorRT
    $PY -c "import onnxruntime as o; assert 'CUDAExecutionProvider' in o.get_available_providers()" \
      2>/dev/null || $PY -m pip install -q onnxruntime-gpu \
      || echo "onnxruntime-gpu not installable here: the onnxruntime rows will be skipped" >&2
  fi
fi

if [ "$DRY" = 1 ]; then
  DEVICE=cpu; FRAMES=20
  VARIANTS="torch:fp32 onnxruntime-cpu:fp32"
else
  DEVICE=cuda; FRAMES=${FRAMES:-150}
  VARIANTS="torch:fp32 torch:fp16 onnxruntime-cuda:fp32 onnxruntime-tensorrt:fp16"
fi

echo "== test/test_cuda.py"
if [ "$DRY" = 1 ]; then
  echo "(dry run: test_cuda.py skips itself without a GPU)"
fi
timeout 240 $PY -m pytest -q -p no:cacheprovider test/test_cuda.py 2>&1 | tail -15 \
  | tee "$OUT/test_cuda.log"

echo "== pose-ros bench on $DEVICE ($FRAMES frames per clip and variant)"
for clip in "$VIDEOS"/*.mp4; do
  name=$(basename "$clip" .mp4)
  for variant in $VARIANTS; do
    backend=${variant%%:*}; precision=${variant##*:}
    if [ $(( $(date +%s) - START )) -gt 420 ]; then
      echo "time budget reached: $name $variant not run" | tee -a "$OUT/skipped.txt"; continue
    fi
    json="$OUT/bench_${name}_${backend}_${precision}.json"
    timeout 150 $PY -m pose_ros.cli bench "$clip" --device "$DEVICE" --backend "$backend" \
      --precision "$precision" --loop "$FRAMES" --warmup 5 --quiet --json "$json" \
      > "$OUT/bench_${name}_${backend}_${precision}.log" 2>&1 \
      || { echo "$name $variant: failed or skipped: $(tail -1 "$OUT/bench_${name}_${backend}_${precision}.log")" \
           | tee -a "$OUT/skipped.txt"; }
  done
done

echo "== table"
$PY bench/gpu_table.py "$OUT" | tee "$OUT/table.md"
echo "total $(( $(date +%s) - START )) s; files in $OUT"
