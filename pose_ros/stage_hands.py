"""The pipeline's hand stage: for each tracked person, the hands worth looking at, all of them in
one batch through MediaPipe Holistic's hand models (models/hands.py).

A hand is looked for when the pose sees its wrist (visibility > 0.1, as Holistic) and, with
`hands_raised_only` (the default), when its forearm does not hang: the wrist at most a quarter
torso below the elbow. Every hand cue (open palm, thumbs up, a pointing fingertip) is made with
the forearm up or forward, and a hanging hand costs a network pass for nothing, so on a person
standing with the hands down the stage costs nothing. The ROI of each hand comes from the pose,
refined by the re-crop model, or from last frame's hand keypoints while they still agree with
it (MediaPipe's tracking rules); what is kept between frames lives in the PersonState.
"""

from __future__ import annotations

import numpy as np

from pose_ros.models.hands import MIN_PRESENCE, MIN_WRIST_VISIBILITY, keep_tracking
from pose_ros.person import Hand
from pose_ros.person_state import PersonState
from pose_ros.skeleton import BLAZEPOSE33

_B = BLAZEPOSE33.index
POSE_POINTS = {side: [_B(f"{side}_{j}") for j in ("wrist", "pinky", "index")]
               for side in ("left", "right")}
MAX_WRIST_BELOW_ELBOW = 0.25   # torso lengths: lower than this, the forearm hangs


def hand_up(keypoints_px: np.ndarray, side: str) -> bool:
    """The forearm does not hang: wrist no more than MAX_WRIST_BELOW_ELBOW torso under the
    elbow (BLAZEPOSE33 keypoints, image up)."""
    kp = keypoints_px
    shoulders = (kp[_B("left_shoulder"), :2] + kp[_B("right_shoulder"), :2]) / 2
    hips = (kp[_B("left_hip"), :2] + kp[_B("right_hip"), :2]) / 2
    torso = max(float(np.linalg.norm(shoulders - hips)), 1.0)
    drop = kp[_B(f"{side}_wrist"), 1] - kp[_B(f"{side}_elbow"), 1]
    return bool(drop <= MAX_WRIST_BELOW_ELBOW * torso)


class HandStage:
    """Hands of all people in a frame; per-person tracking state in PersonState.hand_tracks."""

    def __init__(self, config, device: str) -> None:
        from pose_ros.models.hands import HandLandmarker

        self.raised_only = config.hands_raised_only
        self.model = HandLandmarker(device=device, allow_download=config.allow_download,
                                    precision=config.precision)

    def wanted(self, state: PersonState) -> list[str]:
        kp = state.landmarks.keypoints_px
        return [side for side, (wrist, _, _) in POSE_POINTS.items()
                if kp[wrist, 2] > MIN_WRIST_VISIBILITY
                and (not self.raised_only or hand_up(kp, side))]

    def __call__(self, frame, states: list[PersonState]) -> list[list[Hand]]:
        """Per state, the hands found (one batched pass per network for the whole frame)."""
        requests = [(i, side) for i, s in enumerate(states) for side in self.wanted(s)]
        for s in states:   # a hand not looked at this frame is not tracked into the next
            for side in set(s.hand_tracks) - {side for j, side in requests if states[j] is s}:
                del s.hand_tracks[side]
        out: list[list[Hand]] = [[] for _ in states]
        if not requests:
            return out
        points = np.stack([states[i].landmarks.keypoints_px[POSE_POINTS[side]]
                           for i, side in requests])
        rois = self.model.recrop(frame, self.model.rois_from_pose(points))
        tracked = [k for k, (i, side) in enumerate(requests) if side in states[i].hand_tracks]
        if tracked:
            prev = [states[requests[k][0]].hand_tracks[requests[k][1]] for k in tracked]
            keep = keep_tracking(np.stack([p[0] for p in prev]), np.stack([p[1] for p in prev]),
                                 rois[tracked])
            rois[np.array(tracked)[keep]] = np.stack([p[0] for p, k in zip(prev, keep) if k]) \
                if keep.any() else rois[np.array(tracked)[keep]]
        found = self.model.landmarks(frame, rois)
        for k, (i, side) in enumerate(requests):
            state = states[i]
            if found.presence[k] < MIN_PRESENCE:
                state.hand_tracks.pop(side, None)
                continue
            state.hand_tracks[side] = (found.next_rois[k], found.keypoints_px[k, :, :2])
            out[i].append(Hand(side, float(found.presence[k]), found.keypoints_px[k],
                               found.world_m[k]))
        return out
