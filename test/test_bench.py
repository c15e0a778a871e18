"""`pose-ros bench` on a 10-frame clip made from a real photograph: every stage is timed."""

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("skimage", reason="scikit-image (test extra) ships the test photograph")

from pose_ros.errors import PoseRosError  # noqa: E402
from pose_ros.io.demo import write_demo_video  # noqa: E402
from pose_ros.io.sources import Frame, Source  # noqa: E402
from pose_ros.models import store  # noqa: E402
from pose_ros.tools import bench  # noqa: E402

ORT = importlib.util.find_spec("onnxruntime") is not None


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    try:
        store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available (PyPI unreachable?): {exc}")
    return write_demo_video(tmp_path_factory.mktemp("bench") / "clip.mp4", num_frames=10)


def pose_ros(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pose_ros.cli", *argv], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow  # a subprocess that loads the models and runs them
def test_bench_writes_every_stage(clip, tmp_path):
    out = tmp_path / "bench.json"
    trace = tmp_path / "trace.json"
    done = pose_ros("bench", str(clip), "--loop", "12", "--warmup", "1", "--device", "cpu",
                    "--json", str(out), "--profile", str(trace), "--quiet",
                    *(["--backend", "torch", "onnxruntime"] if ORT else []))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["frames"] == 12                      # looped past the clip's 10 frames
    assert set(report["stages"]) == set(bench.STAGES) - {"hands"}   # hands are off by default
    assert report["hands"] is None
    for name, stage in report["stages"].items():
        assert 0 <= stage["p50_ms"] <= stage["p95_ms"], name
        assert stage["count"] >= 1
    assert report["stages"]["landmarks"]["count"] == 12
    assert report["fps"] > 0 and report["pipeline_fps"] >= report["fps"]
    assert report["people_per_frame"]["frames_with_people"] >= 10   # the astronaut is found
    assert report["reference"] is None
    assert report["settings"]["pipeline"]["enable_3d"] is True
    assert json.loads(trace.read_text())["traceEvents"]           # a chrome trace
    assert "end_to_end" in done.stdout and "fps" in done.stdout
    # both backends ran on the same frames, side by side; the top level is the first one's
    runs = report["backends"]
    assert len(runs) == (2 if ORT else 1)
    assert list(runs.values())[0]["fps"] == report["fps"]
    for run in runs.values():
        assert run["frames"] == 12 and run["people_per_frame"]["frames_with_people"] >= 10
        assert sum(v["count"] for v in run["end_to_end_by_people"].values()) == 12
    if ORT:
        assert report["settings"]["backends"][1].startswith("onnxruntime fp32")


def test_reference_in_another_python_without_mediapipe_is_one_clear_error():
    """The reference worker starts, says it has no mediapipe, and the error names the fix."""
    from pose_ros.tools.bench_reference import MediaPipeProcess

    if importlib.util.find_spec("mediapipe") is not None:
        pytest.skip("mediapipe is installed here")
    with pytest.raises(PoseRosError, match="no usable mediapipe 0.10.14"):
        MediaPipeProcess(sys.executable)
    with pytest.raises(PoseRosError, match="cannot start it"):
        MediaPipeProcess("/nonexistent/python")


class FakeSource(Source):
    fps = 10.0

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield Frame(index=i, stamp_ns=i * 100_000_000, image_bgr=np.zeros((2, 2, 3), np.uint8))


def test_loop_keeps_stamps_increasing():
    frames = list(bench.looped(lambda: FakeSource(3), 7))
    assert [f.index for f in frames] == list(range(7))
    stamps = [f.stamp_ns for f in frames]
    assert all(b > a for a, b in zip(stamps, stamps[1:]))
    assert stamps[3] - stamps[2] == 100_000_000                   # one frame period
    assert len(list(bench.looped(lambda: FakeSource(5), 2))) == 2
    assert len(list(bench.looped(lambda: FakeSource(5), None))) == 5


def test_bad_input_is_one_clear_error(tmp_path):
    done = pose_ros("bench", str(tmp_path / "missing.mp4"))
    assert done.returncode == 1 and "no such file" in done.stderr
    assert done.stderr.strip().count("\n") == 0
    done = pose_ros("bench", "--demo", "--loop", "0")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == ("pose-ros bench: error: argument --loop: 0 must be >= 1 "
                                   "(see pose-ros bench --help)")


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None,
                    reason="mediapipe is installed: the missing-reference error cannot occur")
def test_reference_without_mediapipe_says_how_to_install(clip):
    done = pose_ros("bench", str(clip), "--reference", "mediapipe")
    assert done.returncode == 1 and "pip install '.[reference]'" in done.stderr
