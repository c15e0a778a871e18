"""`pose-ros run` and `pose-ros bench` as a user runs them: every bad argument, path or value is
one line before any model loads (the model cache is pointed at an empty folder and downloads are
off, so a check that ran after loading would fail with the missing-model error instead)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def pose_ros(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, POSE_ROS_MODELS=str(tmp / "no_models_here"), PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "pose_ros.cli", *args, "--no-download"],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp)


def one_line(done: subprocess.CompletedProcess, status: int, *fragments: str) -> str:
    assert done.returncode == status, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.full((64, 48, 3), 128, np.uint8))
    return path


def test_out_under_a_file_and_out_a_file(tmp_path, photo):
    one_line(pose_ros("run", str(photo), "--out", str(photo / "sub"), tmp=tmp_path), 1,
             f"--out {photo / 'sub'}: {photo} is a file")
    one_line(pose_ros("run", str(photo), "--out", str(photo), tmp=tmp_path), 1,
             f"--out {photo} is an existing file, not a folder")


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write in: a mode 555 one, or for root (who may write
    anywhere) a read-only kernel folder."""
    if os.geteuid() != 0:
        folder = tmp_path / "read_only"
        folder.mkdir(mode=0o555)
        return folder
    for folder in (Path("/proc/sys"), Path("/sys/kernel")):
        if folder.is_dir() and not os.access(folder, os.W_OK):
            return folder
    pytest.skip("running as root and no read-only folder found")


def test_read_only_folder(tmp_path, photo):
    folder = _unwritable_folder(tmp_path)
    with pytest.raises(OSError):                    # writing there really fails
        (folder / "pose_ros_probe").mkdir()
    done = pose_ros("run", str(photo), "--out", str(folder / "out"), tmp=tmp_path)
    one_line(done, 1, "no permission to write in", str(folder))
    os.chmod(folder, 0o755) if folder.is_relative_to(tmp_path) else None


@pytest.mark.parametrize("args, message", [
    (("--fps", "0"), "argument --fps: 0 must be a finite number > 0"),
    (("--fps", "-5"), "argument --fps: -5 must be a finite number > 0"),
    (("--max-frames", "-1"), "argument --max-frames: -1 must be >= 1"),
])
def test_bad_values_are_one_argparse_line(tmp_path, photo, args, message):
    one_line(pose_ros("run", str(photo), "--out", str(tmp_path / "o"), *args, tmp=tmp_path), 2,
             "pose-ros run: error: " + message, "(see pose-ros run --help)")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (("--fps", "nan"), "argument --fps: nan must be a finite number > 0"),
    (("--fps", "1e9"), "argument --fps: 1e9 frames per second is more than 1000"),
    (("--max-frames", "0"), "argument --max-frames: 0 must be >= 1"),
    (("--max-people", "0"), "argument --max-people: 0 must be >= 1"),
    (("--detect-every", "x"), "argument --detect-every: 'x' is not a whole number"),
])
def test_more_bad_values_in_process(capsys, args, message):
    from pose_ros.cli import build_parser

    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["run", "clip.mp4", *args])
    assert stop.value.code == 2
    assert capsys.readouterr().err.strip() == (f"pose-ros run: error: {message} (see pose-ros "
                                               f"run --help)")


def test_bench_json_that_cannot_be_written_fails_before_the_benchmark(tmp_path, photo):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    done = pose_ros("bench", str(photo), "--json", str(blocker / "x.json"), tmp=tmp_path)
    one_line(done, 1, f"--json {blocker / 'x.json'}: {blocker} is a file")
    assert "frames:" not in done.stdout               # nothing was measured
    one_line(pose_ros("bench", str(photo), "--json", str(tmp_path), tmp=tmp_path), 1,
             "is a folder: give a file name")


@pytest.mark.parametrize("width, height", [(1, 1), (10000, 10000)])
def test_unsupported_frame_sizes_are_named(tmp_path, width, height):
    image = tmp_path / f"frame_{width}x{height}.png"
    cv2.imwrite(str(image), np.zeros((height, width, 3), np.uint8))
    done = pose_ros("run", str(image), "--out", str(tmp_path / "o"), tmp=tmp_path)
    one_line(done, 1, f"size {width}x{height} is outside what pose-ros supports (16 to 8192 "
             "pixels per side)")
    assert not (tmp_path / "o" / "poses.jsonl").exists()


def test_force_never_touches_an_input_inside_out(tmp_path, photo):
    out = tmp_path / "out"
    (out / "poses").mkdir(parents=True)
    (out / "poses" / "metadata.yaml").write_text("an earlier run's recording\n")
    frames = out / "poses.jsonl"          # an earlier output used as this run's input
    frames.write_text("{}\n")
    for source in (out / "poses", frames):
        done = pose_ros("run", str(source), "--out", str(out), "--force", tmp=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert (out / "poses" / "metadata.yaml").read_text() == "an earlier run's recording\n"
        assert frames.read_text() == "{}\n"
    one_line(pose_ros("run", str(out / "poses"), "--out", str(out), "--force", tmp=tmp_path), 1,
             "is inside the output", "choose another --out")


def test_force_never_replaces_an_earlier_video_used_as_input(tmp_path):
    """An earlier run's annotated.mp4 given as the input, with the same --out and --force. With
    the user's model cache (not the empty one above) nothing but the check stops the run: on
    c6a98e5 the run loaded the models, deleted the input and wrote its own video in its place."""
    out = tmp_path / "out"
    out.mkdir()
    video = out / "annotated.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 64))
    for i in range(3):
        writer.write(np.full((64, 96, 3), 40 * i, np.uint8))
    writer.release()
    before = video.read_bytes()
    done = subprocess.run(
        [sys.executable, "-m", "pose_ros.cli", "run", str(video), "--out", str(out), "--force",
         "--no-download"], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path)
    one_line(done, 1, "is inside the output", "choose another --out")
    assert video.read_bytes() == before
    assert [p.name for p in out.iterdir()] == ["annotated.mp4"]


def test_ctrl_c_while_torch_loads_is_one_line(tmp_path, photo):
    """Ctrl-C in the first seconds of start-up, at a fixed moment: when torch starts to import
    (an import hook sends the SIGINT). As the `pose-ros` executable does: import the cli, call
    main. c6a98e5 imported torch with the cli, before any handler: a KeyboardInterrupt
    traceback. (test_kill.py signals at timed moments; this one cannot miss start-up.)"""
    script = (
        "import os, signal, sys\n"
        "class Hook:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch':\n"
        "            sys.meta_path.remove(self)\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "sys.meta_path.insert(0, Hook())\n"
        "from pose_ros.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", script, "run", str(photo), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    one_line(done, 130, "stopped by SIGINT during start-up; no output was written")
    assert not out.exists()


def test_unexpected_error_is_one_line_naming_a_bug(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from pose_ros import cli; "
         "from pose_ros.tools import run_command;"
         "run_command.run = lambda args: 1 / 0; sys.exit(cli.main(['run', '--demo']))"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    one_line(done, 70, "internal error: ZeroDivisionError", "POSE_ROS_TRACEBACK=1")
