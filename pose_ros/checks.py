"""Early checks of command-line values and output paths.

Everything here runs before a model loads or a file is written, and raises PoseRosError (or, as
an argparse `type=`, ArgumentTypeError) with the cause and the fix, so a bad value costs the user
one line and no waiting. The argparse types reject what would otherwise fail much later (a frame
rate of 0 divides by zero when stamps are made; a negative one overflows the video's time base).
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from pose_ros.errors import PoseRosError


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a finite number > 0")
    return value


def frame_rate(text: str) -> float:
    """argparse type: frames per second, 0 < fps <= 1000."""
    value = positive_float(text)
    if value > 1000:
        raise argparse.ArgumentTypeError(f"{text} frames per second is more than 1000")
    return value


def count(minimum: int):
    """argparse type: an integer >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} must be >= {minimum}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable_from(path: Path, flag: str, named: Path) -> None:
    """`path` or, when missing, its nearest existing parent is a folder we may write in."""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise PoseRosError(f"{flag} {named}: {existing} is a file, so nothing can be created "
                           f"under it; choose another {flag}")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PoseRosError(f"{flag} {named}: no permission to write in {existing} (or it is on a "
                           f"read-only file system); choose a folder you can write to")


def check_output_folder(folder: Path, flag: str = "--out") -> None:
    """The output folder exists as a folder, or can be made; and it can be written to."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise PoseRosError(f"{flag} {folder} is an existing file, not a folder: give a folder "
                           f"(it is created if missing), e.g. {flag} {folder.name}_poses")
    _check_writable_from(folder, flag, folder)


def check_output_file(path: Path, flag: str) -> None:
    """An output file can be written at `path` (its folder is made if missing)."""
    path = Path(path)
    if path.is_dir():
        raise PoseRosError(f"{flag} {path} is a folder: give a file name, e.g. "
                           f"{flag} {path / 'bench.json'}")
    if path.exists() and not os.access(path, os.W_OK):
        raise PoseRosError(f"{flag} {path}: no permission to overwrite it; choose another file")
    _check_writable_from(path.parent, flag, path)


def input_inside_outputs(source: Path, outputs: dict[str, Path]) -> None:
    """Refuse a run whose input is, or lies inside, an output it would replace (--force)."""
    source = Path(source).resolve()
    for path in outputs.values():
        out = Path(path).resolve()
        if source == out or out in source.parents:
            raise PoseRosError(f"the input {source} is inside the output {path}, which this run "
                               f"would replace: choose another --out folder")
