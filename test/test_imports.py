"""Every library module imports without ROS, and none of them imports rclpy."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import pose_ros

ROS_ONLY = {"pose_ros.ros.node"}  # the one module allowed to import rclpy


def library_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(pose_ros.__path__, "pose_ros.")]
    return sorted(n for n in names if n not in ROS_ONLY)


def test_library_imports_without_rclpy():
    for name in library_modules():
        importlib.import_module(name)
    assert "rclpy" not in sys.modules, "a library module imported rclpy"


def test_only_the_node_mentions_rclpy():
    offenders = []
    for name in library_modules():
        spec = importlib.util.find_spec(name)
        if spec and spec.origin and spec.origin.endswith(".py"):
            source = open(spec.origin, encoding="utf-8").read()
            if "import rclpy" in source or "from rclpy" in source:
                offenders.append(name)
    assert offenders == []
