"""PoseEstimator: one camera frame -> tracked people with 2D and 3D skeletons.

    estimator = PoseEstimator(PipelineConfig(device="cuda"))
    people = estimator(image_bgr, stamp_s, camera=camera_info, depth=depth_m)

Per frame: the person detector runs only when needed (no one tracked, a track was lost last
frame, or every `detect_every_n_frames` to catch newcomers); every tracked person is otherwise
found again from the ROI its landmarks predicted, smoothed as MediaPipe does (BlazePose
tracking mode). All people go through the landmark network as one batch, the tracker gives them
stable ids, the lifter turns each track's 2D history into root-relative 3D in one batched call,
the camera placement gives the root (aligned depth when given, else intrinsics + reprojection),
and One Euro filters smooth the published keypoints. Stages are timed on every call (image
decode is the caller's).

The published 3D is in the published topology (`skeleton`): joints the lifter estimates are
taken from it; joints it has no counterpart for (face: nose, eyes, ears, mouth...) are placed at
the lifter's head with score 0, as the message contract says.
"""

from __future__ import annotations

import re
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.filters import OneEuroParams
from pose_ros.models.backends import BACKENDS
from pose_ros.models.roi import Roi
from pose_ros.person import DepthSource, Person
from pose_ros.person_state import PersonState, PersonStates
from pose_ros.skeleton import (
    BLAZEPOSE33,
    BLAZEPOSE33_TO_COCO17,
    H36M17,
    get_topology,
    lifter_to_topology,
)
from pose_ros.stage3d import POSE3D_SOURCES, Stage3D
from pose_ros.tracking import (
    COCO17_SIGMAS,
    Track,
    Tracker,
    TrackerParams,
    TrackState,
    box_iou,
    keypoint_agreement,
)

STAGES = ("detect", "proposals", "landmarks", "track", "lift", "place", "hands", "smooth", "cues",
          "total")
TIMING_WINDOW = 10_000      # per-stage samples kept for the summary (memory stays flat)
DUPLICATE_AGREEMENT = 0.5   # results agreeing on this fraction of joints are one person
DUPLICATE_ROI_IOU = 0.5     # a detection overlapping a tracked ROI this much is that person
# A detection's result lying this much inside a tracked person's box is that person again: the
# detector re-fires on a tracked person with a misplaced ROI (raised arms, a ball) and the
# landmark model then draws a second, wrong skeleton over them that agrees on no joint.
REDETECTION_INSIDE = 0.6
REDETECTION_HOLDS = 0.8     # a detector ROI holding this much of a tracked ROI ...
REDETECTION_SCALE = 2.0     # ... at up to this many times its size is that person again


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a PoseEstimator needs; the field names are the ROS node's parameter names.

    Attributes:
        device: "auto" (CUDA when available), "cpu", "cuda" or "cuda:N".
        precision: "fp32" or "fp16" (2D networks).
        num_threads: torch CPU threads; 0 = the BlazePose default (1, robust on shared CPUs).
        backend: where the 2D networks run: "auto" (the fastest measured for the device:
            onnxruntime on CPU when installed, else torch), "torch", "onnxruntime" (providers
            follow the device), or "onnxruntime-cpu|cuda|tensorrt" (models/backends.py).
        detector_model, landmark_model: model store names or local .tflite paths.
        lifter_model: lifter weights file; "" = the weights shipped in the package.
        allow_download: fetch missing BlazePose models with pip on first use.
        detection_threshold: minimum person-detector score.
        presence_threshold: minimum landmark-model pose presence for a person to count.
        max_people: at most this many people are processed per frame.
        detect_every_n_frames: run the detector at least this often while people are tracked.
        tile_levels: levels of square tiles the detector also searches for people too small
            for it in the whole frame (0: whole frame only; detection.py says what each level
            finds).
        tile_every_n_frames: one tile is searched every this many frames (all of them on the
            first frame after a reset).
        body_proposals: also segment each searched tile for people the detector misses
            (proposals.py: MediaPipe's selfie segmentation, one 256 x 256 pass per tile).
        skeleton: published keypoint set, "coco17" or "blazepose33".
        enable_3d: lift to 3D and place in the camera.
        pose3d: where each person's 3D comes from (stage3d.py): "fused" (a lifter fed the 2D
            keypoints and BlazePose's world landmarks; the default, chosen by measurement:
            README, 3D sources), "world" (the world landmarks) or "lifter" (temporal lifter on
            2D).
        lifter_receptive_field: frames of 2D history the lifter uses (1, 9, 27 or 81).
        smoothing: One Euro smoothing of published 2D and 3D keypoints.
        smoothing_min_cutoff_hz, smoothing_beta, smoothing_d_cutoff_hz: One Euro parameters
            (beta per body size per second; see filters.py).
        tracking_metric: "oks" or "iou".
        tracking_min_similarity: association gate.
        tracking_min_hits: matches before a new track is published (1: at once; the landmark
            model's presence score has already confirmed each detection).
        tracking_max_age_frames: frames a lost track keeps its id.
        enable_hands: 21 keypoints per hand (MediaPipe Holistic's hand models, stage_hands.py).
        hands_raised_only: look only at hands whose forearm does not hang (every hand cue
            needs the hand up or forward); False: every visible hand.
        enable_cues: hand raised, waving, pointing, palm, thumbs up, facing, approach
            (cues/engine.py), with debounced start/stop events.
        camera_height_m, camera_pitch_deg: the camera's height above the floor and its downward
            tilt, for pointing targets on the floor; height 0 = unknown (rays only).
        cue_hold_s: how long a cue must hold before it starts (pointing twice this,
            hand_raised 0.1 s less, waving on its second reversal); cues stop 0.3 s after
            they are gone (waving 0.6 s).
    """

    device: str = "auto"
    precision: str = "fp32"
    num_threads: int = 0
    backend: str = "auto"
    detector_model: str = "pose_detection"
    landmark_model: str = "pose_landmark_full"
    lifter_model: str = ""
    allow_download: bool = True
    detection_threshold: float = 0.5
    presence_threshold: float = 0.5
    max_people: int = 5
    detect_every_n_frames: int = 10
    tile_levels: int = 2
    tile_every_n_frames: int = 10
    body_proposals: bool = True
    skeleton: str = "coco17"
    enable_3d: bool = True
    pose3d: str = "fused"
    lifter_receptive_field: int = 27
    smoothing: bool = True
    smoothing_min_cutoff_hz: float = 1.0
    smoothing_beta: float = 10.0
    smoothing_d_cutoff_hz: float = 1.0
    tracking_metric: str = "oks"
    tracking_min_similarity: float = 0.3
    tracking_min_hits: int = 1
    tracking_max_age_frames: int = 30
    enable_hands: bool = False
    hands_raised_only: bool = True
    enable_cues: bool = True
    camera_height_m: float = 0.0
    camera_pitch_deg: float = 0.0
    cue_hold_s: float = 0.15

    def __post_init__(self) -> None:
        problems = []
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", self.device):
            problems.append(f"device {self.device!r} (use auto, cpu, cuda or cuda:N)")
        if self.precision not in ("fp32", "fp16"):
            problems.append(f"precision {self.precision!r} (use fp32 or fp16)")
        if self.pose3d not in POSE3D_SOURCES:
            problems.append(f"pose3d {self.pose3d!r} (use {', '.join(POSE3D_SOURCES)})")
        if self.backend not in BACKENDS:
            problems.append(f"backend {self.backend!r} (use {', '.join(BACKENDS)})")
        if self.skeleton not in ("coco17", "blazepose33"):
            problems.append(f"skeleton {self.skeleton!r} (use coco17 or blazepose33)")
        for name in ("detection_threshold", "presence_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} {getattr(self, name)} (must be in [0, 1])")
        if (self.max_people < 1 or self.detect_every_n_frames < 1 or self.num_threads < 0
                or self.tile_every_n_frames < 1 or self.tile_levels < 0):
            problems.append("max_people, detect_every_n_frames and tile_every_n_frames must "
                            "be >= 1, num_threads and tile_levels >= 0")
        if not (0.0 <= self.camera_height_m <= 20.0 and -90.0 <= self.camera_pitch_deg <= 90.0
                and 0.0 <= self.cue_hold_s <= 10.0):
            problems.append("camera_height_m must be in [0, 20], camera_pitch_deg in [-90, 90], "
                            "cue_hold_s in [0, 10]")
        if problems:
            raise PoseRosError("invalid pipeline configuration: " + "; ".join(problems))
        self.one_euro()       # validates the smoothing parameters
        self.tracker_params()

    def one_euro(self) -> OneEuroParams:
        try:
            return OneEuroParams(self.smoothing_min_cutoff_hz, self.smoothing_beta,
                                 self.smoothing_d_cutoff_hz)
        except ValueError as exc:
            raise PoseRosError(f"invalid pipeline configuration: {exc}") from None

    def tracker_params(self) -> TrackerParams:
        try:
            return TrackerParams(metric=self.tracking_metric,
                                 min_similarity=self.tracking_min_similarity,
                                 min_hits=self.tracking_min_hits,
                                 max_age_frames=self.tracking_max_age_frames)
        except ValueError as exc:
            raise PoseRosError(f"invalid pipeline configuration: {exc}") from None


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when torch sees a GPU, else "cpu"; a missing CUDA is a clear error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise PoseRosError(f"device {device!r} requested but torch sees no CUDA device: use "
                           f"--device cpu, or install a CUDA build of torch")
    return device


def add_runtime_arguments(parser, *, compare_backends: bool = False) -> None:
    """The PipelineConfig flags every command shares: --device, --precision, --threads,
    --backend, --no-download (argparse dests are the config's field names). With
    compare_backends, --backend takes several values (a list: `pose-ros bench`)."""
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--precision", choices=("fp32", "fp16"), default="fp32")
    parser.add_argument("--threads", type=int, default=0, dest="num_threads",
                        help="torch CPU threads (0: the pipeline's default, 1)")
    parser.add_argument("--backend", choices=BACKENDS, default=["auto"] if compare_backends
                        else "auto", nargs="+" if compare_backends else None,
                        help="where the 2D networks run (auto: onnxruntime on CPU when "
                        "installed, else torch)" + ("; several: compared frame by frame in "
                                                    "one run" if compare_backends else ""))
    parser.add_argument("--no-download", dest="allow_download", action="store_false",
                        help="never download models; fail if they are not cached")


def add_detection_arguments(parser, *, compare: bool = False) -> None:
    """The multi-scale detector's flags (run, bench, eval): --tile-levels, --tile-every,
    --no-body-proposals.
    compare: --tile-levels takes several values (bench runs one pipeline per value)."""
    default = PipelineConfig.tile_levels
    parser.add_argument("--tile-levels", type=int, default=[default] if compare else default,
                        nargs="+" if compare else None,
                        help="levels of overlapping tiles the person detector also searches "
                        "for small people (0: whole frame only; default %(default)s)"
                        + ("; several: compared frame by frame in one run" if compare else ""))
    parser.add_argument("--tile-every", type=int, dest="tile_every_n_frames",
                        default=PipelineConfig.tile_every_n_frames,
                        help="search one tile every N frames (all tiles on the first frame; "
                        "default %(default)s)")
    parser.add_argument("--no-body-proposals", dest="body_proposals", action="store_false",
                        help="do not segment the searched tiles for people the detector misses")


def redetections(found: list[Roi], tracked: list[Roi]) -> np.ndarray:
    """(N,) whether each detector ROI is a tracked person's again: it overlaps a tracked ROI
    (IoU >= DUPLICATE_ROI_IOU), or holds one whole at up to REDETECTION_SCALE x its size. The
    second kind is the detector re-firing on a tracked person with a loose, misplaced ROI
    (arms raised over the head, a ball): the landmark model then draws a second, wrong
    skeleton over that person that agrees with theirs on no joint, so it took a new id (on the
    basketball clip in ../shared/data/video)."""
    a, b = roi_boxes(found), roi_boxes(tracked)
    size_ratio = (a[:, 2] - a[:, 0])[:, None] / np.maximum(b[:, 2] - b[:, 0], 1e-9)[None, :]
    holds = box_inside(np.vstack([b, a]))[:len(b), len(b):].T          # (N found, M tracked)
    return ((box_iou(a, b) >= DUPLICATE_ROI_IOU)
            | ((holds >= REDETECTION_HOLDS) & (size_ratio <= REDETECTION_SCALE))).any(axis=1)


def box_inside(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) boxes -> (N, N): the share of box i's area that lies inside box j."""
    lo = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
    hi = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=2)
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(axis=1)
    return inter / np.maximum(area, 1e-9)[:, None]


def roi_boxes(rois) -> np.ndarray:
    """(N, 4) axis-aligned boxes of square ROIs (rotation ignored: used for overlap only)."""
    if not rois:
        return np.zeros((0, 4))
    arr = np.array([[*r.center_px, r.size_px] for r in rois], dtype=np.float64)
    half = arr[:, 2:3] / 2
    return np.concatenate([arr[:, :2] - half, arr[:, :2] + half], axis=1)


class PoseEstimator:
    """Frame -> list[Person]. Holds the models, the tracker and each tracked person's state
    (`states`: track id -> PersonState); one instance per camera stream."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        from pose_ros.detection import MultiScaleDetector
        from pose_ros.models.blazepose import BlazePose

        self.config = config = config or PipelineConfig()
        self.device = resolve_device(config.device)
        self.topology = get_topology(config.skeleton)
        # the 3D stage first: its checks (weights for the chosen source) fail before the 2D
        # models load
        self.stage3d = Stage3D(config, self.device) if config.enable_3d else None
        self.blazepose = BlazePose(
            detector_model=config.detector_model, landmark_model=config.landmark_model,
            device=self.device, precision=config.precision,
            detection_threshold=config.detection_threshold,
            allow_download=config.allow_download, num_threads=config.num_threads or None,
            backend=config.backend)
        self.backend = self.blazepose.backend
        self.detector = MultiScaleDetector(self.blazepose, tile_levels=config.tile_levels,
                                           tile_every_n_frames=config.tile_every_n_frames)
        self.proposals = None
        if config.body_proposals and config.tile_levels:
            from pose_ros.models.segmentation import PersonSegmenter
            from pose_ros.proposals import BodyProposals
            self.proposals = BodyProposals(PersonSegmenter(
                device=self.device, precision=config.precision, backend=config.backend,
                allow_download=config.allow_download, num_threads=config.num_threads or 1))
        self._from_blazepose = (np.arange(BLAZEPOSE33.num_keypoints)
                                if self.topology is BLAZEPOSE33 else BLAZEPOSE33_TO_COCO17)
        self._from_lifter = lifter_to_topology(self.topology)
        self.tracker = Tracker(config.tracker_params())
        self.states = PersonStates()
        self.hands = None
        if config.enable_hands:
            from pose_ros.stage_hands import HandStage
            self.hands = HandStage(config, self.device)
        self.cues = None
        if config.enable_cues:
            from pose_ros.cues.engine import CueEngine, CueParams, FloorPlane
            floor = (FloorPlane.from_height_pitch(config.camera_height_m,
                                                  config.camera_pitch_deg)
                     if config.camera_height_m > 0 else None)
            self.cues = CueEngine(CueParams(hold_s=config.cue_hold_s), floor)
        self._timings = {stage: deque(maxlen=TIMING_WINDOW) for stage in STAGES}
        self.reset()

    def reset(self) -> None:
        """Forget all tracks (ids restart at 1) and the timing history: a new run."""
        self.tracker.reset()
        self.states.clear()
        self.detector.reset()
        self._frames_since_detection = 0
        self._lost_last_frame = False
        self.last_timings_ms: dict[str, float] = {}
        for samples in self._timings.values():
            samples.clear()

    @contextmanager
    def _stage(self, name: str):
        start = time.perf_counter()
        yield
        ms = (time.perf_counter() - start) * 1e3   # a stage may run twice in a frame: add up
        self.last_timings_ms[name] = self.last_timings_ms.get(name, 0.0) + ms

    def timing_summary(self) -> dict[str, dict[str, float]]:
        """Per stage: p50_ms, p95_ms, mean_ms and count (frames where the stage ran)."""
        out = {}
        for stage, samples in self._timings.items():
            if samples:
                a = np.fromiter(samples, dtype=np.float64)
                out[stage] = {"p50_ms": float(np.percentile(a, 50)),
                              "p95_ms": float(np.percentile(a, 95)),
                              "mean_ms": float(a.mean()), "count": float(len(a))}
        return out

    def model_digests(self) -> dict[str, str]:
        """sha256 of every model file in use, for logs and reproducibility."""
        from pose_ros.models import store

        cfg = self.config
        digests = {
            name: store.sha256_of(store.model_path(model, allow_download=False))
            for name, model in (("detector", cfg.detector_model),
                                ("landmarks", cfg.landmark_model))}
        if self.proposals is not None:
            digests["segmentation"] = store.sha256_of(
                store.model_path("selfie_segmentation", allow_download=False))
        if self.stage3d is not None and self.stage3d.weights_digest() is not None:
            digests["lifter"] = self.stage3d.weights_digest()
        return digests

    def _needs_detection(self) -> bool:
        return (not self.tracker.active or self._lost_last_frame
                or self._frames_since_detection >= self.config.detect_every_n_frames)

    def __call__(self, image: np.ndarray, stamp_s: float, camera=None,
                 depth: np.ndarray | None = None, *, rgb: bool = False) -> list[Person]:
        """People in one frame.

        Args:
            image: (H, W, 3) uint8, BGR (OpenCV, cv_bridge "bgr8") unless rgb=True.
            stamp_s: the image's stamp in seconds (tracking and smoothing use stamp time).
            camera: a sensor_msgs/CameraInfo-like message, a CameraIntrinsics, or None
                (intrinsics guessed from the image size).
            depth: (H, W) aligned depth in metres (NaN or 0 = missing), or None.
        """
        self.last_timings_ms = {}
        start = time.perf_counter()
        frame = self.blazepose.prepare(image, bgr=not rgb)   # no full-frame colour conversion
        results, origins = self._find_people(frame)
        with self._stage("track"):
            tracks = self._track(results, origins, stamp_s)
        published = sorted((t for t in tracks if t.state is TrackState.CONFIRMED),
                           key=lambda t: t.track_id)
        published = [(t, self.states[t.track_id]) for t in published]
        people = self._people(published, frame, stamp_s, camera, depth)
        self.last_timings_ms["total"] = (time.perf_counter() - start) * 1e3
        for stage, ms in self.last_timings_ms.items():
            self._timings[stage].append(ms)
        return people

    def _find_people(self, frame):
        """Landmarks for tracked ROIs plus new detections; (results, origin track or None).

        When a tracked ROI loses its person (a fast mover left it) and the detector did not run
        this frame, it runs now, so the person is found again in this frame rather than the next.
        """
        tracked = [t for t in self.tracker.active if self.states[t.track_id].roi is not None]
        tracked = sorted(tracked, key=lambda t: t.track_id)[: self.config.max_people]
        rois = [self.states[t.track_id].roi for t in tracked]
        height, width = frame.shape[:2]
        lost = [t.bbox_px for t in self.tracker.tracks if t.state is TrackState.LOST]
        tiles = self.detector.due_tiles(width, height, roi_boxes(rois),
                                        np.reshape(lost, (-1, 4)))
        detected = self._needs_detection()
        if detected or len(tiles):
            rois += self._detect(frame, rois, detected, tiles)
        with self._stage("landmarks"):
            results = self.blazepose.landmarks(frame, rois) if rois else []
        origins = tracked + [None] * (len(results) - len(tracked))
        keep = [i for i, r in enumerate(results) if r.presence >= self.config.presence_threshold]
        if not detected and len(keep) < len(results):
            found = self._detect(frame, [rois[i] for i in keep], True, ())
            if found:
                with self._stage("landmarks"):
                    results += self.blazepose.landmarks(frame, found)
                origins += [None] * len(found)
                keep = [i for i, r in enumerate(results)
                        if r.presence >= self.config.presence_threshold]
        self._frames_since_detection += 1
        return [results[i] for i in keep], [origins[i] for i in keep]

    def _detect(self, frame, rois: list, whole_frame: bool = True, tiles=()) -> list:
        """Detector ROIs (whole frame and/or tiles, detection.py) of people not already
        tracked in `rois` (redetections), up to max_people in all."""
        tiles = np.asarray(tiles, int)
        with self._stage("detect"):
            found = self.detector.detect(frame, whole_frame, tiles).rois
        if whole_frame:
            self._frames_since_detection = 0
        if found and rois:
            found = [r for r, d in zip(found, redetections(found, rois), strict=True) if not d]
        if self.proposals is not None and len(tiles):
            with self._stage("proposals"):
                height, width = frame.shape[:2]
                regions = self.detector.tile_boxes(width, height, tiles)
                found += self.proposals(frame, regions, rois + found)
        return found[: max(self.config.max_people - len(rois), 0)]

    def _track(self, results, origins: list[Track | None], stamp_s: float) -> list[Track]:
        """Drop duplicate results, update the tracker and the people's states (next ROI, latest
        landmarks; a missed frame interrupts a state, a removed track drops it).

        Of two results on one person, the one most similar to the track whose ROI it came from
        stays (a re-detection has no origin and yields; a ROI that drifted onto a neighbour
        yields to the neighbour's own result), so duplicates never take or swap ids.
        """
        coco = np.stack([r.keypoints_px[BLAZEPOSE33_TO_COCO17] for r in results]) \
            if results else np.zeros((0, 17, 3))
        boxes = np.array([r.bbox_px for r in results], np.float64).reshape(-1, 4)
        if len(results) > 1:
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            same = keypoint_agreement(coco.astype(np.float64), areas, COCO17_SIGMAS, 0.3)
            sim = self.tracker.similarity(coco, boxes, stamp_s)
            column = {id(t): c for c, t in enumerate(self.tracker.tracks)}
            own = [sim[i, column[id(o)]] if o is not None else -1.0
                   for i, o in enumerate(origins)]
            tracked = np.array([o is not None for o in origins])
            same = (same >= DUPLICATE_AGREEMENT) | (
                ~tracked[:, None] & tracked[None, :] & (box_inside(boxes) >= REDETECTION_INSIDE))
            order = sorted(range(len(results)), key=lambda i: (-own[i], -results[i].presence))
            kept: list[int] = []
            for i in order:
                if not same[i, kept].any():
                    kept.append(i)
            kept.sort()
            results = [results[i] for i in kept]
            origins = [origins[i] for i in kept]
            coco, boxes = coco[kept], boxes[kept]
        update = self.tracker.update(coco, boxes, np.array([r.presence for r in results]),
                                     stamp_s, origins)
        self.states.prune(t.track_id for t in update.removed)
        for track in self.tracker.tracks:
            if not track.matched and track.track_id in self.states:
                self.states[track.track_id].interrupt()
        for track, result in zip(update.tracks, results, strict=True):
            state = self.states.of(track.track_id)
            state.update_roi(result, stamp_s)
            state.landmarks = result
        self._lost_last_frame = bool(update.lost)
        return update.tracks

    def _people(self, tracks: list[tuple[Track, PersonState]], frame, stamp_s: float, camera,
                depth: np.ndarray | None) -> list[Person]:
        """(track, state) pairs -> Person, with 3D placement, hands, smoothing and cues."""
        if not tracks:
            return []
        shape = frame.shape
        states = [s for _, s in tracks]
        keypoints_2d = np.stack([s.landmarks.keypoints_px[self._from_blazepose] for s in states])
        placed = None
        if self.stage3d is not None:
            placed = self.stage3d(states, shape, stamp_s, camera, depth, self._stage)
        hands = [[] for _ in states]
        if self.hands is not None:
            with self._stage("hands"):
                hands = self.hands(frame, states)
        people = []
        with self._stage("smooth"):
            for i, (track, state) in enumerate(tracks):
                kp2d = keypoints_2d[i]
                kp3d, root, source = None, None, DepthSource.NONE
                if placed is not None:
                    joints_m, scores, root, source = placed[i]
                    kp3d = self._published_3d(joints_m, scores)
                if self.config.smoothing:
                    kp2d, kp3d, root = self._smooth(track, state, kp2d, kp3d, root, source,
                                                    stamp_s)
                people.append(Person(track_id=track.track_id, score=track.score,
                                     bbox_px=track.bbox_px, keypoints_2d=kp2d,
                                     keypoints_3d=kp3d, root_camera_m=root,
                                     depth_source=source, hands=hands[i]))
        if self.cues is not None:
            with self._stage("cues"):
                self._cues(people, states, placed, shape, camera, stamp_s)
        return people

    def _cues(self, people: list[Person], states: list[PersonState], placed, shape, camera,
              stamp_s: float) -> None:
        """Each person's cues from the raw BlazePose 2D, the unsmoothed 3D and the hands (the
        cues debounce themselves; smoothing would only delay them)."""
        from pose_ros.cues.body import BodyObservation
        from pose_ros.cues.engine import CueEngine, CueTrack

        intrinsics = self.stage3d.intrinsics(camera, shape) if self.stage3d is not None else None
        for i, (person, state) in enumerate(zip(people, states)):
            joints_m = root = None
            if placed is not None:
                joints_m, _, root, _ = placed[i]
            if state.cues is None:
                state.cues = CueTrack(self.cues.params)
            obs = BodyObservation(person.track_id, stamp_s, state.landmarks.keypoints_px,
                                  joints_m, root, {h.side: h for h in person.hands},
                                  intrinsics)
            person.cues = CueEngine.person_cues(state.cues, obs, self.cues.floor)
        distances = [p.cues.distance_m if p.cues.distance_m is not None else np.inf
                     for p in people]
        if people and np.isfinite(min(distances)):
            people[int(np.argmin(distances))].cues.closest = True

    def _published_3d(self, joints_m: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """(17 lifter joints, 3) + scores -> (K, 4) in the published topology; face joints get
        the head position and score 0."""
        idx = self._from_lifter
        head = H36M17.index("head")
        src = np.where(idx >= 0, idx, head)
        out = np.empty((len(idx), 4), np.float32)
        out[:, :3] = joints_m[src]
        out[:, 3] = np.where(idx >= 0, scores[src], 0.0)
        return out

    def _smooth(self, track: Track, state: PersonState, kp2d, kp3d, root, source,
                stamp_s: float):
        f = state.pose_filters(self.config.one_euro(),
                               source if kp3d is not None else None)
        box = track.bbox_px
        size_px = float(max(box[2] - box[0], box[3] - box[1], 1.0))
        kp2d = f.smooth_2d(kp2d, stamp_s, size_px)
        if kp3d is None:
            return kp2d, None, root
        with_root = np.vstack([kp3d, np.r_[root if root is not None else np.zeros(3), 1.0]])
        smoothed = f.smooth_3d(with_root, stamp_s, 1.0)
        return kp2d, smoothed[:-1], (smoothed[-1, :3].astype(np.float64)
                                      if root is not None else None)
