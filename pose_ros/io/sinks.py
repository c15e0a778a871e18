"""Outputs of the offline runner, all in one folder: poses.jsonl, annotated.mp4, poses/ (rosbag2).

- poses.jsonl: one JSON object per frame in the format of DESIGN.md (POSES_JSONL_SCHEMA below).
- annotated.mp4: the source frames with skeletons, ids and distances drawn (OpenCV, mp4v).
- poses/: a rosbag2 recording with storage MCAP (poses/poses.mcap + poses/metadata.yaml) holding
  /pose/skeletons (pose_ros/msg/SkeletonArray), /pose/markers (visualization_msgs/MarkerArray)
  and /pose/image_annotated (sensor_msgs/Image bgr8), every message stamped with its source
  image's stamp. `ros2 bag play poses` replays it; Foxglove opens poses/poses.mcap.

Existing outputs are never overwritten unless `force`; the check runs before anything is written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode

from pose_ros.errors import PoseRosError
from pose_ros.io.image_codec import image_fields
from pose_ros.markers import MarkerStyle, marker_array_msg
from pose_ros.messages import RosbagsFactory, header_msg, skeleton_array_msg
from pose_ros.msgdefs import typestore
from pose_ros.person import DepthSource, FramePoses

JSONL_NAME, VIDEO_NAME, BAG_NAME = "poses.jsonl", "annotated.mp4", "poses"
TOPIC_SKELETONS, TOPIC_MARKERS, TOPIC_IMAGE = (
    "/pose/skeletons", "/pose/markers", "/pose/image_annotated")
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
        "width": {"type": "integer", "minimum": 1},
        "height": {"type": "integer", "minimum": 1},
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
            },
        }},
    },
}


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
        })
    return {"frame": int(frame_index), "stamp": poses.stamp_ns * 1e-9, "width": poses.width,
            "height": poses.height, "skeleton": poses.skeleton,
            "keypoint_names": list(poses.keypoint_names), "people": people}


class JsonlSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("x", encoding="utf-8")

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        self._file.write(json.dumps(frame_record(frame_index, poses), allow_nan=False) + "\n")

    def close(self) -> None:
        self._file.close()


class VideoSink:
    """annotated.mp4; its size is the first frame's, its rate the source's (30 fps if unknown)."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = path
        self.fps = fps if fps and fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        assert annotated_bgr is not None
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = annotated_bgr.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"),
                                           self.fps, (width, height))
            if not self._writer.isOpened():
                raise PoseRosError(f"OpenCV cannot write {self.path} (no mp4v encoder?)")
            self._size = (width, height)
        if annotated_bgr.shape[1::-1] != self._size:
            annotated_bgr = cv2.resize(annotated_bgr, self._size)
        self._writer.write(annotated_bgr)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


class McapSink:
    """rosbag2 folder with storage MCAP (zstd chunks): skeletons, markers, annotated image."""

    def __init__(self, path: Path, marker_style: MarkerStyle | None = None) -> None:
        self.path = path
        self.typestore = typestore()
        self.factory = RosbagsFactory(self.typestore)
        self.marker_style = marker_style or MarkerStyle()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        self._writer.open()
        self._conns = {
            topic: self._writer.add_connection(topic, msgtype, typestore=self.typestore)
            for topic, msgtype in ((TOPIC_SKELETONS, "pose_ros/msg/SkeletonArray"),
                                   (TOPIC_MARKERS, "visualization_msgs/msg/MarkerArray"),
                                   (TOPIC_IMAGE, "sensor_msgs/msg/Image"))}

    def _write(self, topic: str, msg: Any, stamp_ns: int) -> None:
        data = self.typestore.serialize_cdr(msg, msg.__msgtype__)
        self._writer.write(self._conns[topic], stamp_ns, data)

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        f = self.factory
        self._write(TOPIC_SKELETONS, skeleton_array_msg(f, poses), poses.stamp_ns)
        self._write(TOPIC_MARKERS, marker_array_msg(f, poses, self.marker_style), poses.stamp_ns)
        if annotated_bgr is not None:
            image = f("sensor_msgs/msg/Image", header=header_msg(f, poses.stamp_ns,
                                                                 poses.frame_id),
                      **image_fields(annotated_bgr, "bgr8"))
            self._write(TOPIC_IMAGE, image, poses.stamp_ns)

    def close(self) -> None:
        self._writer.close()


class Sinks:
    """The chosen outputs together; `needs_annotated` says whether to draw frames at all."""

    def __init__(self, paths: dict[str, Path], fps: float | None,
                 marker_style: MarkerStyle | None = None) -> None:
        self.sinks: list[Any] = []
        try:
            if "jsonl" in paths:
                self.sinks.append(JsonlSink(paths["jsonl"]))
            if "video" in paths:
                self.sinks.append(VideoSink(paths["video"], fps))
            if "mcap" in paths:
                self.sinks.append(McapSink(paths["mcap"], marker_style))
        except BaseException:
            self.close()
            raise
        self.needs_annotated = "video" in paths or "mcap" in paths

    def write(self, frame_index: int, poses: FramePoses, annotated_bgr: np.ndarray | None) -> None:
        for sink in self.sinks:
            sink.write(frame_index, poses, annotated_bgr)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()

    def __enter__(self) -> Sinks:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
