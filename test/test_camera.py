"""Camera geometry and placing a skeleton in the camera: projection, root solve, depth fusion."""

from __future__ import annotations

import numpy as np
import pytest

from pose_ros.camera import (
    CameraIntrinsics,
    root_from_depth,
    sample_depth,
    solve_root,
)

K = CameraIntrinsics(fx=600.0, fy=610.0, cx=320.0, cy=240.0, width=640, height=480)


def body(rng: np.random.Generator) -> np.ndarray:
    """A pelvis-relative 17-joint body of about human size (metres, optical frame)."""
    rel = rng.normal(0, 0.3, (17, 3)) * [0.6, 1.5, 0.4]
    rel[0] = 0
    return rel


def test_projection_round_trip():
    rng = np.random.default_rng(0)
    pts = rng.uniform([-1, -1, 0.5], [1, 1, 8], (50, 3))
    uv = K.project(pts)
    np.testing.assert_allclose(K.back_project(uv, pts[:, 2]), pts, atol=1e-9)


def test_guess_uses_the_documented_field_of_view():
    k = CameraIntrinsics.guess(640, 480, hfov_deg=90)
    assert k.fx == pytest.approx(320) and (k.cx, k.cy) == (320, 240)


def test_from_camera_info_reads_k_and_rejects_uncalibrated():
    info = {"k": [500, 0, 300, 0, 505, 200, 0, 0, 1], "d": [0, 0, 0, 0, 0], "width": 640,
            "height": 480}
    k = CameraIntrinsics.from_camera_info(info)
    assert (k.fx, k.fy, k.cx, k.cy, k.distortion) == (500, 505, 300, 200, ())
    with pytest.raises(ValueError, match="K matrix"):
        CameraIntrinsics.from_camera_info({**info, "k": [0] * 9})


def test_distortion_is_undone_before_3d():
    import cv2

    info = {"k": [500, 0, 320, 0, 500, 240, 0, 0, 1], "d": [-0.2, 0.05, 0, 0, 0],
            "width": 640, "height": 480}
    k = CameraIntrinsics.from_camera_info(info)
    pts = np.array([[0.3, -0.2, 2.0], [-0.5, 0.4, 3.0]])
    uv, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), k.matrix(), np.array(k.distortion))
    np.testing.assert_allclose(k.normalized(uv.reshape(-1, 2)), pts[:, :2] / pts[:, 2:],
                               atol=1e-5)


def test_monocular_root_is_exact_without_noise():
    rng = np.random.default_rng(1)
    rel = body(rng)
    root = np.array([0.4, 0.2, 4.0])
    kp = np.column_stack([K.project(rel + root), np.ones(17)])
    np.testing.assert_allclose(solve_root(rel, kp, K), root, atol=1e-9)


def test_monocular_root_with_pixel_noise():
    rng = np.random.default_rng(2)
    errors = []
    for _ in range(20):
        rel = body(rng)
        root = np.array([rng.uniform(-1, 1), rng.uniform(-0.5, 0.5), rng.uniform(2, 6)])
        uv = K.project(rel + root) + rng.normal(0, 2.0, (17, 2))
        kp = np.column_stack([uv, rng.uniform(0.5, 1.0, 17)])
        errors.append(np.linalg.norm(solve_root(rel, kp, K) - root) / root[2])
    assert np.median(errors) < 0.03  # within 3% of the distance


def test_low_scores_do_not_pull_the_root():
    rng = np.random.default_rng(3)
    rel, root = body(rng), np.array([0.0, 0.0, 3.0])
    uv = K.project(rel + root)
    uv[5] += 200  # a gross outlier...
    scores = np.ones(17)
    scores[5] = 0.0  # ...that the detector was not sure of
    np.testing.assert_allclose(solve_root(rel, np.column_stack([uv, scores]), K), root,
                               atol=1e-3)


def depth_image(rel, root, value_scale=1.0):
    """A depth image with each joint's z painted in a 9x9 patch, zeros elsewhere."""
    depth = np.zeros((480, 640), np.float32)
    uv = K.project(rel + root)
    for (u, v), z in zip(uv, (rel + root)[:, 2]):
        depth[int(v) - 4:int(v) + 5, int(u) - 4:int(u) + 5] = z * value_scale
    return depth, uv


def test_depth_fusion_recovers_the_root_and_ignores_zeros_and_nan():
    rng = np.random.default_rng(4)
    rel, root = body(rng), np.array([-0.3, 0.1, 2.5])
    depth, uv = depth_image(rel, root)
    depth[:, :300][depth[:, :300] > 0] = np.nan  # left half of the person: NaN (missing)
    kp = np.column_stack([uv, np.ones(17)])
    np.testing.assert_allclose(root_from_depth(rel, kp, depth, K), root, atol=1e-5)


def test_depth_fusion_is_robust_to_an_occluder_and_falls_back_when_empty():
    rng = np.random.default_rng(5)
    rel, root = body(rng), np.array([0.2, 0.0, 3.0])
    depth, uv = depth_image(rel, root)
    kp = np.column_stack([uv, np.ones(17)])
    u, v = uv[3].astype(int)
    depth[v - 4:v + 5, u - 4:u + 5] = 1.0  # something in front of one joint
    np.testing.assert_allclose(root_from_depth(rel, kp, depth, K), root, atol=0.05)
    assert root_from_depth(rel, kp, np.zeros_like(depth), K) is None
    assert root_from_depth(rel, kp, np.full_like(depth, np.nan), K) is None


def test_sample_depth_handles_points_outside_the_image():
    depth = np.full((10, 10), 2.0, np.float32)
    out = sample_depth(depth, np.array([[5.0, 5.0], [-50.0, 5.0], [9.5, 9.5]]))
    assert out[0] == 2.0 and np.isnan(out[1]) and out[2] == 2.0


# --- CameraInfo rules: binning, ROI, resize, distortion models -------------------------------

FULL = {"k": [1000.0, 0, 960.0, 0, 1002.0, 540.0, 0, 0, 1], "d": [], "width": 1920,
        "height": 1080, "distortion_model": "plumb_bob"}
POINTS_M = np.array([[0.3, -0.2, 2.0], [-0.5, 0.4, 3.0], [0.1, 0.1, 1.5], [-0.6, -0.3, 2.5],
                     [0.9, 0.5, 1.0], [-0.9, -0.5, 1.0]])   # the last two near the corners


def full_res_pixels(points_m: np.ndarray) -> np.ndarray:
    k = FULL["k"]
    return np.stack([k[0] * points_m[:, 0] / points_m[:, 2] + k[2],
                     k[4] * points_m[:, 1] / points_m[:, 2] + k[5]], axis=1)


@pytest.mark.parametrize("binning, roi", [
    (2, None), (1, {"x_offset": 320, "y_offset": 100, "width": 1280, "height": 720}),
    (2, {"x_offset": 320, "y_offset": 100, "width": 1280, "height": 720})])
def test_binning_and_roi_follow_the_camera_info_rules(binning, roi):
    """A pixel of the published image is full-resolution (u - x_offset) / binning."""
    info = {**FULL, "binning_x": binning, "binning_y": binning,
            "roi": roi or {"x_offset": 0, "y_offset": 0, "width": 0, "height": 0}}
    k = CameraIntrinsics.from_camera_info(info)
    x0, y0 = (roi["x_offset"], roi["y_offset"]) if roi else (0, 0)
    assert (k.width, k.height) == ((roi or FULL)["width"] // binning,
                                   (roi or FULL)["height"] // binning)
    published_px = (full_res_pixels(POINTS_M) - [x0, y0]) / binning
    np.testing.assert_allclose(k.normalized(published_px), POINTS_M[:, :2] / POINTS_M[:, 2:],
                               atol=1e-12)


def test_resized_intrinsics_scale_like_image_proc_and_refuse_a_crop():
    k = CameraIntrinsics.from_camera_info(FULL).scaled_to(960, 540)
    assert (k.fx, k.fy, k.cx, k.cy) == (500.0, 501.0, 480.0, 270.0)
    with pytest.raises(ValueError, match="aspect ratio"):
        CameraIntrinsics.from_camera_info(FULL).scaled_to(960, 720)


@pytest.mark.parametrize("model, d", [
    ("plumb_bob", [-0.28, 0.09, 0.001, -0.0005, -0.015]),
    ("rational_polynomial", [0.9, -0.2, 0.001, 0.0005, 0.01, 1.2, 0.1, 0.02]),
    ("equidistant", [-0.01, 0.03, -0.02, 0.004])])
def test_each_supported_distortion_model_is_undone(model, d):
    import cv2

    info = {**FULL, "d": d, "distortion_model": model}
    k = CameraIntrinsics.from_camera_info(info)
    assert k.distortion_problem() is None
    if model == "equidistant":
        uv, _ = cv2.fisheye.projectPoints(POINTS_M.reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                          k.matrix(), np.array(d))
    else:
        uv, _ = cv2.projectPoints(POINTS_M, np.zeros(3), np.zeros(3), k.matrix(), np.array(d))
    uv = uv.reshape(-1, 2)
    assert np.abs(uv - full_res_pixels(POINTS_M)).max() > 5    # the lens really moves them
    np.testing.assert_allclose(k.normalized(uv), POINTS_M[:, :2] / POINTS_M[:, 2:], atol=1e-6)


@pytest.mark.parametrize("model, d, why", [
    ("kannala_brandt", [0.1, 0.01, 0.0, 0.0], "not supported"),
    ("equidistant", [0.1, 0.01, 0.0, 0.0, 0.2], "needs 4")])
def test_unsupported_distortion_is_reported_and_ignored(model, d, why):
    k = CameraIntrinsics.from_camera_info({**FULL, "d": d, "distortion_model": model})
    assert why in k.distortion_problem()
    px = full_res_pixels(POINTS_M)
    np.testing.assert_allclose(k.normalized(px), POINTS_M[:, :2] / POINTS_M[:, 2:], atol=1e-12)
