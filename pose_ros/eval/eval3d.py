"""3D evaluation: MPJPE / P-MPJPE (mm) of the lifter, from BVH takes or from an npz file.

BVH takes go through the lifter's own virtual-camera protocol (pose_ros.eval.lifter_eval: clean
and noisy synthetic 2D). The npz path scores the lifter on 2D keypoints someone else produced
(a 2D model on real video, say) against 3D ground truth, with this layout:

    keypoints_2d       (T, 17, 3) float  COCO-17 x_px, y_px, score in image pixels (required)
    joints_3d_m        (T, 17, 3) float  ground truth in skeleton.H36M17 order, metres, camera
                                         optical frame (x right, y down, z forward) (required)
    sequence           (T,) int          sequence id per frame; a sequence's frames are
                                         consecutive and in time order (default: one sequence)
    camera_k           (3, 3) float      intrinsics (or image_size for a guessed field of view)
    image_size         (2,) int          width, height in pixels
    blazepose_world_m  (T, 33, 3) float  optional: BlazePose world landmarks on the same frames
                                         (hip-centred metres), scored the same way for comparison

Each frame is lifted causally from its sequence's history (the first frame repeated before the
start, as for a new track). Errors are pelvis-relative over the 17 lifter joints.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pose_ros.camera import CameraIntrinsics
from pose_ros.errors import PoseRosError
from pose_ros.eval.metrics3d import mpjpe, p_mpjpe, per_joint_mpjpe
from pose_ros.skeleton import (
    BLAZEPOSE33_TO_COCO17,
    H36M17,
    LIFTER_FROM_COCO17,
    lifter_inputs_from_coco17,
    lifter_world_from_blazepose33,
)

NPZ_REQUIRED = {"keypoints_2d": (17, 3), "joints_3d_m": (17, 3)}


def errors_mm(pred_m: np.ndarray, target_m: np.ndarray) -> dict:
    """MPJPE, P-MPJPE and per-joint MPJPE in mm; both (N, 17, 3), made pelvis-relative here."""
    pelvis = H36M17.index("pelvis")
    pred = pred_m - pred_m[:, pelvis:pelvis + 1]
    target = target_m - target_m[:, pelvis:pelvis + 1]
    return {"mpjpe_mm": mpjpe(pred, target) * 1000, "pmpjpe_mm": p_mpjpe(pred, target) * 1000,
            "per_joint_mm": dict(zip(H36M17.keypoint_names,
                                     (per_joint_mpjpe(pred, target) * 1000).round(1).tolist())),
            "poses": int(len(pred))}


def causal_windows(sequence: np.ndarray, length: int) -> np.ndarray:
    """(T,) sequence ids -> (T, length) frame indices of each frame's causal window, clamped
    to the first frame of its sequence."""
    t = np.arange(len(sequence))
    starts = np.r_[0, np.flatnonzero(np.diff(sequence) != 0) + 1]
    first = starts[np.searchsorted(starts, t, side="right") - 1]
    return np.maximum(t[:, None] - length + 1 + np.arange(length)[None, :], first[:, None])


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as f:
            data = {k: f[k] for k in f.files}
    except (OSError, ValueError) as exc:
        raise PoseRosError(f"cannot read {path}: {exc}") from None
    for name, tail in NPZ_REQUIRED.items():
        if name not in data:
            raise PoseRosError(f"{path} has no array {name!r} (see pose_ros/eval/eval3d.py "
                               f"for the layout); it has {sorted(data)}")
        if data[name].ndim != 3 or data[name].shape[1:] != tail:
            raise PoseRosError(f"{path}: {name} must be (T, {tail[0]}, {tail[1]}), got "
                               f"{data[name].shape}")
    t = len(data["keypoints_2d"])
    for name, shape in (("joints_3d_m", (t, 17, 3)), ("sequence", (t,)),
                        ("blazepose_world_m", (t, 33, 3))):
        if name in data and data[name].shape != shape:
            raise PoseRosError(f"{path}: {name} has shape {data[name].shape}, expected "
                               f"{shape} for {t} frames")
    if "camera_k" not in data and "image_size" not in data:
        raise PoseRosError(f"{path}: give camera_k (3, 3) or image_size (width, height)")
    return data


def intrinsics_of(data: dict[str, np.ndarray]) -> CameraIntrinsics:
    if "camera_k" in data:
        k = np.asarray(data["camera_k"], dtype=np.float64).reshape(3, 3)
        size = data.get("image_size", np.array([2 * k[0, 2], 2 * k[1, 2]]))
        return CameraIntrinsics(k[0, 0], k[1, 1], k[0, 2], k[1, 2], int(size[0]), int(size[1]))
    width, height = (int(v) for v in data["image_size"])
    return CameraIntrinsics.guess(width, height)


def blazepose_world_to_lifter(world_m: np.ndarray) -> np.ndarray:
    """(T, 33, 3) BlazePose world landmarks -> (T, 17, 3) lifter joints (same mapping as 2D)."""
    coco = world_m[:, BLAZEPOSE33_TO_COCO17]
    return np.einsum("jk,tkc->tjc", LIFTER_FROM_COCO17, coco)


def evaluate_npz(path: str | Path, lifter, batch: int = 256) -> dict:
    """{"lifter": errors, "blazepose_world": errors (when given), "frames", "sequences"}."""
    data = load_npz(path)
    kp2d = np.asarray(data["keypoints_2d"], dtype=np.float64)
    sequence = np.asarray(data.get("sequence", np.zeros(len(kp2d))))
    intrinsics = intrinsics_of(data)
    world = None
    if lifter.uses_world:
        if "blazepose_world_m" not in data:
            raise PoseRosError(f"{path}: the fused lifter needs blazepose_world_m (T, 33, 3)")
        world = lifter_world_from_blazepose33(np.asarray(data["blazepose_world_m"], np.float64))
    inputs = lifter.normalize(lifter_inputs_from_coco17(kp2d), intrinsics, world)
    windows = causal_windows(sequence, lifter.receptive_field)
    pred = np.concatenate([lifter.lift(inputs[windows[i:i + batch]])
                           for i in range(0, len(windows), batch)])
    target = np.asarray(data["joints_3d_m"], dtype=np.float64)
    out = {"lifter": errors_mm(pred, target), "frames": int(len(kp2d)),
           "sequences": int(len(np.unique(sequence))),
           "intrinsics": {"fx": intrinsics.fx, "fy": intrinsics.fy, "cx": intrinsics.cx,
                          "cy": intrinsics.cy, "guessed": "camera_k" not in data}}
    if "blazepose_world_m" in data:
        world = blazepose_world_to_lifter(np.asarray(data["blazepose_world_m"], np.float64))
        out["blazepose_world"] = errors_mm(world, target)
    return out


def evaluate_bvh(bvh_dir: str | Path | list, lifter, subjects: list[str] | None = None,
                 clips: int | None = None) -> dict:
    """The lifter's virtual-camera protocol (lifter_eval.evaluate) on every take of the
    folder(s), or the takes of `subjects` when given. `clips` is ignored (every frame is
    scored); it stays for callers of the earlier clip-sampling protocol."""
    from pose_ros.eval import lifter_eval
    from pose_ros.train import corpus

    dirs = [bvh_dir] if isinstance(bvh_dir, (str, Path)) else list(bvh_dir)
    infos = corpus.select(corpus.find_takes(dirs), subjects=set(subjects) if subjects else None)
    if not infos:
        raise PoseRosError(f"no takes of subjects {subjects} in {', '.join(map(str, dirs))}")
    loaded, skipped = corpus.load(infos, progress=False)
    results = lifter_eval.evaluate(lifter, [t.joints_m for _, t in loaded],
                                   [i.path.name for i, _ in loaded],
                                   [i.activity for i, _ in loaded])
    return {**results, "takes": len(loaded), "skipped": skipped,
            "frames": int(sum(len(t.joints_m) for _, t in loaded)),
            "subjects": subjects or "all",
            "protocol": " ".join(lifter_eval.__doc__.split("\n\n")[1].split())}
