"""Our message definitions (msg/*.msg): their text (`pose-ros msgs`), and registered with
rosbags for bags and tests without ROS (rosbags is imported only for that)."""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rosbags.typesys import Stores
    from rosbags.typesys.store import Typestore

PACKAGE = "pose_ros"
MESSAGE_NAMES = ("Keypoint2D", "Keypoint3D", "Skeleton", "SkeletonArray", "Cue", "Hand",
                 "PersonCues", "CuesArray")


def msg_dir() -> Path:
    """The folder holding our .msg files.

    Looked up in the source tree (checkout or editable install), then in <prefix>/share/pose_ros/msg
    where both `pip install` (data_files) and a ROS 2 build (rosidl) put them.
    """
    package = Path(__file__).resolve().parents[1]     # the pose_ros folder
    candidates = [package.parent / "msg", Path(sys.prefix) / "share" / PACKAGE / "msg"]
    # ROS install: <prefix>/lib/pythonX.Y/site-packages/pose_ros/ros/msgdefs.py
    if len(package.parents) > 3:
        candidates.append(package.parents[3] / "share" / PACKAGE / "msg")
    for path in candidates:
        if all((path / f"{name}.msg").is_file() for name in MESSAGE_NAMES):
            return path
    raise FileNotFoundError(
        "pose_ros message definitions not found (looked in "
        + ", ".join(str(p) for p in candidates)
        + "): reinstall the package with `pip install .` or build it with colcon")


def message_definitions() -> dict[str, str]:
    """Message name -> .msg text, in dependency order."""
    folder = msg_dir()
    return {name: (folder / f"{name}.msg").read_text() for name in MESSAGE_NAMES}


@cache
def typestore(store: Stores | None = None) -> Typestore:
    """A rosbags typestore with the standard ROS 2 types of `store` (default: Jazzy's) plus
    pose_ros/msg/*."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_JAZZY if store is None else store)
    types = {}
    for name, text in message_definitions().items():
        types.update(get_types_from_msg(text, f"{PACKAGE}/msg/{name}"))
    ts.register(types)
    return ts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`pose-ros msgs` takes no arguments."""


def run(args: argparse.Namespace) -> int:
    """`pose-ros msgs`: every definition, each under a `# ===== pose_ros/msg/<Name>` line."""
    for name, text in message_definitions().items():
        print(f"# ===== {PACKAGE}/msg/{name}\n{text}")
    return 0
