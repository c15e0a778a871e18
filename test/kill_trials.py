"""Stop a real `pose-ros run` subprocess with a signal and check what it left readable.

Used by test/test_kill.py (a few trials in CI) and tools/kill_test.py (many, seeded). Not a test
module itself (no test_ prefix).

A trial starts `python -m pose_ros.cli run CLIP --out OUT`, waits until pose-ros has installed
its SIGTERM handler (a signal while the interpreter itself starts meets Python's defaults, which
no program can change: under load that took more than 0.4 s here), watches poses.jsonl grow
(every 20 ms), sends the signal, and then reads every output with the same readers a user has:
- poses.jsonl: every line must parse (a kill may never leave half a line);
- annotated.mp4: frames OpenCV decodes;
- poses/: messages rosbags reads (after `pose-ros recover` for SIGKILL, as the README says).
"Older than one second": the frames poses.jsonl held one second before the signal; each output
must hold at least those. After SIGTERM/SIGINT every output must hold exactly the same frames,
the exit status is 128 + signal and stderr is one line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Trial:
    signal_name: str
    delay_s: float   # after its handlers are installed (or after `after_lines` lines were written)
    returncode: int = 0
    stderr: str = ""
    lines_at_signal: int = 0
    lines_1s_before: int = 0
    jsonl_frames: int = 0
    jsonl_bad_lines: int = 0
    video_frames_before_recover: int | None = None
    video_frames: int | None = None
    bag_before_recover: str = ""
    bag_frames: int | None = None
    bag_counts: dict[str, int] = field(default_factory=dict)
    recover_lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def phase(self) -> str:
        return "running" if self.lines_at_signal else "start-up"


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _read_jsonl(path: Path) -> tuple[int, int]:
    good = bad = 0
    if path.exists():
        data = path.read_bytes()
        for line in data.split(b"\n")[:-1]:
            try:
                json.loads(line)
                good += 1
            except ValueError:
                bad += 1
        if data and not data.endswith(b"\n"):
            bad += 1
    return good, bad


def _bag_counts(folder: Path) -> dict[str, int] | str:
    from rosbags.highlevel import AnyReader

    from pose_ros.ros.msgdefs import typestore

    try:
        with AnyReader([folder], default_typestore=typestore()) as reader:
            counts: dict[str, int] = {c.topic: 0 for c in reader.connections}
            for conn, _, raw in reader.messages():
                reader.deserialize(raw, conn.msgtype)
                counts[conn.topic] += 1
            return counts
    except Exception as exc:  # noqa: BLE001 - report what a reader says about the file
        return f"{type(exc).__name__}: {exc}"


def _wait_for_handlers(pid: int, poll, timeout_s: float = 60.0) -> None:
    """Until process `pid` catches SIGTERM (its SigCgt mask in /proc, Linux): pose-ros installs
    its handlers first thing in cli.main, before any command module or model is loaded."""
    status = Path(f"/proc/{pid}/status")
    bit = 1 << (signal.SIGTERM - 1)
    deadline = time.monotonic() + timeout_s
    while poll() is None and time.monotonic() < deadline:
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except OSError:
            return
        if int(fields["SigCgt"], 16) & bit:
            return
        time.sleep(0.005)


def run_trial(clip: Path, out: Path, sig: signal.Signals, delay_s: float,
              after_lines: int = 0, extra_args: tuple[str, ...] = (),
              timeout_s: float = 300.0) -> Trial:
    """One run stopped by `sig` delay_s after start (after `after_lines` JSONL lines if > 0)."""
    from pose_ros.io.video import count_frames

    trial = Trial(sig.name, delay_s)
    jsonl = out / "poses.jsonl"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pose_ros.cli", "run", str(clip), "--out", str(out), "--quiet",
         "--device", "cpu", *extra_args],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    history: list[tuple[float, int]] = []
    _wait_for_handlers(proc.pid, proc.poll)
    start = time.monotonic()
    if after_lines:
        while _lines(jsonl) < after_lines and proc.poll() is None:
            time.sleep(0.02)
        start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < delay_s:
        history.append((time.monotonic(), _lines(jsonl)))
        time.sleep(0.02)
    signalled = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        _, trial.stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, trial.stderr = proc.communicate()
        trial.problems.append(f"did not stop within {timeout_s} s of {sig.name}")
    trial.returncode = proc.returncode
    trial.lines_at_signal = max([n for _, n in history] or [0])
    trial.lines_1s_before = max([n for t, n in history if t <= signalled - 1.0] or [0])

    trial.jsonl_frames, trial.jsonl_bad_lines = _read_jsonl(jsonl)
    video, bag = out / "annotated.mp4", out / "poses"
    if video.exists():
        trial.video_frames_before_recover = count_frames(video)
    if bag.exists():
        before = _bag_counts(bag)
        trial.bag_before_recover = "readable" if isinstance(before, dict) else before
    if sig == signal.SIGKILL and out.exists() and any(out.iterdir()):
        done = subprocess.run([sys.executable, "-m", "pose_ros.cli", "recover", str(out)],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        trial.recover_lines = done.stdout.splitlines()
        if done.returncode != 0 or "Traceback" in done.stderr:
            trial.problems.append(f"pose-ros recover failed: {done.stderr.strip()}")
    trial.video_frames = count_frames(video) if video.exists() else None
    counts = _bag_counts(bag) if bag.exists() else {}
    if isinstance(counts, str):
        trial.problems.append(f"poses/ unreadable after recovery: {counts}")
        counts = {}
    trial.bag_counts = counts
    trial.bag_frames = counts.get("/pose/skeletons") if bag.exists() else None
    _judge(trial, sig)
    return trial


def _judge(trial: Trial, sig: signal.Signals) -> None:
    p = trial.problems
    if trial.jsonl_bad_lines:
        p.append(f"poses.jsonl has {trial.jsonl_bad_lines} incomplete or invalid lines")
    if "Traceback" in trial.stderr:
        p.append("a traceback reached stderr")
    finished = trial.returncode == 0
    if sig == signal.SIGKILL:
        if trial.returncode not in (-9, 0):
            p.append(f"exit status {trial.returncode} after SIGKILL")
        need = trial.lines_1s_before
        for name, got in (("annotated.mp4", trial.video_frames),
                          ("poses/ /pose/skeletons", trial.bag_frames)):
            if need and (got or 0) < need:
                p.append(f"{name} holds {got} frames, fewer than the {need} written more than "
                         f"1 s before the kill")
        return
    if finished:
        return
    if trial.returncode != 128 + sig:
        if trial.returncode == -sig and not trial.jsonl_frames:
            return         # signalled before Python installed the handlers: nothing written
        p.append(f"exit status {trial.returncode}, expected {128 + sig}")
    lines = [line for line in trial.stderr.splitlines() if line.strip()]
    stops = [line for line in lines if "stopped by" in line]
    others = [line for line in lines if "stopped by" not in line
              and not line.startswith("pose-ros run: warning: ")]
    if len(stops) != 1 or f"stopped by {sig.name}" not in stops[0] or lines[-1] != stops[0]:
        p.append(f"stderr has not one last 'stopped by {sig.name}' line: {lines}")
    if others:
        p.append(f"stderr has more than the run's warnings and the stop line: {others}")
    if trial.jsonl_frames:
        same = {trial.jsonl_frames, trial.video_frames, trial.bag_frames}
        if len(same) != 1:
            p.append(f"outputs disagree after {sig.name}: jsonl {trial.jsonl_frames}, video "
                     f"{trial.video_frames}, bag {trial.bag_frames}")
        if trial.bag_before_recover != "readable":
            p.append(f"poses/ not readable after {sig.name}: {trial.bag_before_recover}")
