"""`pose-ros eval` end to end: a tiny COCO-format set written from a real photograph, whose
keypoints are MediaPipe 0.10.14's own output on it (test/data/blazepose_golden.json)."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra)")

from pose_ros.errors import PoseRosError  # noqa: E402
from pose_ros.eval import command  # noqa: E402
from pose_ros.eval.datasets import PERSON_CATEGORY  # noqa: E402
from pose_ros.models import store  # noqa: E402
from pose_ros.skeleton import BLAZEPOSE33_TO_COCO17  # noqa: E402

GOLDEN = Path(__file__).parent / "data" / "blazepose_golden.json"


def pose_ros(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pose_ros.cli", *argv], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory) -> Path:
    """astronaut.png with one person (MediaPipe's keypoints that are visible and inside the
    image, labelled), and an empty grey image where any prediction is a false positive."""
    try:
        store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available (PyPI unreachable?): {exc}")
    root = tmp_path_factory.mktemp("coco")
    photo = skimage_data.astronaut()
    cv2.imwrite(str(root / "astronaut.png"), photo[..., ::-1])
    cv2.imwrite(str(root / "empty.png"), np.full((240, 320, 3), 128, np.uint8))
    golden = json.loads(GOLDEN.read_text())["solution"]["astronaut"]
    kp33 = np.array(golden["keypoints_px"])
    h, w = photo.shape[:2]
    inside = (kp33[:, 0] >= 0) & (kp33[:, 0] < w) & (kp33[:, 1] >= 0) & (kp33[:, 1] < h)
    lo, hi = kp33[inside, :2].min(0), kp33[inside, :2].max(0)
    kp = kp33[BLAZEPOSE33_TO_COCO17]
    labelled = inside[BLAZEPOSE33_TO_COCO17] & (kp[:, 2] >= 0.5)
    kp = np.column_stack([kp[:, :2] * labelled[:, None], 2.0 * labelled])
    box = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    gt = {"images": [{"id": 1, "file_name": "astronaut.png", "width": w, "height": h},
                     {"id": 2, "file_name": "empty.png", "width": 320, "height": 240}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
                           "keypoints": kp.reshape(-1).tolist(),
                           "num_keypoints": int(labelled.sum()), "bbox": box,
                           "area": 0.53 * box[2] * box[3]}],
          "categories": [PERSON_CATEGORY]}
    (root / "gt.json").write_text(json.dumps(gt))
    return root / "gt.json"


@pytest.mark.slow  # a subprocess that loads the models and runs them
def test_eval_reports_ap_for_both_protocols(coco_set, tmp_path):
    out, preds = tmp_path / "eval.json", tmp_path / "preds.json"
    done = pose_ros("eval", "--coco", str(coco_set), "--device", "cpu", "--quiet",
                    "--json", str(out), "--predictions", str(preds))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    scores = report["2d"]["datasets"]["gt"]
    assert scores["people"] == 1 and scores["keypoint_set"] == "coco17"
    for protocol in ("end_to_end", "gt_boxes"):
        assert 0.0 <= scores[protocol]["AP"] <= 1.0
        assert 0.0 <= scores[protocol]["pck"]["pck"] <= 1.0
    # our pipeline reproduces MediaPipe on this photo to < 1 px, and finds no one in grey
    assert scores["end_to_end"]["AP"] > 0.9
    assert scores["end_to_end"]["pck"]["pck"] == 1.0
    assert scores["end_to_end"]["predictions"] == 1
    # crop by the box: the detector inside the box frames the half-body person as MediaPipe does
    assert scores["gt_boxes"]["AP"] >= 0.5 and scores["gt_boxes"]["pck"]["pck"] == 1.0
    settings = report["2d"]["settings"]
    assert settings["protocols"] == ["end_to_end", "gt_boxes"]
    assert len(settings["oks_sigmas"]) == 17 and settings["models_sha256"]["detector"]
    written = json.loads(preds.read_text())
    assert written["end_to_end"][0]["image_id"] == 1 and len(written["gt_boxes"]) == 1
    assert "end_to_end" in done.stdout and "gt_boxes" in done.stdout


def test_eval_bad_input_is_one_clear_error(tmp_path):
    (tmp_path / "gt.json").write_text("[1, 2]")
    done = pose_ros("eval", "--coco", str(tmp_path / "gt.json"))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "neither COCO" in done.stderr
    args = argparse.ArgumentParser()
    command.add_arguments(args)
    with pytest.raises(PoseRosError, match="nothing to evaluate"):
        command.execute(args.parse_args([]))
