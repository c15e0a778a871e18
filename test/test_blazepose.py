"""BlazePose stages against MediaPipe 0.10.14's own output (test/data/blazepose_golden.json,
made by tools/make_blazepose_golden.py), plus the pieces that MediaPipe does not show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pose_ros.errors import PoseRosError
from pose_ros.models import blazepose_detector as det
from pose_ros.models import store
from pose_ros.models.blazepose import BlazePose, PoseLandmarks, refine_from_heatmap
from pose_ros.models.roi import Roi, crop_cv2, crop_torch, rois_from_points, rois_to_array

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image (test extra)")
GOLDEN = json.loads((Path(__file__).parent / "data" / "blazepose_golden.json").read_text())


def images() -> dict[str, np.ndarray]:
    """As tools/make_blazepose_golden.py builds them."""
    astronaut = skimage_data.astronaut()
    return {"astronaut": astronaut,
            "astronaut_wide": np.ascontiguousarray(astronaut[16:400]),
            "astronaut_pair": np.ascontiguousarray(np.concatenate([astronaut] * 2, axis=1))}


@pytest.fixture(scope="module")
def pose() -> BlazePose:
    try:
        store.fetch_models()
    except store.ModelStoreError as exc:
        pytest.skip(f"BlazePose models not available (PyPI unreachable?): {exc}")
    threads = torch.get_num_threads()
    yield BlazePose(backend="torch")  # the torch path; test_backends.py runs onnxruntime
    torch.set_num_threads(threads)  # BlazePose sets the process-wide thread count


def keypoint_errors(ours: np.ndarray, ref: list) -> tuple[np.ndarray, np.ndarray]:
    """Per-keypoint distance in px, and MediaPipe's visible mask (visibility > 0.5)."""
    ref = np.asarray(ref)
    return np.linalg.norm(ours[:, :2] - ref[:, :2], axis=1), ref[:, 2] > 0.5


@pytest.mark.parametrize("name", ["astronaut", "astronaut_wide"])
def test_matches_mediapipe_solution(pose, name):
    """mp.solutions.pose (static image, model_complexity 1): measured 0.002-0.006 px median."""
    image, golden = images()[name], GOLDEN["solution"][name]
    assert int(image.astype(np.int64).sum()) == golden["checksum"], "test image changed"
    assert golden["found"]
    people = pose(image)
    assert len(people) == 1
    err, visible = keypoint_errors(people[0].keypoints_px, golden["keypoints_px"])
    assert visible.sum() >= 12  # face and shoulders at least
    assert np.median(err[visible]) < 0.1 and err[visible].max() < 2.0, err
    vis_ref = np.asarray(golden["keypoints_px"])[:, 2]
    assert np.abs(people[0].keypoints_px[:, 2] - vis_ref).max() < 0.01
    assert np.median(np.abs(people[0].world_m - np.asarray(golden["world_m"]))) < 1e-3


def test_two_people_from_one_batched_call_match_mediapipe(pose, monkeypatch):
    """The photo twice side by side: both people found (threshold 0.3: MediaPipe's own
    detector scores the left copy 0.49), one landmark forward pass for both, each person as
    MediaPipe's subgraphs give it for the same detection."""
    image, golden = images()["astronaut_pair"], GOLDEN["per_person"]["astronaut_pair"]
    monkeypatch.setattr(pose, "detection_threshold", golden["detection_threshold"])
    rois = pose.detect(image)
    assert len(rois) == len(golden["people"]) == 2
    for roi, ref in zip(rois, golden["people"]):  # best first, like MediaPipe
        assert roi.score == pytest.approx(ref["detection_score"], abs=1e-3)
        np.testing.assert_allclose(roi.center_px, ref["roi"]["center_px"], atol=0.05)
        assert roi.size_px == pytest.approx(ref["roi"]["size_px"], rel=1e-4)
        assert roi.rotation_rad == pytest.approx(ref["roi"]["rotation_rad"], abs=1e-4)

    calls = []
    net = pose.landmark_net
    monkeypatch.setattr(pose, "landmark_net", lambda x: calls.append(len(x)) or net(x))
    people = pose.landmarks(image, rois)
    assert calls == [2]
    for person, ref in zip(people, golden["people"]):
        err, visible = keypoint_errors(person.keypoints_px, ref["keypoints_px"])
        assert np.median(err[visible]) < 0.1 and err[visible].max() < 2.0, err
        assert np.median(np.abs(person.world_m - np.asarray(ref["world_m"]))) < 1e-3
        aux = np.asarray(ref["auxiliary_px"])  # MediaPipe's tracking keypoints 33, 34
        expected = rois_from_points(aux[:1], aux[1:])[0]
        np.testing.assert_allclose(person.next_roi.center_px, expected[:2], atol=0.5)
        assert person.next_roi.size_px == pytest.approx(expected[2], rel=2e-3)
        assert person.presence > 0.9
    # batching changes nothing: each person alone gives the same numbers
    for roi, person in zip(rois, people):
        alone = pose.landmarks(image, [roi])[0]
        np.testing.assert_allclose(alone.keypoints_px, person.keypoints_px, atol=1e-2)


def test_tracking_mode_follows_the_person(pose):
    image = images()["astronaut"]
    first = pose(image)[0]
    visible = first.keypoints_px[:, 2] > 0.5
    roi = first.next_roi
    for _ in range(3):  # landmarks -> next ROI -> landmarks, no detector
        person = pose.landmarks(image, [roi])[0]
        assert person.presence > 0.5
        err = np.linalg.norm(person.keypoints_px[:, :2] - first.keypoints_px[:, :2], axis=1)
        assert np.median(err[visible]) < 10.0  # ROI drifts a little on a waist-up portrait
        roi = person.next_roi


def test_float16_within_one_pixel(pose):
    """The fp16 network (what CUDA runs) against fp32, through the same decoding. The CPU
    has no fast fp16 kernels, so BlazePose refuses fp16 there; the module itself runs."""
    from pose_ros.models.blazepose import LANDMARK_INPUT, LANDMARK_OUTPUTS, decode_landmarks
    from pose_ros.models.tflite_graph import TFLiteGraph

    image = images()["astronaut"]
    rois = rois_to_array(pose.detect(image))
    x = pose._crops(pose.prepare(image), rois, LANDMARK_INPUT, "replicate", 0.0, 1.0)
    graph = TFLiteGraph(store.model_path("pose_landmark_full", allow_download=False),
                        outputs=LANDMARK_OUTPUTS)
    try:
        with torch.no_grad():
            full = decode_landmarks(*_without_presence(graph(x)), torch.from_numpy(rois))
            half = decode_landmarks(*_without_presence(graph.half()(x.half())),
                                    torch.from_numpy(rois))
    except RuntimeError as exc:  # an op without a float16 kernel on this device
        pytest.skip(f"float16 not supported by torch on CPU here: {exc}")
    err = np.linalg.norm((half - full)[0, :33, :2].numpy(), axis=1)
    # Confident keypoints move < 0.12 px (measured). A less certain one can jump several
    # pixels (the right elbow, visibility 0.76: 8.9 px) when fp16 noise moves its heatmap
    # refinement window by one cell, as +-1 grey level of input noise does in fp32 too.
    assert err[full[0, :33, 2].numpy() > 0.9].max() < 1.0 and np.median(err) < 1.0, err
    with pytest.raises(PoseRosError, match="fp16 on the CPU"):
        BlazePose(precision="fp16", backend="torch")


def _without_presence(outputs):
    raw, _, heatmap, world = outputs
    return raw, heatmap, world


def test_device_crop_path_matches_opencv(pose, monkeypatch):
    """The grid_sample crops used on GPUs equal the OpenCV ones to one grey level."""
    image = images()["astronaut_pair"]
    rois = rois_to_array(pose.detect(image))
    tensor = torch.from_numpy(image).permute(2, 0, 1)
    for border, size in (("replicate", 256), ("zero", 224)):
        ours = crop_torch(tensor, rois, size, border).numpy()
        diff = np.abs(ours - crop_cv2(image, rois, size, border))
        assert diff.max() <= 1.0 and diff.mean() < 0.02
    ref = pose(images()["astronaut"])[0]
    monkeypatch.setattr(pose, "crop_backend", "torch")
    person = pose(images()["astronaut"])[0]
    err = np.linalg.norm(person.keypoints_px[:, :2] - ref.keypoints_px[:, :2], axis=1)
    assert np.median(err[ref.keypoints_px[:, 2] > 0.5]) < 0.5


def test_outputs_shapes_and_coco(pose):
    person = pose(images()["astronaut_wide"])[0]
    assert isinstance(person, PoseLandmarks)
    assert person.keypoints_px.shape == (33, 3) and person.world_m.shape == (33, 3)
    assert np.all((person.keypoints_px[:, 2] >= 0) & (person.keypoints_px[:, 2] <= 1))
    x0, y0, x1, y1 = person.bbox_px
    assert 0 <= x0 < x1 <= 511 and 0 <= y0 < y1 <= 383
    coco = person.coco17()
    assert coco.shape == (17, 3)
    np.testing.assert_array_equal(coco[0], person.keypoints_px[0])  # nose
    np.testing.assert_array_equal(coco[16], person.keypoints_px[28])  # right ankle


def test_no_person_and_bad_input(pose):
    assert pose.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert pose(np.full((240, 320, 3), 128, np.uint8)) == []
    assert pose.landmarks(np.zeros((240, 320, 3), np.uint8), []) == []
    with pytest.raises(ValueError, match="uint8 RGB"):
        pose.detect(np.zeros((240, 320, 3), np.float32))
    with pytest.raises(ValueError, match="uint8 RGB"):
        pose.detect(np.zeros((240, 320), np.uint8))
    with pytest.raises(ValueError, match="precision"):
        BlazePose(precision="int8")


def _refine_reference(xy, heatmap, kernel=9, min_confidence=0.5):
    """RefineLandmarksFromHeatmapCalculator's loops, transcribed (incl. its bounds check)."""
    h, w, k = heatmap.shape
    out = xy.copy()
    for i in range(k):
        col, row = int(np.float32(xy[i, 0]) * w), int(np.float32(xy[i, 1]) * h)
        if col < 0 or col >= w or row < 0 or col >= h:
            continue
        o = (kernel - 1) // 2
        total = wc = wr = peak = 0.0
        for r in range(max(0, row - o), min(h, row + o + 1)):
            for c in range(max(0, col - o), min(w, col + o + 1)):
                v = 1 / (1 + np.exp(-heatmap[r, c, i]))
                total, wc, wr, peak = total + v, wc + c * v, wr + r * v, max(peak, v)
        if peak >= min_confidence and total > 0:
            out[i] = [wc / w / total, wr / h / total]
    return out


def test_heatmap_refinement_equals_mediapipe_loops():
    rng = np.random.default_rng(3)
    heatmap = rng.normal(-2.0, 2.0, (64, 64, 40)).astype(np.float32)
    xy = rng.uniform(-0.1, 1.1, (40, 2)).astype(np.float32)
    xy[:4] = [[0.5, 1.02], [0.2, 1.2], [-0.01, 0.5], [0.999, 0.001]]  # row past the edge etc.
    ours = refine_from_heatmap(torch.from_numpy(xy)[None], torch.from_numpy(heatmap)[None])
    np.testing.assert_allclose(ours[0].numpy(), _refine_reference(xy, heatmap), atol=1e-5)
    assert not np.allclose(ours[0].numpy(), xy)  # something was refined


def test_anchors_and_weighted_nms():
    anchors = det.ssd_anchors()
    assert anchors.shape == (2254, 2)
    np.testing.assert_allclose(anchors[:2], [[0.5 / 28, 0.5 / 28]] * 2)  # 2 per 28x28 cell
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    assert np.all(anchors[-6:] == anchors[-1])
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7])
    scores = np.array([0.6, 0.9, 0.8], np.float32)
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1.2], [5, 5, 6, 6]], np.float32)
    kps = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    s, b, k = det.weighted_nms(scores, boxes, kps)
    np.testing.assert_allclose(s, [0.9, 0.8])
    np.testing.assert_allclose(b[0], (0.9 * boxes[1] + 0.6 * boxes[0]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(k[1], kps[2])


def test_roi_from_points_convention():
    # hip centre at (100, 200), size point straight up: upright, no rotation
    roi = rois_from_points(np.array([[100, 200]]), np.array([[100, 120]]))[0]
    np.testing.assert_allclose(roi, [100, 200, 2 * 80 * 1.25, 0], atol=1e-5)
    # size point to the right: the person lies on its side, crop turned +90 deg (clockwise)
    roi = rois_from_points(np.array([[100, 200]]), np.array([[180, 200]]))[0]
    assert roi[3] == pytest.approx(np.pi / 2)
    assert Roi(roi[:2], roi[2], roi[3]).center_px.dtype == np.float32


def test_bgr_input_and_reversed_views_give_the_rgb_result(pose):
    """A BGR frame is cropped as is and swapped per crop; a channel-reversed view (negative
    strides, e.g. bgr[..., ::-1]) is read through its own buffer, not copied or refused."""
    rgb = images()["astronaut"]
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    ref = pose(rgb)[0].keypoints_px
    for image, kwargs in ((bgr, {"bgr": True}), (bgr[..., ::-1], {}),
                          (rgb[..., ::-1], {"bgr": True})):
        frame = pose.prepare(image, **kwargs)
        assert frame.pixels.flags.c_contiguous
        np.testing.assert_array_equal(pose(frame)[0].keypoints_px, ref)


def test_device_crop_path_uploads_a_frame_once(pose, monkeypatch):
    """The GPU crop path (here on the CPU) converts a prepared frame once for detect and
    landmarks together."""
    monkeypatch.setattr(pose, "crop_backend", "torch")
    frame = pose.prepare(images()["astronaut"])
    rois = pose.detect(frame)
    uploaded = frame.tensor
    assert uploaded is not None and uploaded.shape == (3, 512, 512)
    assert len(pose.landmarks(frame, rois)) == 1 and frame.tensor is uploaded
