"""rosbag2 (MCAP or sqlite3) recordings as a frame source, read with rosbags (no ROS needed).

The image topic is sensor_msgs/Image or CompressedImage, chosen by name or, when there is just
one, automatically. Alongside it the source picks up the camera_info of the same camera and an
aligned depth topic when the bag has them, so offline runs place people like the node does.

Topic choice by name: a topic whose name contains "depth" is depth, not colour; among several
depth topics one named "aligned" wins; camera_info is the CameraInfo topic in the image topic's
namespace (or the only one). Depth is paired with the colour frame of the nearest header stamp
(within `depth_tolerance_s`), looking one message ahead since drivers often log depth just after
colour; depth of another size than the image is not aligned and is ignored.

A message that cannot be deserialized or decoded is not fatal: an image becomes a `BadFrame`
naming its topic, position and stamp; a bad depth image or camera_info is left out with a
warning. A recording that cannot be read to its end (a truncated MCAP, a damaged sqlite3 file)
ends the frames there and says how far it got in `end_problem`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from rosbags.highlevel import AnyReader

from pose_ros.errors import PoseRosError
from pose_ros.io import image_codec
from pose_ros.io.sources import DEFAULT_FRAME_ID, BadFrame, Frame, Source
from pose_ros.ros.msgdefs import typestore

log = logging.getLogger(__name__)

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"


def _stamp_ns(msg, log_time_ns: int) -> int:
    """Header stamp in ns; the recording time when a driver leaves the stamp at zero."""
    stamp = msg.header.stamp
    ns = int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)
    return ns if ns > 0 else int(log_time_ns)


def _size(msg) -> tuple[int, int]:
    """(width, height) an Image message claims; (0, 0) for others."""
    try:
        return int(getattr(msg, "width", 0)), int(getattr(msg, "height", 0))
    except (TypeError, ValueError):
        return 0, 0


def _namespace(topic: str) -> str:
    return str(PurePosixPath(topic).parent)


def _is_depth(topic: str) -> bool:
    return "depth" in topic.lower()


class BagSource(Source):
    """Frames of one image topic of a rosbag2 recording, with camera_info and aligned depth."""

    def __init__(self, path: Path, *, topic: str | None = None, depth_topic: str | None = None,
                 camera_info_topic: str | None = None, depth_tolerance_s: float = 0.03) -> None:
        self.path = path
        self.depth_tolerance_ns = int(depth_tolerance_s * 1e9)
        self._warned_unaligned = False
        self._warned: set[str] = set()
        try:
            self.reader = AnyReader([path], default_typestore=typestore())
            self.reader.open()
        except Exception as err:  # noqa: BLE001 - a damaged file raises anything; name it
            raise PoseRosError(f"cannot read bag {path}: {err or type(err).__name__} (not a "
                               f"rosbag2 recording, or damaged; a pose-ros recording killed "
                               f"mid-run is repaired by `pose-ros recover`)") from None
        try:
            self._choose_topics(topic, depth_topic, camera_info_topic)
        except PoseRosError:
            self.reader.close()
            raise

    def _connections(self, types: tuple[str, ...]) -> dict[str, list]:
        found: dict[str, list] = {}
        for conn in self.reader.connections:
            if conn.msgtype in types:
                found.setdefault(conn.topic, []).append(conn)
        return found

    def _choose_topics(self, topic: str | None, depth_topic: str | None,
                       camera_info_topic: str | None) -> None:
        images = self._connections(IMAGE_TYPES)
        listing = ", ".join(f"{t} ({c[0].msgtype.rsplit('/', 1)[-1]})"
                            for t, c in sorted(images.items())) or "none"
        if not images:
            all_topics = ", ".join(sorted({c.topic for c in self.reader.connections})) or "none"
            raise PoseRosError(
                f"bag {self.path} has no image topics (sensor_msgs/Image or CompressedImage); "
                f"its topics: {all_topics}")
        if topic:
            if topic not in images:
                raise PoseRosError(
                    f"topic {topic!r} is not an image topic of bag {self.path}; image topics: "
                    f"{listing}")
        else:
            colour = [t for t in images if not _is_depth(t)]
            if len(colour) != 1:
                raise PoseRosError(
                    f"bag {self.path} has {len(colour) or 'no'} colour image topics; choose one "
                    f"with --topic. Image topics: {listing}")
            topic = colour[0]
        self.topic = topic
        self.image_connections = images[topic]

        self.depth_connections = []
        if depth_topic:
            if depth_topic not in images:
                raise PoseRosError(
                    f"depth topic {depth_topic!r} is not an image topic of bag {self.path}; "
                    f"image topics: {listing}")
            self.depth_connections = images[depth_topic]
        elif depth_topic is None:
            depth = [t for t in images if _is_depth(t) and t != topic
                     and images[t][0].msgtype.endswith("/Image")]
            aligned = [t for t in depth if "aligned" in t.lower()] or depth
            if len(aligned) == 1:
                depth_topic = aligned[0]
                self.depth_connections = images[depth_topic]
            elif aligned:
                log.warning("several depth topics (%s): using none; choose one with "
                            "--depth-topic", ", ".join(aligned))
        self.depth_topic = depth_topic or None

        infos = self._connections((CAMERA_INFO_TYPE,))
        self.info_connections = []
        if camera_info_topic:
            if camera_info_topic not in infos:
                raise PoseRosError(
                    f"{camera_info_topic!r} is not a CameraInfo topic of bag {self.path}; "
                    f"CameraInfo topics: {', '.join(sorted(infos)) or 'none'}")
        elif camera_info_topic is None:
            same_ns = [t for t in infos if _namespace(t) == _namespace(topic)]
            not_depth = [t for t in infos if not _is_depth(t)]
            pick = same_ns or (not_depth if len(not_depth) == 1 else [])
            camera_info_topic = pick[0] if len(pick) == 1 else None
        if camera_info_topic:
            self.info_connections = infos[camera_info_topic]
        self.camera_info_topic = camera_info_topic or None

        self.num_frames = sum(c.msgcount for c in self.image_connections)
        if self.num_frames == 0:
            raise PoseRosError(f"image topic {topic!r} of bag {self.path} has no messages")
        extras = [f"depth {self.depth_topic}" if self.depth_topic else "",
                  f"camera_info {self.camera_info_topic}" if self.camera_info_topic else ""]
        self.description = f"bag {self.path} topic {topic} " + " ".join(e for e in extras if e)

    def _warn_once(self, key: str, text: str, *args) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(text, *args)

    def _messages(self, wanted) -> Iterator[tuple]:
        """(connection, log time, message or the deserialization error) until the bag ends or
        cannot be read further (then `end_problem` says where)."""
        read = 0
        stream = self.reader.messages(connections=wanted)
        while True:
            try:
                conn, log_time_ns, raw = next(stream)
            except StopIteration:
                return
            except Exception as err:  # noqa: BLE001 - damaged storage raises anything
                why = str(err) or type(err).__name__
                self.end_problem = (f"bag {self.path} could not be read past message {read} "
                                    f"({why}); the frames before it were used")
                return
            read += 1
            try:
                msg = self.reader.deserialize(raw, conn.msgtype)
            except Exception as err:  # noqa: BLE001 - garbage bytes raise anything
                msg = PoseRosError(f"cannot deserialize this {conn.msgtype} message "
                                   f"({type(err).__name__}: {err})")
            yield conn, log_time_ns, msg

    def __iter__(self) -> Iterator[Frame | BadFrame]:
        image_ids = {c.id for c in self.image_connections}
        depth_ids = {c.id for c in self.depth_connections}
        wanted = self.image_connections + self.depth_connections + self.info_connections
        camera_info = None
        pending = None            # (stamp_ns, image msg, camera_info) waiting for its depth
        prev_depth = None         # (stamp_ns, depth msg)
        index = 0
        for conn, log_time_ns, msg in self._messages(wanted):
            if conn.id in image_ids:
                if pending is not None:
                    yield self._frame(index, pending, prev_depth, None)
                    index += 1
                stamp_ns = (log_time_ns if isinstance(msg, PoseRosError)
                            else _stamp_ns(msg, log_time_ns))
                pending = (stamp_ns, msg, camera_info)
            elif isinstance(msg, PoseRosError):
                self._warn_once(conn.topic, "a message on %s could not be used: %s; left out",
                                conn.topic, msg)
            elif conn.id in depth_ids:
                depth = (_stamp_ns(msg, log_time_ns), msg)
                if pending is not None and depth[0] >= pending[0]:
                    yield self._frame(index, pending, prev_depth, depth)
                    index += 1
                    pending = None
                prev_depth = depth
            else:
                camera_info = msg
                if pending is not None and pending[2] is None:
                    pending = (pending[0], pending[1], msg)
        if pending is not None:
            yield self._frame(index, pending, prev_depth, None)

    def _frame(self, index: int, pending, before, after) -> Frame | BadFrame:
        stamp_ns, msg, camera_info = pending
        try:
            if isinstance(msg, PoseRosError):
                raise msg
            image = image_codec.decode_bgr(msg)
        except PoseRosError as err:
            return BadFrame(index, stamp_ns, f"message {index} on {self.topic} stamped "
                            f"{stamp_ns * 1e-9:.6f} s", str(err),
                            *_size(msg))
        candidates = [d for d in (before, after)
                      if d is not None and abs(d[0] - stamp_ns) <= self.depth_tolerance_ns]
        depth_m = None
        if candidates:
            _, depth_msg = min(candidates, key=lambda d: abs(d[0] - stamp_ns))
            try:
                depth_m = image_codec.decode_depth(depth_msg)
            except PoseRosError as err:
                self._warn_once("depth-decode", "depth on %s stamped %.6f s: %s; frames go "
                                "without depth where it cannot be decoded", self.depth_topic,
                                stamp_ns * 1e-9, err)
            if depth_m is not None and depth_m.shape != image.shape[:2]:
                if not self._warned_unaligned:
                    self._warned_unaligned = True
                    log.warning("depth %s is %s, image is %s: not aligned, ignored",
                                self.depth_topic, depth_m.shape[::-1], image.shape[1::-1])
                depth_m = None
        frame_id = str(msg.header.frame_id).lstrip("/") or DEFAULT_FRAME_ID
        return Frame(index=index, stamp_ns=stamp_ns, image_bgr=image, frame_id=frame_id,
                     camera_info=camera_info, depth_m=depth_m)

    def close(self) -> None:
        if self.reader.stack is not None:
            self.reader.close()
