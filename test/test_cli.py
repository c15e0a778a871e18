"""The `pose-ros` command, run as a user runs it: a subprocess."""

from __future__ import annotations

import subprocess
import sys

import pose_ros


def pose_ros_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pose_ros.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_version():
    out = pose_ros_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"pose-ros {pose_ros.__version__}"


def test_help_lists_commands():
    out = pose_ros_cli("--help")
    assert out.returncode == 0
    assert "msgs" in out.stdout


def test_every_command_has_help():
    """`pose-ros CMD --help` for every command, as subprocesses side by side (each imports
    only its command's module)."""
    from pose_ros.cli import COMMANDS

    runs = {name: subprocess.Popen([sys.executable, "-m", "pose_ros.cli", name, "--help"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for name, _, _ in COMMANDS}
    for name, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, stderr)
        assert "usage: pose-ros " + name in stdout


def test_msgs_prints_the_definitions():
    out = pose_ros_cli("msgs")
    assert out.returncode == 0
    for name in ("Keypoint2D", "Keypoint3D", "Skeleton", "SkeletonArray"):
        assert f"pose_ros/msg/{name}" in out.stdout
    assert "uint8 DEPTH_MONOCULAR=2" in out.stdout


# What only other commands need: on a robot `pose-ros models` must work without any of them.
OTHER_COMMANDS_DEPENDENCIES = ("torch", "rosbags", "mcap", "tqdm", "cv2", "scipy", "av",
                               "ruamel", "onnxruntime", "pycocotools", "tflite")


def pose_ros_without(modules: tuple[str, ...], *args: str) -> subprocess.CompletedProcess:
    """`pose-ros ARGS` in a Python where `modules` cannot be imported (as if not installed)."""
    block = "; ".join(f"sys.modules[{m!r}] = None" for m in modules)
    return subprocess.run(
        [sys.executable, "-c", f"import sys; {block}; from pose_ros.cli import console_main; "
         "console_main()", *args], capture_output=True, text=True, timeout=120)


def test_each_command_imports_only_its_own_dependencies():
    from pose_ros.models import store

    for args in (("--help",), ("models", "--help"), ("msgs",)):
        out = pose_ros_without(OTHER_COMMANDS_DEPENDENCIES, *args)
        assert out.returncode == 0, (args, out.stderr)
    out = pose_ros_without(OTHER_COMMANDS_DEPENDENCIES, "models", "path")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(store.cache_dir())


def test_a_missing_dependency_is_one_line_naming_it():
    out = pose_ros_without(("mcap",), "run", "--demo", "--out", "never_written")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == (
        "pose-ros run: needs the Python module 'mcap', which is not installed here: pip install "
        "it (`pip install .` from a pose_ros checkout installs every dependency)")
