"""PersonSegmenter (selfie segmentation on our TFLite executor) against MediaPipe 0.10.14's own
masks (test/data/segmentation_golden.npz, made by tools/make_segmentation_golden.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pose_ros.models import store
from pose_ros.models.segmentation import PersonSegmenter

GOLDEN = np.load(Path(__file__).parent / "data" / "segmentation_golden.npz")
VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / \
    "single_person_demo.mp4"


def crop(name: str) -> np.ndarray:
    """(256, 256, 3) uint8 RGB, as tools/make_segmentation_golden.py builds it."""
    if name == "astronaut":
        skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra)")
        image = skimage_data.astronaut()
    else:
        cap = cv2.VideoCapture(str(VIDEO))
        cap.set(cv2.CAP_PROP_POS_FRAMES, 20)
        ok, bgr = cap.read()
        cap.release()
        if not ok:
            pytest.skip(f"{VIDEO} not available")
        image = cv2.cvtColor(np.ascontiguousarray(bgr[500:1500, 0:1000]), cv2.COLOR_BGR2RGB)
    image = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
    assert int(image.astype(np.int64).sum()) == int(GOLDEN[f"{name}_checksum"]), "image changed"
    return image


def golden_mask(name: str) -> np.ndarray:
    return GOLDEN[f"{name}_mask"].astype(np.float32) / 65535


@pytest.fixture(scope="module")
def segmenter() -> PersonSegmenter:
    try:
        store.fetch_models(["selfie_segmentation"])
    except store.ModelStoreError as exc:
        pytest.skip(f"selfie segmentation model not available (PyPI unreachable?): {exc}")
    return PersonSegmenter(backend="torch")  # our executor; onnxruntime runs its export


def test_onnxruntime_backend_matches_mediapipe(segmenter):
    pytest.importorskip("onnxruntime", reason="onnxruntime (optional)")
    probs = PersonSegmenter(backend="onnxruntime").masks(crop("astronaut")[None])
    assert np.abs(probs[0] - golden_mask("astronaut")).max() < 1e-4


@pytest.mark.parametrize("name", ["astronaut", "video"])
def test_matches_mediapipe_solution(segmenter, name):
    """mp.solutions.selfie_segmentation on 256x256 images: measured max 2.8e-5 (astronaut) and
    1.7e-5 (video frame, person bent over with the face hidden)."""
    image, ref = crop(name), golden_mask(name)
    probs = segmenter.masks(image[None])
    assert probs.shape == (1, 256, 256) and probs.dtype == np.float32
    assert np.abs(probs[0] - ref).max() < 1e-4
    assert (probs > 0.5).mean() > 0.2  # a person fills a good part of both crops


def test_batch(segmenter):
    image = crop("astronaut")
    flipped = np.ascontiguousarray(image[:, ::-1])
    probs = segmenter.masks(np.stack([image, flipped]))
    assert probs.shape == (2, 256, 256)
    assert np.abs(probs[0] - golden_mask("astronaut")).max() < 1e-4
    single = segmenter.masks(flipped[None])[0]
    assert np.abs(probs[1] - single).max() < 1e-4  # other kernels for batch 2: 1.4e-5
    assert segmenter.masks(np.zeros((0, 256, 256, 3), np.uint8)).shape == (0, 256, 256)


def test_bad_crops_are_refused(segmenter):
    with pytest.raises(ValueError, match="uint8"):
        segmenter.masks(np.zeros((1, 256, 256, 3), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 256, 256, 3\)"):
        segmenter.masks(np.zeros((1, 128, 128, 3), np.uint8))
