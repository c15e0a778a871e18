"""The `pose-ros` command: parse arguments and hand them to the library. No logic lives here."""

from __future__ import annotations

import argparse
import sys

from pose_ros import __version__, bench, runner
from pose_ros.errors import PoseRosError
from pose_ros.eval import command as eval_command
from pose_ros.eval import lifter_eval
from pose_ros.models import export, store
from pose_ros.train import bvh_table, train_lifter


def _msgs(args: argparse.Namespace) -> int:
    from pose_ros.msgdefs import message_definitions

    for name, text in message_definitions().items():
        print(f"# ===== pose_ros/msg/{name}\n{text}")
    return 0


def _msgs_arguments(parser: argparse.ArgumentParser) -> None:
    pass


# (command, help, add_arguments, run)
COMMANDS = (
    ("run", "estimate poses in a video, image folder, webcam or rosbag2 recording",
     runner.add_arguments, runner.run),
    ("models", "fetch, list or locate the BlazePose model files", store.add_arguments, store.run),
    ("train-lifter", "train the 3D lifter on BVH motion capture", train_lifter.add_arguments,
     train_lifter.run),
    ("eval-lifter", "MPJPE / P-MPJPE of the 3D lifter on BVH takes", lifter_eval.add_arguments,
     lifter_eval.run),
    ("bvh-table", "how BVH takes are read: units, up axis, stature, limb lengths per take",
     bvh_table.add_arguments, bvh_table.run),
    ("eval", "accuracy on COCO-format 2D ground truth (OKS AP, PCK) or 3D (MPJPE)",
     eval_command.add_arguments, eval_command.run),
    ("bench", "per-stage latency and throughput on a video or image folder",
     bench.add_arguments, bench.run),
    ("export", "write the detector, landmark model and lifter as ONNX files with a manifest",
     export.add_arguments, export.run),
    ("msgs", "print the pose_ros message definitions", _msgs_arguments, _msgs),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pose-ros", description="Tracked 2D and 3D human skeletons from camera images.")
    parser.add_argument("--version", action="version", version=f"pose-ros {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_arguments, run in COMMANDS:
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except PoseRosError as exc:
        print(f"pose-ros: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
