"""The `pose-ros` command: parse arguments and hand them to the library. No logic lives here.

Nothing a user does gives a traceback: bad values are one argparse line, bad input one
PoseRosError line, Ctrl-C or SIGTERM (also during start-up, while torch and the models load)
one line and the status a shell expects (130, 143), and an unexpected error one line that says
it is a bug and how to see the traceback (POSE_ROS_TRACEBACK=1). A command's module is imported
only when that command runs, after the signal handlers are installed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one `--help` away)."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# (command, module, help): the module has add_arguments(parser) and run(args). A module is
# imported only when its command runs (or asks for --help), so each command needs only its own
# dependencies: `pose-ros models` on a robot needs no torch, rosbags or mcap.
COMMANDS = (
    ("run", "pose_ros.tools.run_command",
     "estimate poses in a video, image folder, webcam or rosbag2 recording"),
    ("recover", "pose_ros.io.recover",
     "finish the outputs of a run that was killed (SIGKILL, power loss)"),
    ("models", "pose_ros.models.store", "fetch, list or locate the BlazePose model files"),
    ("train-lifter", "pose_ros.train.train_lifter", "train the 3D lifter on BVH motion capture"),
    ("eval-lifter", "pose_ros.eval.lifter_eval", "MPJPE / P-MPJPE of the 3D lifter on BVH takes"),
    ("bvh-table", "pose_ros.train.bvh_table",
     "how BVH takes are read: units, up axis, stature, limb lengths per take"),
    ("eval-cues", "pose_ros.eval.cues_eval",
     "recall, latency and false alarms of the cues on the mocap gesture protocol"),
    ("eval", "pose_ros.eval.command",
     "accuracy on COCO-format 2D ground truth (OKS AP, PCK) or 3D (MPJPE)"),
    ("bench", "pose_ros.tools.bench",
     "per-stage latency and throughput on a video or image folder"),
    ("export", "pose_ros.models.export",
     "write the detector, landmark model and lifter as ONNX files with a manifest"),
    ("msgs", "pose_ros.ros.msgdefs", "print the pose_ros message definitions"),
)


def command_of(argv: list[str]) -> str:
    """The command named in `argv` ("" for none): its first word that is no option (the
    top-level options, --help and --version, take no value)."""
    return next((a for a in argv if not a.startswith("-")), "")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command is listed; only `command`'s module is imported for its arguments
    (None: every command's, e.g. for tests and documentation)."""
    from pose_ros import __version__

    parser = OneLineParser(
        prog="pose-ros", description="Tracked 2D and 3D human skeletons from camera images.")
    parser.add_argument("--version", action="version", version=f"pose-ros {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for name, module_name, help_text in COMMANDS:
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if command is None or name == command:
            module = importlib.import_module(module_name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pose_ros.stopping import STOP

    STOP.install()
    started = False
    try:
        from pose_ros.errors import PoseRosError

        argv = sys.argv[1:] if argv is None else argv
        with STOP.deferred():                 # imports load native code (stopping.py says why)
            parser = build_parser(command_of(argv))
        STOP.raise_if_requested()
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
        missing = (exc.name or "").split(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
        if missing and missing != "pose_ros":   # a dependency, not a bug
            command = command_of(argv or [])
            print(f"pose-ros{' ' + command if command else ''}: needs the Python module "
                  f"'{missing}', which is not installed here: pip install it (`pip install .` "
                  f"from a pose_ros checkout installs every dependency)", file=sys.stderr)
            return 1
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
