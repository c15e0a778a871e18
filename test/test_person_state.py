"""PersonState: next-frame ROI smoothing, what a gap forgets, states dropped with tracks."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pose_ros.filters import OneEuroFilter, OneEuroParams
from pose_ros.models.lifter import LifterStream
from pose_ros.models.roi import Roi
from pose_ros.person import DepthSource
from pose_ros.person_state import PersonState, PersonStates


def landmarks(hip, top):
    aux = np.array([hip, top], np.float32)
    return SimpleNamespace(auxiliary_px=aux, next_roi=Roi(hip, 400.0, 0.0, 0.9))


def test_steady_roi_ignores_jitter_and_follows_motion():
    """The next-frame ROI barely moves with keypoint jitter and keeps up with a moving person."""
    rng = np.random.default_rng(0)
    state = PersonState(track_id=1)
    hips = np.array([320.0, 240.0]) + rng.normal(0, 3, (30, 2))
    tops = np.array([320.0, 100.0]) + rng.normal(0, 3, (30, 2))
    still = [state.update_roi(landmarks(h, t), i / 30)
             for i, (h, t) in enumerate(zip(hips, tops, strict=True))]
    centres = np.array([r.center_px for r in still[10:]])
    assert np.ptp(centres, axis=0).max() < 0.5 * np.ptp(hips[10:], axis=0).min()
    assert abs(still[-1].size_px - 2 * 140 * 1.25) < 5 and abs(still[-1].rotation_rad) < 0.05
    assert still[-1].score == pytest.approx(0.9) and state.roi is still[-1]
    for i in range(30, 45):                               # walks right at 20 px per frame
        x = 320.0 + 20 * (i - 29)
        moving = state.update_roi(landmarks(np.array([x, 240.0]), np.array([x, 100.0])), i / 30)
    assert abs(moving.center_px[0] - x) < 10


def test_interrupt_forgets_roi_and_3d_history_keeps_filters():
    state = PersonState(track_id=3, lifter_stream=LifterStream(), pose_filter=OneEuroFilter())
    state.update_roi(landmarks(np.array([100.0, 200.0]), np.array([100.0, 80.0])), 0.0)
    filters = state.pose_filters(OneEuroParams(), DepthSource.MONOCULAR)
    state.interrupt()
    assert state.roi is None and state.roi_filter is None
    assert state.lifter_stream is None and state.pose_filter is None
    assert state.pose_filters(OneEuroParams(), DepthSource.MONOCULAR) is filters


def test_3d_filter_restarts_when_the_root_changes_meaning():
    state = PersonState(track_id=1)
    f = state.pose_filters(OneEuroParams(), DepthSource.MONOCULAR)
    f.smooth_3d(np.zeros((2, 4)), 0.0)
    f.smooth_3d(np.zeros((2, 4)), 1 / 30)
    jump = np.array([[0.0, 0.0, 5.0, 1.0]] * 2)
    assert f.smooth_3d(jump, 2 / 30)[0, 2] < 5.0                     # same source: smoothed
    f = state.pose_filters(OneEuroParams(), DepthSource.IMAGE)       # depth image now
    assert f.smooth_3d(jump * 2, 3 / 30)[0, 2] == pytest.approx(10.0)  # restarted: no lag
    assert state.pose_filters(OneEuroParams()) is f                  # 2D only: no restart


def test_states_created_on_first_use_and_pruned():
    states = PersonStates()
    a = states.of(1)
    assert states.of(1) is a and states.of(2).track_id == 2
    states.prune([1, 7])
    assert list(states) == [2]
