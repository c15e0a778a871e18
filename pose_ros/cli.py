"""The `pose-ros` command: parse arguments, call the library, print. No logic lives here."""

from __future__ import annotations

import argparse
import sys

from pose_ros import __version__


def _cmd_msgs(args: argparse.Namespace) -> int:
    from pose_ros.msgdefs import message_definitions

    for name, text in message_definitions().items():
        print(f"# ===== pose_ros/msg/{name}\n{text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pose-ros", description="Tracked 2D and 3D human skeletons from camera images.")
    parser.add_argument("--version", action="version", version=f"pose-ros {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    msgs = sub.add_parser("msgs", help="print the pose_ros message definitions")
    msgs.set_defaults(func=_cmd_msgs)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
