"""Hands (models/hands.py) against MediaPipe 0.10.14's own Holistic hands on real video frames
(test/data/hands_golden.json, made by tools/make_hands_golden.py), and the two hand models
against LiteRT. The frames are in ../shared/data/video: those tests skip when it is absent."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pose_ros.models import store
from pose_ros.models.hands import (
    HandLandmarker,
    keep_tracking,
    rois_from_alignment,
    rois_from_pose,
)
from pose_ros.models.tflite_graph import TFLiteGraph

GOLDEN = json.loads((Path(__file__).parent / "data" / "hands_golden.json").read_text())
VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
SIDES = {"left": [15, 17, 19], "right": [16, 18, 20]}


@pytest.fixture(scope="module")
def hands() -> HandLandmarker:
    try:
        return HandLandmarker()
    except store.ModelStoreError as exc:
        pytest.skip(f"hand models not available (PyPI unreachable?): {exc}")


def frame(entry: dict) -> np.ndarray:
    path = VIDEOS / entry["video"]
    if not path.is_file():
        pytest.skip(f"{path} absent (../shared/data is not part of the repository)")
    image = _read(path, entry["frame"])
    assert int(image.astype(np.int64).sum()) == entry["checksum"], "frame changed"
    return image


@functools.cache
def _read(path: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    assert ok
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def roi(entry: dict) -> np.ndarray:
    return np.array([[*entry["center_px"], entry["size_px"][0], entry["rotation_rad"]]],
                    np.float32)


def test_rois_from_pose_geometry():
    """An upright hand: centre on the middle knuckle, shifted up 10 % of 2 x knuckle-wrist."""
    wrist, pinky, index = [100.0, 200.0], [90.0, 170.0], [105.0, 170.0]
    out = rois_from_pose(np.array([[wrist, pinky, index]]))[0]
    middle_x = (2 * 105 + 90) / 3
    side = 2 * np.hypot(middle_x - 100, 30)
    rotation = np.pi / 2 - np.arctan2(30, middle_x - 100)
    np.testing.assert_allclose(out[2:], [side * 2.7, rotation], rtol=1e-5)
    np.testing.assert_allclose(out[:2], [middle_x + 0.1 * side * np.sin(rotation),
                                         170 - 0.1 * side * np.cos(rotation)], rtol=1e-5)
    # the re-crop's two points: centre, then a scale point "below" it at target angle -90
    aligned = rois_from_alignment(np.array([[50.0, 50.0]]), np.array([[50.0, 70.0]]))[0]
    np.testing.assert_allclose(aligned[2:], [40.0, 0.0], atol=1e-5)
    np.testing.assert_allclose(aligned[:2], [50.0, 46.0], atol=1e-5)


def test_keep_tracking_rules():
    recrop = np.array([[100.0, 100.0, 50.0, 0.0]] * 4)
    prev = recrop.copy()
    prev[1, 0] += 11.0                 # moved more than 20 % of the side
    prev[2, 3] = np.radians(41.0)      # turned more than 40 degrees
    keypoints = np.zeros((4, 21, 2)) + 100.0
    keypoints[3, 5] = [123.0, 100.0]   # outside the re-crop ROI shrunk by 10 % (half side 22.5)
    assert keep_tracking(prev, keypoints, recrop).tolist() == [True, False, False, False]


@pytest.mark.parametrize("name, size", [("hand_recrop", 256), ("hand_landmark_full", 224)])
def test_hand_models_match_litert(name, size):
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert")
    try:
        path = store.model_path(name, allow_download=True)
    except store.ModelStoreError as exc:
        pytest.skip(str(exc))
    x = np.random.default_rng(5).uniform(0, 1, (1, size, size, 3)).astype(np.float32)
    interpreter = litert.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    ref = {d["name"]: interpreter.get_tensor(d["index"])
           for d in interpreter.get_output_details()}
    graph = TFLiteGraph(path).eval()
    with torch.no_grad():
        ours = dict(zip(graph.output_names, (o.numpy() for o in graph(torch.from_numpy(x)))))
    assert list(ours) == list(ref)
    for key, value in ref.items():   # pixels at model scale, probabilities, metres
        np.testing.assert_allclose(ours[key], value, atol=2e-3, rtol=0, err_msg=key)


CASES = [(i, side) for i, f in enumerate(GOLDEN["frames"]) for side in SIDES
         if f["subgraph"].get(side, {}).get("roi_from_pose")]


@pytest.mark.parametrize("index, side", CASES)
def test_stages_match_mediapipe_subgraph(hands, index, side):
    """Fed MediaPipe's own pose points, each stage gives MediaPipe's ROIs and keypoints."""
    entry = GOLDEN["frames"][index]
    image = frame(entry)
    expected = entry["subgraph"][side]
    pose = np.array(entry["holistic"]["pose_px"])[SIDES[side]][None]
    np.testing.assert_allclose(rois_from_pose(pose), roi(expected["roi_from_pose"]), atol=0.01)
    recrop = hands.recrop(image, roi(expected["roi_from_pose"]))
    np.testing.assert_allclose(recrop, roi(expected["roi_from_recrop"]), atol=0.05)
    found = hands.landmarks(image, roi(expected["roi_from_recrop"]))
    assert (found.presence[0] >= 0.5) == (expected["hand_px"] is not None)
    if expected["hand_px"] is None:
        return
    err = np.linalg.norm(found.keypoints_px[0, :, :2] - np.array(expected["hand_px"]), axis=1)
    assert np.median(err) < 0.02 and err.max() < 0.05, err
    # the second frame: tracking from these landmarks, as MediaPipe decides it
    chosen = np.where(keep_tracking(found.next_rois, found.keypoints_px, recrop)[:, None],
                      found.next_rois, recrop)
    np.testing.assert_allclose(chosen, roi(expected["tracking_roi_next"]), atol=0.05)


@pytest.mark.slow
def test_end_to_end_matches_holistic(hands):
    """Our BlazePose + hands on each frame against the Holistic solution's hands."""
    from pose_ros.models.blazepose import BlazePose

    pose_model = BlazePose()
    errors, agreed, total = [], 0, 0
    for entry in GOLDEN["frames"]:
        image = frame(entry)
        holistic_pose = np.array(entry["holistic"]["pose_px"])[:, :2]
        person = min(pose_model(image), key=lambda p: np.median(
            np.linalg.norm(p.keypoints_px[:, :2] - holistic_pose, axis=1)))  # Holistic's one
        for side, idx in SIDES.items():
            points = person.keypoints_px[idx][None]
            found = hands.landmarks(image, hands.recrop(image, rois_from_pose(points)))
            expected = entry["holistic"][f"{side}_hand_px"]
            total += 1
            agreed += (found.presence[0] >= 0.5) == (expected is not None)
            if expected is not None:
                errors.append(np.linalg.norm(found.keypoints_px[0, :, :2] - expected, axis=1))
    assert agreed == total
    assert np.median(np.concatenate(errors)) < 0.5
