"""3D pose errors (metres in, metres out): MPJPE and Procrustes-aligned P-MPJPE."""

from __future__ import annotations

import numpy as np


def mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint position error: mean Euclidean distance over all joints and poses."""
    return float(np.linalg.norm(pred - target, axis=-1).mean())


def per_joint_mpjpe(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(..., J, 3) -> (J,) mean error per joint."""
    err = np.linalg.norm(pred - target, axis=-1)
    return err.reshape(-1, err.shape[-1]).mean(axis=0)


def procrustes_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Each (J, 3) pose of `pred` after the similarity transform (rotation, scale, translation)
    that best fits it to `target` (least squares), as in the usual P-MPJPE protocol."""
    p = pred.reshape(-1, *pred.shape[-2:]).astype(np.float64)
    t = target.reshape(-1, *target.shape[-2:]).astype(np.float64)
    mu_p, mu_t = p.mean(1, keepdims=True), t.mean(1, keepdims=True)
    p0, t0 = p - mu_p, t - mu_t
    norm_p = np.linalg.norm(p0, axis=(1, 2), keepdims=True) + 1e-12
    norm_t = np.linalg.norm(t0, axis=(1, 2), keepdims=True) + 1e-12
    p0, t0 = p0 / norm_p, t0 / norm_t
    u, s, vt = np.linalg.svd(np.einsum("bji,bjk->bik", p0, t0))
    d = np.sign(np.linalg.det(np.einsum("bij,bjk->bik", u, vt)))
    s[:, -1] *= d
    u[:, :, -1] *= d[:, None]
    rot = np.einsum("bij,bjk->bik", u, vt)
    scale = (s.sum(1) * norm_t[:, 0, 0] / norm_p[:, 0, 0])[:, None, None]
    aligned = scale * np.einsum("bji,bik->bjk", p - mu_p, rot) + mu_t
    return aligned.reshape(pred.shape)


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after Procrustes alignment of each pose."""
    return mpjpe(procrustes_align(pred, target), target)
