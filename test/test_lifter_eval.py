"""`pose-ros eval-lifter`, `pose-ros train-lifter` and `pose-ros bvh-table` end to end on BVH
folders the tests write (names that are not CMU's), and the protocol's bookkeeping."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import synthetic_bvh as synth

from pose_ros.cli import main
from pose_ros.eval import lifter_eval
from pose_ros.models.lifter import Lifter, TemporalLifter


def pose_ros(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pose_ros.cli", *argv], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("mocap")
    for name, seed, units in (("walker_a.bvh", 0, 0.01), ("walker_b.bvh", 1, 0.0254),
                              ("90_01.bvh", 2, 1.0), ("91_01.bvh", 3, 0.001)):
        root.joinpath(name).write_text(synth.write(*synth.motion(60, seed), units_m=units))
    (root / "notes.txt").write_text("not a take")
    return root


def test_every_take_of_any_folder_is_scored(folder, tmp_path):
    out = tmp_path / "out.json"
    done = pose_ros("eval-lifter", "--bvh", str(folder), "--json", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["takes"] == 4 and report["subjects"] == "all"
    assert set(report["clean"]["per_take"]) == {"walker_a.bvh", "walker_b.bvh", "90_01.bvh",
                                                "91_01.bvh"}
    assert {b["units"] for b in report["bodies"].values()} == {"cm", "inch", "m", "mm"}
    assert report["frames"] == 4 * 60
    assert set(report["clean"]["per_joint_mm"]) >= {"pelvis", "left_wrist"}


@pytest.mark.parametrize("argv, message", [
    (["--subjects", "77"], "no takes of subjects ['77']"),
    (["--weights", "missing.pt"], "cannot load lifter weights"),
    (["--units", "furlong"], "--units 'furlong'"),
    (["--units", "cm"], "implausible body in cm"),          # the metre, inch and mm takes
])
def test_errors_are_one_line(folder, argv, message, capsys):
    status = main(["eval-lifter", "--bvh", str(folder), *argv])
    err = capsys.readouterr().err
    assert message in err, err
    if message.startswith("implausible"):  # skipped with a line each, the rest scored
        assert status == 0 and len(err.strip().splitlines()) == 3
    else:
        assert status == 1 and len(err.strip().splitlines()) == 1, err


def test_an_empty_folder_is_one_line(tmp_path, capsys):
    assert main(["eval-lifter", "--bvh", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no .bvh files in" in err and len(err.strip().splitlines()) == 1


def test_windows_cover_every_frame_once():
    takes = [np.zeros((70, 17, 3)), np.zeros((5, 17, 3))]
    clips, owner, valid = lifter_eval.windows(takes, 27)
    assert clips.shape == (4, 26 + lifter_eval.WINDOW, 17, 3)
    assert valid.sum() == 75 and list(owner) == [0, 0, 0, 1]


def test_scores_are_split_by_take_activity_and_joint():
    lifter = Lifter(TemporalLifter(9, channels=16))
    takes = [synth.expected(*synth.motion(40, s))[:, :17] for s in (0, 1)]
    res = lifter_eval.evaluate(lifter, takes, ["a", "b"], ["walk", "sit"], inputs=("clean",))
    clean = res["clean"]
    assert set(clean["per_take"]) == {"a", "b"} and set(clean["per_activity"]) == {"walk", "sit"}
    frames = [clean["per_take"][k]["poses"] for k in ("a", "b")]
    assert frames == [40, 40] and clean["poses"] == 80
    mean = (clean["per_activity"]["walk"]["mpjpe_mm"] + clean["per_activity"]["sit"]["mpjpe_mm"])
    assert clean["mpjpe_mm"] == pytest.approx(mean / 2, abs=0.2)


@pytest.mark.slow
def test_training_writes_weights_and_metadata_with_the_splits(folder, tmp_path):
    out = tmp_path / "tiny.pt"
    done = pose_ros("train-lifter", "--bvh", str(folder), "--out", str(out), "--epochs", "2",
                    "--steps-per-epoch", "2", "--batch", "4", "--channels", "16",
                    "--receptive-field", "9", "--val-subjects", "91", "--test-subjects", "90",
                    "--world")
    assert done.returncode == 0, done.stderr
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["kind"] == "fused" and meta["test_subjects"] == ["90"]
    assert meta["validation_takes"] == ["91_01.bvh"]
    assert sorted(meta["training_takes"]) == ["walker_a.bvh", "walker_b.bvh"]  # no test take
    assert len(meta["history"]) == 2 and "clean_mm" in meta["best"]
    lifter = Lifter.load(out)
    assert lifter.uses_world and lifter.receptive_field == 9
    again = pose_ros("train-lifter", "--bvh", str(folder), "--out", str(out))
    assert again.returncode == 1 and "exists" in again.stderr


def test_bvh_table_lists_units_and_bodies(folder, tmp_path, capsys):
    out = tmp_path / "table.json"
    assert main(["bvh-table", str(folder), "--json", str(out)]) == 0
    rows = {r["file"]: r for r in json.loads(out.read_text())}
    assert rows["walker_b.bvh"]["units"] == "inch"
    assert rows["91_01.bvh"]["thigh_m"] == pytest.approx(0.43, abs=0.005)
    assert "4 takes read (cm/inch/m/mm), 0 refused" in capsys.readouterr().out


def test_size_ratio_measures_the_predicted_body_size():
    target = synth.expected(*synth.motion(10))[:, :17]
    assert lifter_eval.size_ratio(0.88 * target, target) == pytest.approx(0.88)
