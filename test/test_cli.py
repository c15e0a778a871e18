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
    from pose_ros.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        out = pose_ros_cli(name, "--help")
        assert out.returncode == 0, (name, out.stderr)
        assert "usage: pose-ros " + name in out.stdout


def test_msgs_prints_the_definitions():
    out = pose_ros_cli("msgs")
    assert out.returncode == 0
    for name in ("Keypoint2D", "Keypoint3D", "Skeleton", "SkeletonArray"):
        assert f"pose_ros/msg/{name}" in out.stdout
    assert "uint8 DEPTH_MONOCULAR=2" in out.stdout
