"""What the pipeline keeps about one tracked person between frames, keyed by track id.

The tracker (tracking.py) only assigns ids and runs the life cycle; everything a person needs
from one frame to the next lives here, in one typed object the pipeline owns:

- `roi` and `roi_filter`: where to look for the person next frame (BlazePose tracking mode);
- `landmarks`: the latest 2D model result (2D keypoints, world landmarks);
- `lifter_stream`: the 3D lifter's temporal history; `pose_filter`: the `world` 3D source's
  smoothing of the pelvis-relative pose (stage3d.py);
- `filters` and `filters_depth_source`: the One Euro filters of the published keypoints;
- `hand_tracks`: per side, last frame's hand ROI and keypoints (the hand model's tracking);
- `cues`: the cue engine's state (debouncers, swing counters, speed windows).

A person who misses a frame loses what must not bridge a gap (`interrupt`): the ROI (it points
where the person was), the 3D source's history (lifter window, pose filter), the hands' tracking
and the cue state, so a track re-acquired after a gap starts a fresh temporal window instead of
joining frames from before and after the gap in one window (and its cues start again from
"off").
States of tracks the tracker removed are dropped (`PersonStates.prune`), so memory stays flat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pose_ros.filters import OneEuroFilter, OneEuroParams, PoseFilters
from pose_ros.models.roi import ROI_SCALE, Roi, rois_from_points
from pose_ros.person import DepthSource

if TYPE_CHECKING:
    from pose_ros.cues.engine import CueTrack
    from pose_ros.models.blazepose import PoseLandmarks
    from pose_ros.models.lifter import LifterStream

# MediaPipe's filter on the two points that make the next ROI (PoseLandmarkFiltering, auxiliary
# landmarks): nearly still when the person is, quick when they move (speed per ROI size).
ROI_FILTER = OneEuroParams(min_cutoff_hz=0.01, beta=10.0, d_cutoff_hz=1.0)


@dataclass(eq=False)
class PersonState:
    """One tracked person's state between frames (see the module docstring)."""

    track_id: int
    roi: Roi | None = None
    roi_filter: OneEuroFilter | None = None
    landmarks: PoseLandmarks | None = None
    lifter_stream: LifterStream | None = None
    pose_filter: OneEuroFilter | None = None
    filters: PoseFilters | None = None
    filters_depth_source: DepthSource | None = None   # what the 3D filter's root means
    hand_tracks: dict = field(default_factory=dict)   # side -> (next ROI (4,), keypoints)
    cues: CueTrack | None = None

    def interrupt(self) -> None:
        """The person was not found this frame: forget what must not bridge the gap."""
        self.roi = self.roi_filter = None
        self.lifter_stream = self.pose_filter = None
        self.hand_tracks = {}
        self.cues = None

    def update_roi(self, result: PoseLandmarks, stamp_s: float) -> Roi:
        """Set and return the ROI to look for this person in the next frame, from the landmark
        result's two auxiliary points smoothed over time, as MediaPipe does.

        A ROI that jitters with the points cuts off limbs and loses people: on the 300-frame
        basketball clip in ../shared/data/video, smoothing took the frames with a pose from 264
        to 276 (282 -> 284 with min_hits 1), the detector runs from 65 to 58 and the track ids
        from 20 to 10.
        """
        if self.roi_filter is None:
            self.roi_filter = OneEuroFilter(ROI_FILTER)
        aux = self.roi_filter(result.auxiliary_px, stamp_s,
                              scale=result.next_roi.size_px / ROI_SCALE)
        cx, cy, size, rotation = rois_from_points(aux[:1], aux[1:])[0]
        self.roi = Roi((cx, cy), size, rotation, result.next_roi.score)
        return self.roi

    def pose_filters(self, params: OneEuroParams,
                     depth_source: DepthSource | None = None) -> PoseFilters:
        """The person's One Euro filters; the 3D one restarts when the root changes meaning
        (depth image <-> intrinsics: a jump between the two is not motion)."""
        if self.filters is None:
            self.filters = PoseFilters(params)
        if depth_source is not None and self.filters_depth_source != depth_source:
            self.filters.xyz.reset()
            self.filters_depth_source = depth_source
        return self.filters


class PersonStates(dict[int, PersonState]):
    """track id -> PersonState, created on first use, dropped with the track."""

    def of(self, track_id: int) -> PersonState:
        state = self.get(track_id)
        if state is None:
            state = self[track_id] = PersonState(track_id)
        return state

    def prune(self, removed_track_ids) -> None:
        for track_id in removed_track_ids:
            self.pop(track_id, None)
