"""Outputs of the offline runner, all in one folder: poses.jsonl, annotated.mp4, poses/ (rosbag2).

- poses.jsonl: one JSON object per source frame in the format of DESIGN.md (POSES_JSONL_SCHEMA
  below); a frame that could not be used has `people: []` and `skipped` (the reason).
- annotated.mp4: the frames with skeletons, ids and distances drawn (H.264, fragmented MP4).
- poses/: a rosbag2 recording with storage MCAP (poses/poses.mcap + poses/metadata.yaml) holding
  /pose/skeletons (pose_ros/msg/SkeletonArray), /pose/markers (visualization_msgs/MarkerArray),
  /pose/cues (pose_ros/msg/CuesArray, when the pipeline computes cues) and, by default,
  /pose/image_annotated/compressed (sensor_msgs/CompressedImage, JPEG), every message stamped
  with its source image's stamp. `ros2 bag play poses` replays it; Foxglove
  opens poses/poses.mcap.

Every output survives a kill: each JSONL line is one write() of a whole line, the video is
fragmented, the MCAP is written in chunks closed every half second (`pose-ros recover` finishes
a killed one). Existing outputs are never overwritten unless `force`; the check runs before
anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.io.cues_record import CUES_JSON_SCHEMA, cues_record
from pose_ros.io.image_codec import compressed_fields, image_fields
from pose_ros.io.recording import BagRecorder
from pose_ros.io.sources import BadFrame
from pose_ros.io.video import FragmentedMp4Writer
from pose_ros.person import DepthSource, FramePoses
from pose_ros.ros.cue_messages import cues_array_msg
from pose_ros.ros.markers import MarkerStyle, marker_array_msg
from pose_ros.ros.messages import RosbagsFactory, header_msg, skeleton_array_msg
from pose_ros.ros.msgdefs import typestore

JSONL_NAME, VIDEO_NAME, BAG_NAME = "poses.jsonl", "annotated.mp4", "poses"
TOPIC_SKELETONS, TOPIC_MARKERS, TOPIC_IMAGE = (
    "/pose/skeletons", "/pose/markers", "/pose/image_annotated")
TOPIC_IMAGE_COMPRESSED = TOPIC_IMAGE + "/compressed"     # image_transport's naming
TOPIC_CUES = "/pose/cues"
MCAP_IMAGES = ("jpeg", "raw", "none")                    # the annotated image in the MCAP
JPEG_QUALITY = 80
DEPTH_SOURCE_NAMES = {DepthSource.NONE: "none", DepthSource.IMAGE: "depth",
                      DepthSource.MONOCULAR: "monocular"}

_NUMBER = {"type": "number"}
_XYZ = {"type": "array", "items": _NUMBER, "minItems": 3, "maxItems": 3}
POSES_JSONL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pose-ros run: one line of poses.jsonl (one source frame)",
    "type": "object",
    "required": ["frame", "stamp", "width", "height", "skeleton", "keypoint_names", "people"],
    "additionalProperties": False,
    "properties": {
        "frame": {"type": "integer", "minimum": 0},
        "stamp": _NUMBER,
        "width": {"type": "integer", "minimum": 0},     # 0 only on a skipped frame of unknown size
        "height": {"type": "integer", "minimum": 0},
        "skipped": {"type": "string", "minLength": 1},  # only on a frame that could not be used
        "skeleton": {"type": "string"},
        "keypoint_names": {"type": "array", "items": {"type": "string"}},
        "people": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "score", "bbox", "keypoints", "keypoints_3d", "root",
                         "depth_source"],
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1},
                "score": {"type": "number", "minimum": 0, "maximum": 1},
                "bbox": {"type": "array", "items": _NUMBER, "minItems": 4, "maxItems": 4},
                "keypoints": {"type": "array", "items": _XYZ},
                "keypoints_3d": {"oneOf": [{"type": "null"}, {"type": "array", "items": {
                    "type": "array", "items": _NUMBER, "minItems": 4, "maxItems": 4}}]},
                "root": {"oneOf": [{"type": "null"}, _XYZ]},
                "depth_source": {"enum": ["none", "depth", "monocular"]},
                "cues": CUES_JSON_SCHEMA,   # optional: cues and hands (cues_record.py)
            },
        }},
    },
}


def skipped_record(bad: BadFrame, skeleton: str, keypoint_names) -> dict[str, Any]:
    """A poses.jsonl line for a frame that could not be used: no people, and why."""
    return {"frame": int(bad.index), "stamp": bad.stamp_ns * 1e-9, "width": int(bad.width),
            "height": int(bad.height), "skeleton": skeleton,
            "keypoint_names": list(keypoint_names), "people": [],
            "skipped": f"{bad.where}: {bad.reason}"}


def output_paths(out_dir: Path, *, jsonl: bool, video: bool, mcap: bool) -> dict[str, Path]:
    """The outputs that will be written, by kind."""
    chosen = {"jsonl": (jsonl, JSONL_NAME), "video": (video, VIDEO_NAME), "mcap": (mcap, BAG_NAME)}
    return {kind: Path(out_dir) / name for kind, (on, name) in chosen.items() if on}


def prepare_outputs(paths: dict[str, Path], force: bool) -> None:
    """Refuse to touch existing outputs unless force; with force, remove them. Writes nothing else.

    Called before the run starts, so a refused run leaves the folder exactly as it was.
    """
    existing = [p for p in paths.values() if p.exists()]
    if existing and not force:
        raise PoseRosError(
            f"output exists: {', '.join(str(p) for p in existing)}; pass --force to overwrite "
            f"or choose another --out folder")
    for path in existing:
        if path.is_dir():
            if not (path / "metadata.yaml").exists() and not any(path.glob("*.mcap")):
                raise PoseRosError(f"{path} is a folder but not a bag; not removing it")
            shutil.rmtree(path)
        else:
            path.unlink()


def _round(values: np.ndarray, digits: int) -> list:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def frame_record(frame_index: int, poses: FramePoses) -> dict[str, Any]:
    """One frame in the poses.jsonl format (pixels to 0.01 px, metres to 0.1 mm)."""
    people = []
    for p in poses.people:
        people.append({
            "id": int(p.track_id),
            "score": round(float(p.score), 4),
            "bbox": _round(p.bbox_px, 2),
            "keypoints": [[round(x, 2), round(y, 2), round(s, 4)]
                          for x, y, s in p.keypoints_2d.astype(np.float64).tolist()],
            "keypoints_3d": None if p.keypoints_3d is None else [
                [round(x, 4), round(y, 4), round(z, 4), round(s, 4)]
                for x, y, z, s in p.keypoints_3d.astype(np.float64).tolist()],
            "root": None if p.root_camera_m is None else _round(p.root_camera_m, 4),
            "depth_source": DEPTH_SOURCE_NAMES[p.depth_source],
            "cues": cues_record(p),
        })
    return {"frame": int(frame_index), "stamp": poses.stamp_ns * 1e-9, "width": poses.width,
            "height": poses.height, "skeleton": poses.skeleton,
            "keypoint_names": list(poses.keypoint_names), "people": people}


class JsonlSink:
    """poses.jsonl; each line goes to the file in one write(), so a kill never leaves half a
    line and a reader following the file sees whole frames."""

    def __init__(self, path: Path, skeleton: str = "", keypoint_names=()) -> None:
        self.path = path
        self.skeleton, self.keypoint_names = skeleton, tuple(keypoint_names)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)

    def _write_line(self, record: dict) -> None:
        data = (json.dumps(record, allow_nan=False) + "\n").encode()
        while data:
            data = data[os.write(self._fd, data):]

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        self._write_line(frame_record(frame_index, poses))

    def write_skipped(self, bad: BadFrame) -> None:
        self._write_line(skipped_record(bad, self.skeleton, self.keypoint_names))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class VideoSink:
    """annotated.mp4; its size is the first frame's, its rate the source's (30 fps if unknown)."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = path
        self._writer = FragmentedMp4Writer(path, fps)

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        assert annotated_bgr is not None
        self._writer.write(annotated_bgr)

    def close(self) -> None:
        self._writer.close()


class McapSink:
    """rosbag2 folder with storage MCAP: skeletons, markers, cues and the annotated image.

    images: "jpeg" (CompressedImage on TOPIC_IMAGE_COMPRESSED, the default: a tenth of the
    raw size), "raw" (Image bgr8 on TOPIC_IMAGE) or "none". cues: also record TOPIC_CUES
    (CuesArray, one per frame, as the node's ~/cues); for a pipeline with enable_cues.
    """

    def __init__(self, path: Path, marker_style: MarkerStyle | None = None,
                 images: str = "jpeg", cues: bool = False) -> None:
        if images not in MCAP_IMAGES:
            raise PoseRosError(f"MCAP images {images!r}: use one of {', '.join(MCAP_IMAGES)}")
        self.path = path
        self.images = images
        self.cues = cues
        self.typestore = typestore()
        self.factory = RosbagsFactory(self.typestore)
        self.marker_style = marker_style or MarkerStyle()
        self._recorder = BagRecorder(path)
        topics = [(TOPIC_SKELETONS, "pose_ros/msg/SkeletonArray"),
                  (TOPIC_MARKERS, "visualization_msgs/msg/MarkerArray")]
        if cues:
            topics.append((TOPIC_CUES, "pose_ros/msg/CuesArray"))
        if images == "jpeg":
            topics.append((TOPIC_IMAGE_COMPRESSED, "sensor_msgs/msg/CompressedImage"))
        elif images == "raw":
            topics.append((TOPIC_IMAGE, "sensor_msgs/msg/Image"))
        self._topics = {name: self._recorder.add_typestore_topic(name, msgtype, self.typestore)
                        for name, msgtype in topics}

    @property
    def needs_annotated(self) -> bool:
        return self.images != "none"

    def _write(self, topic: str, msg: Any, stamp_ns: int) -> None:
        data = self.typestore.serialize_cdr(msg, msg.__msgtype__)
        self._recorder.write(self._topics[topic], stamp_ns, bytes(data))

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        f = self.factory
        self._write(TOPIC_SKELETONS, skeleton_array_msg(f, poses), poses.stamp_ns)
        self._write(TOPIC_MARKERS, marker_array_msg(f, poses, self.marker_style), poses.stamp_ns)
        if self.cues:
            self._write(TOPIC_CUES, cues_array_msg(f, poses), poses.stamp_ns)
        if annotated_bgr is None or self.images == "none":
            return
        header = header_msg(f, poses.stamp_ns, poses.frame_id)
        if self.images == "jpeg":
            image = f("sensor_msgs/msg/CompressedImage", header=header,
                      **compressed_fields(annotated_bgr, "jpeg", JPEG_QUALITY))
            self._write(TOPIC_IMAGE_COMPRESSED, image, poses.stamp_ns)
        else:
            image = f("sensor_msgs/msg/Image", header=header,
                      **image_fields(annotated_bgr, "bgr8"))
            self._write(TOPIC_IMAGE, image, poses.stamp_ns)

    def close(self) -> None:
        self._recorder.close()


class Sinks:
    """The chosen outputs together; `needs_annotated` says whether to draw frames at all.

    skeleton / keypoint_names fill the poses.jsonl lines of skipped frames; cues: the MCAP also
    records /pose/cues (the pipeline computes cues).
    """

    def __init__(self, paths: dict[str, Path], fps: float | None,
                 marker_style: MarkerStyle | None = None, *, mcap_images: str = "jpeg",
                 skeleton: str = "", keypoint_names=(), cues: bool = False) -> None:
        self.sinks: list[Any] = []
        self.jsonl: JsonlSink | None = None
        try:
            for path in paths.values():
                path.parent.mkdir(parents=True, exist_ok=True)
            if "jsonl" in paths:
                self.jsonl = JsonlSink(paths["jsonl"], skeleton, keypoint_names)
                self.sinks.append(self.jsonl)
            if "video" in paths:
                self.sinks.append(VideoSink(paths["video"], fps))
            if "mcap" in paths:
                self.sinks.append(McapSink(paths["mcap"], marker_style, mcap_images, cues=cues))
        except OSError as exc:
            self.close()
            raise PoseRosError(f"cannot create the outputs: {exc.strerror or exc} "
                               f"({exc.filename or ''})") from None
        except BaseException:
            self.close()
            raise
        self.needs_annotated = "video" in paths or any(
            getattr(s, "needs_annotated", False) for s in self.sinks)

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        for sink in self.sinks:
            sink.write(frame_index, poses, annotated_bgr)

    def write_skipped(self, bad: BadFrame) -> None:
        if self.jsonl is not None:
            self.jsonl.write_skipped(bad)

    def close(self) -> None:
        """Close every sink, even when one fails; the first failure is raised after."""
        failure = None
        for sink in self.sinks:
            try:
                sink.close()
            except BaseException as exc:  # noqa: BLE001 - the others must still close
                failure = failure or exc
        self.sinks = []
        if failure is not None:
            raise failure

    def __enter__(self) -> Sinks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
