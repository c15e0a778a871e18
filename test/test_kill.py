"""A real `pose-ros run` stopped by SIGTERM, SIGKILL and Ctrl-C leaves readable outputs.

Two mid-run stops (TERM and KILL, run side by side) and two stops during start-up; the seeded
script with many more is tools/kill_test.py (its figures are in the README).
"""

from __future__ import annotations

import random
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("skimage", reason="scikit-image (test extra) ships the demo photograph")

from kill_trials import run_trial  # noqa: E402

from pose_ros.io.demo import write_demo_video  # noqa: E402


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_demo_video(tmp_path_factory.mktemp("kill") / "clip.mp4", num_frames=150)


def test_sigterm_and_sigkill_mid_run(clip, tmp_path):
    rng = random.Random(11)
    cases = [(signal.SIGTERM, rng.uniform(0.2, 1.5)), (signal.SIGKILL, rng.uniform(1.2, 2.0))]
    with ThreadPoolExecutor(len(cases)) as pool:
        trials = list(pool.map(
            lambda case: run_trial(clip, tmp_path / case[0].name, case[0], case[1],
                                   after_lines=3), cases))
    term, kill = trials
    assert not term.problems and not kill.problems, (term, kill)
    assert term.returncode == 143 and 3 <= term.jsonl_frames < 150, term
    assert "stopped by SIGTERM after" in term.stderr
    assert term.jsonl_frames == term.video_frames == term.bag_frames
    assert kill.returncode == -9 and kill.lines_1s_before >= 3, kill
    assert kill.video_frames >= kill.lines_1s_before and kill.bag_frames >= kill.lines_1s_before
    assert any("messages" in line for line in kill.recover_lines)


@pytest.mark.parametrize("sig, delay_s", [(signal.SIGINT, 0.4), (signal.SIGTERM, 1.5)])
def test_stop_during_start_up_is_one_line(clip, tmp_path, sig, delay_s):
    trial = run_trial(clip, tmp_path / "out", sig, delay_s)
    assert not trial.problems, trial
    if trial.lines_at_signal == 0:                       # it was still starting
        assert trial.returncode == 128 + sig
        last = trial.stderr.strip().splitlines()[-1]
        assert last.endswith(f"stopped by {sig.name} during start-up; no output was written"), \
            trial.stderr
        assert not (tmp_path / "out" / "poses.jsonl").exists()
