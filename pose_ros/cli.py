"""The `pose-ros` command: parse arguments and hand them to the library. No logic lives here.

Nothing a user does gives a traceback: bad values are one argparse line, bad input one
PoseRosError line, Ctrl-C or SIGTERM (also during start-up, while torch and the models load)
one line and the status a shell expects (130, 143), and an unexpected error one line that says
it is a bug and how to see the traceback (POSE_ROS_TRACEBACK=1). The heavy modules are imported
only after the signal handlers are installed.
"""

from __future__ import annotations

import argparse
import os
import sys


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one `--help` away)."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _msgs(args: argparse.Namespace) -> int:
    from pose_ros.msgdefs import message_definitions

    for name, text in message_definitions().items():
        print(f"# ===== pose_ros/msg/{name}\n{text}")
    return 0


def _msgs_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def commands() -> tuple:
    """(command, help, add_arguments, run) for every command."""
    from pose_ros import bench, run_command
    from pose_ros.eval import command as eval_command
    from pose_ros.eval import cues_eval, lifter_eval
    from pose_ros.io import recover
    from pose_ros.models import export, store
    from pose_ros.train import bvh_table, train_lifter

    return (
        ("run", "estimate poses in a video, image folder, webcam or rosbag2 recording",
         run_command.add_arguments, run_command.run),
        ("recover", "finish the outputs of a run that was killed (SIGKILL, power loss)",
         recover.add_arguments, recover.run),
        ("models", "fetch, list or locate the BlazePose model files", store.add_arguments,
         store.run),
        ("train-lifter", "train the 3D lifter on BVH motion capture", train_lifter.add_arguments,
         train_lifter.run),
        ("eval-lifter", "MPJPE / P-MPJPE of the 3D lifter on BVH takes",
         lifter_eval.add_arguments, lifter_eval.run),
        ("bvh-table", "how BVH takes are read: units, up axis, stature, limb lengths per take",
         bvh_table.add_arguments, bvh_table.run),
        ("eval-cues", "recall, latency and false alarms of the cues on the mocap gesture "
         "protocol", cues_eval.add_arguments, cues_eval.run),
        ("eval", "accuracy on COCO-format 2D ground truth (OKS AP, PCK) or 3D (MPJPE)",
         eval_command.add_arguments, eval_command.run),
        ("bench", "per-stage latency and throughput on a video or image folder",
         bench.add_arguments, bench.run),
        ("export", "write the detector, landmark model and lifter as ONNX files with a manifest",
         export.add_arguments, export.run),
        ("msgs", "print the pose_ros message definitions", _msgs_arguments, _msgs),
    )


def build_parser() -> argparse.ArgumentParser:
    from pose_ros import __version__

    parser = OneLineParser(
        prog="pose-ros", description="Tracked 2D and 3D human skeletons from camera images.")
    parser.add_argument("--version", action="version", version=f"pose-ros {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name, help_text, add_arguments, run in commands():
        command = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command)
        command.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pose_ros.stopping import STOP

    STOP.install()
    started = False
    try:
        from pose_ros.errors import PoseRosError

        parser = build_parser()
        args = parser.parse_args(argv)
        if not hasattr(args, "func"):
            parser.print_help()
            return 2
        started = True
        try:
            return args.func(args)
        except PoseRosError as exc:
            print(f"pose-ros: {exc}", file=sys.stderr)
            return 1
    except KeyboardInterrupt as exc:
        when = "" if started else " during start-up; no output was written"
        print(f"pose-ros: stopped by {getattr(exc, 'signal_name', 'SIGINT')}{when}",
              file=sys.stderr)
        return getattr(exc, "exit_status", 130)
    except Exception as exc:
        if os.environ.get("POSE_ROS_TRACEBACK"):
            raise
        print(f"pose-ros: internal error: {type(exc).__name__}: {exc}. This is a bug; run again "
              f"with POSE_ROS_TRACEBACK=1 to see where, and report it", file=sys.stderr)
        return 70


def console_main() -> None:
    """The `pose-ros` executable: main(), then exit with its status. A SIGINT or SIGTERM that
    arrives after the work is done (while Python shuts down, when its own handlers are gone)
    is ignored, so the status stays the run's instead of a kill by the signal."""
    import signal

    status = main()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    sys.exit(status)


if __name__ == "__main__":
    console_main()
