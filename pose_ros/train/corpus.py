"""Mocap corpora: which takes exist, whose they are, what they show, and the fixed splits.

Subjects: CMU file names start with the subject number, written "02", "002" or "2" by the
different conversions; all are the same person, so subjects are compared as numbers. Other
corpora: the file name up to its first "_" (or the whole stem).

Activities: from the corpus's own description of each take where it has one (CMU's INDEX.txt,
cmu_extra's SELECTION.tsv), reduced to a few words by ACTIVITY_KEYWORDS; "unknown" otherwise.

Splits (fixed once, before any training with them; the test subjects were never evaluated
while developing): VALIDATION_SUBJECTS choose the epoch and the designs; TEST_SUBJECTS are
scored once per shipped model, at the end; every other subject trains. The leave-activity-out
check trains without LEAVE_OUT_ACTIVITIES and tests on them.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from pose_ros.errors import PoseRosError
from pose_ros.train.mocap import UNITS_M, Take, read_take

VALIDATION_SUBJECTS = ("14", "39", "131", "136", "143")
TEST_SUBJECTS = ("6", "8", "13", "61", "133")
LEAVE_OUT_ACTIVITIES = ("sit", "bend", "dance")
# First match wins: a dance that bends back is a dance; a climb that sits is a sit.
ACTIVITY_KEYWORDS = (
    ("dance", ("dance", "salsa", "pirouette", "arabesque")),
    ("sit", ("sit",)),
    ("bend", ("bend", "scoop", "pick up")),
    ("climb", ("climb",)),
    ("jump", ("jump", "hop")),
    ("run", ("run", "jog")),
    ("walk", ("walk", "stride")),
    ("sports", ("punch", "strike", "sword", "basketball", "dribble", "kick", "box")),
    ("gesture", ("wash", "wave", "gesture", "reach")),
)


@dataclass(frozen=True)
class TakeInfo:
    path: Path
    subject: str
    activity: str
    description: str


def subject_of(path: str | Path) -> str:
    """'35_01.bvh' -> '35'; '001_08.bvh' and '01_08.bvh' -> '1'; 'walk.bvh' -> 'walk'."""
    head = Path(path).stem.split("_")[0]
    return str(int(head)) if head.isdigit() else head


def activity_of(description: str) -> str:
    text = description.lower()
    for activity, words in ACTIVITY_KEYWORDS:
        if any(re.search(rf"\b{w}", text) for w in words):
            return activity
    return "other" if text else "unknown"


def descriptions(folder: Path) -> dict[str, str]:
    """take stem -> description, from INDEX.txt (CMU) and SELECTION.tsv (cmu_extra) if present."""
    out: dict[str, str] = {}
    index = folder / "INDEX.txt"
    if index.is_file():
        for line in index.read_text(errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and re.fullmatch(r"\d+_\d+", parts[0].strip()):
                out[parts[0].strip()] = parts[1].strip()
    selection = folder / "SELECTION.tsv"
    if selection.is_file():
        rows = [r.split("\t") for r in selection.read_text(errors="replace").splitlines()]
        if rows and "file" in rows[0] and "description" in rows[0]:
            f, d = rows[0].index("file"), rows[0].index("description")
            for r in rows[1:]:
                if len(r) > max(f, d):
                    out[Path(r[f]).stem] = r[d].split(":", 1)[-1].strip()
    return out


def find_takes(folders: list[str | Path]) -> list[TakeInfo]:
    """Every .bvh of the folders (sorted), with subject and activity; one-line error if none."""
    infos = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise PoseRosError(f"BVH folder {folder} does not exist")
        described = descriptions(folder)
        for p in sorted(folder.glob("*.bvh")):
            text = described.get(p.stem, "")
            infos.append(TakeInfo(p, subject_of(p), activity_of(text), text))
        if not any(i.path.parent == folder for i in infos):
            raise PoseRosError(f"no .bvh files in {folder}")
    return infos


def select(infos: list[TakeInfo], *, subjects: set[str] | None = None,
           exclude_subjects: set[str] = frozenset(), activities: set[str] | None = None,
           exclude_activities: set[str] = frozenset()) -> list[TakeInfo]:
    """Takes of the given subjects / activities, minus the excluded ones."""
    norm = {str(int(s)) if s.isdigit() else s for s in subjects} if subjects is not None else None
    excl = {str(int(s)) if s.isdigit() else s for s in exclude_subjects}
    return [i for i in infos
            if (norm is None or i.subject in norm) and i.subject not in excl
            and (activities is None or i.activity in activities)
            and i.activity not in exclude_activities]


def parse_units(spec: str | None) -> list[tuple[str, str | float]]:
    """A --units spec -> [(glob, unit)]: '' / None (infer: []), a unit name, a number (metres
    per file unit), or comma-separated 'GLOB=UNIT' entries (first matching glob wins)."""
    out = []
    for entry in (spec or "").split(","):
        if entry.strip():
            glob, _, unit = entry.rpartition("=")
            out.append((glob.strip() or "*", _parse_unit(unit.strip())))
    return out


def units_for(path: Path, spec: str | None) -> str | float | None:
    """The unit to read `path` in, from a --units spec (parse_units); None: infer it."""
    for glob, unit in parse_units(spec):
        if fnmatch.fnmatch(path.name, glob):
            return unit
    return None


def _parse_unit(unit: str) -> str | float:
    if unit in UNITS_M:
        return unit
    try:
        value = float(unit)
    except ValueError:
        raise PoseRosError(f"--units {unit!r}: give one of {', '.join(UNITS_M)}, a number "
                           "(metres per file unit) or GLOB=UNIT entries") from None
    if not value > 0:
        raise PoseRosError(f"--units {unit!r}: metres per unit must be positive")
    return value


def load(infos: list[TakeInfo], units: str | None = None, progress: bool = True,
         strict: bool = False) -> tuple[list[tuple[TakeInfo, Take]], list[str]]:
    """Read the takes; a take that cannot be read or is implausible is skipped with its one-line
    reason printed (and returned), or raised when `strict`. Raises if none is left."""
    parse_units(units)  # a bad spec is one error, not one per take
    progress = progress and sys.stderr.isatty()
    loaded, skipped = [], []
    for i, info in enumerate(infos):
        if progress:
            print(f"\rreading BVH {i + 1}/{len(infos)}", end="", file=sys.stderr, flush=True)
        try:
            loaded.append((info, read_take(info.path, units_for(info.path, units))))
        except PoseRosError as exc:
            if strict:
                raise
            skipped.append(str(exc))
            print(("\n" if progress else "") + f"skipped: {exc}", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    if not loaded:
        raise PoseRosError(f"none of the {len(infos)} BVH takes could be used" +
                           (f" (first reason: {skipped[0]})" if skipped else ""))
    return loaded, skipped
