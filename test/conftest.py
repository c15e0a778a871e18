"""Shared test fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from pose_ros.skeleton import H36M17


def walker(frames: int = 240, fps: float = 30.0) -> np.ndarray:
    """A procedural walk in the lifter's 17 joints, metres, y up (a synthetic 'take')."""
    t = np.arange(frames) / fps
    phase = 2 * np.pi * 0.9 * t
    idx = H36M17.index
    j = np.zeros((frames, 17, 3))
    pelvis = np.stack([np.zeros_like(t), 0.95 + 0.02 * np.cos(2 * phase), 1.2 * t], axis=1)
    j[:, idx("pelvis")] = pelvis
    for side, sign in (("left", 1), ("right", -1)):
        swing = 0.45 * np.sin(phase) * sign
        hip = pelvis + [0.1 * sign, 0, 0]
        knee = hip + np.stack([0 * t, -0.45 * np.cos(swing), 0.45 * np.sin(swing)], 1)
        bend = swing - 0.4 * np.clip(np.sin(phase + 0.5) * sign, 0, None)
        ankle = knee + np.stack([0 * t, -0.43 * np.cos(bend), 0.43 * np.sin(bend)], 1)
        shoulder = pelvis + [0.18 * sign, 0.5, 0]
        arm = -0.3 * np.sin(phase) * sign
        elbow = shoulder + np.stack([0 * t, -0.3 * np.cos(arm), 0.3 * np.sin(arm)], 1)
        wrist = elbow + np.stack([0 * t, -0.27 * np.cos(arm + 0.3), 0.27 * np.sin(arm + 0.3)], 1)
        for name, p in (("hip", hip), ("knee", knee), ("ankle", ankle), ("shoulder", shoulder),
                        ("elbow", elbow), ("wrist", wrist)):
            j[:, idx(f"{side}_{name}")] = p
    thorax = (j[:, idx("left_shoulder")] + j[:, idx("right_shoulder")]) / 2
    j[:, idx("thorax")] = thorax
    j[:, idx("spine")] = (pelvis + thorax) / 2
    j[:, idx("head")] = thorax + [0, 0.22, 0.02]
    j[:, idx("neck")] = (thorax + j[:, idx("head")]) / 2
    return j.astype(np.float32)


@pytest.fixture
def walk_take() -> np.ndarray:
    return walker()
