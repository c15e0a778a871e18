"""pose_node under rclpy: a real photograph in, skeletons, cues, markers, TF, diagnostics and
REP-155 bodies out.

Each test starts PoseNode in this process (its own namespace, one shared rclpy context) beside a
peer node that publishes skimage's astronaut photograph as sensor_msgs/Image (or
CompressedImage) with a CameraInfo, and records what pose_node publishes, including its /rosout
log lines. The shutdown and install tests run the installed executables as processes.
Registered with ament_add_pytest_test: `colcon test --packages-select pose_ros`. Needs a sourced
ROS 2 and this package built (its generated pose_ros.msg); skips otherwise.
"""

from __future__ import annotations

import array
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip(
    "rclpy", reason="rclpy is not importable: source a ROS 2 install (/opt/ros/*/setup.bash)")
pytest.importorskip(
    "pose_ros.msg", reason="pose_ros.msg is not generated here: colcon build this package, source "
    "its install/setup.bash and run the test outside the source tree (or `colcon test`)")
skimage_data = pytest.importorskip(
    "skimage.data", reason="scikit-image is not installed (pip install scikit-image)")

import cv2  # noqa: E402
from ament_index_python.packages import (  # noqa: E402
    get_package_prefix,
    get_package_share_directory,
)
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from pose_ros.msg import Cue, CuesArray, Skeleton, SkeletonArray  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from pose_ros.errors import PoseRosError  # noqa: E402
from pose_ros.io.image_codec import compressed_fields, image_fields  # noqa: E402
from pose_ros.models import store  # noqa: E402
from pose_ros.ros.node import PoseNode  # noqa: E402
from pose_ros.skeleton import COCO17, HAND21  # noqa: E402

FRAME_ID = "camera_color_optical_frame"
FOCAL_PX = 450.0          # a plausible K for the 512 x 512 photograph (about 60 degrees wide)
WAIT_S = 60.0             # model start-up and a few frames on a busy 2-core CPU fit easily
FEED_PERIOD_S = 0.2


@pytest.fixture(scope="module")
def context():
    ctx = rclpy.context.Context()
    rclpy.init(context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.fixture(scope="module")
def photo_bgr() -> np.ndarray:
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


def camera_info(stamp, width: int, height: int, focal_px: float = FOCAL_PX) -> CameraInfo:
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.header.stamp, msg.header.frame_id = stamp, FRAME_ID
    msg.k = [focal_px, 0.0, width / 2, 0.0, focal_px, height / 2, 0.0, 0.0, 1.0]
    msg.p = [focal_px, 0.0, width / 2, 0.0, 0.0, focal_px, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.d = [0.0] * 5
    return msg


def stamp_key(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def uint8_array(data: np.ndarray) -> array.array:
    """A uint8[] field for rclpy: array.array is its fast path (other sequences: item by item)."""
    return array.array("B", np.ascontiguousarray(data).tobytes())


class Rig:
    """A PoseNode in namespace `ns` and a peer node that feeds it and records its outputs.

    `before_start(peer)` runs once the peer exists and before PoseNode starts (latched topics).
    """

    def __init__(self, context, ns: str, before_start=None, **params) -> None:
        overrides = [Parameter(k, value=v) for k, v in {"device": "cpu", **params}.items()]
        self.ns = ns
        self.peer = p = rclpy.create_node("test_peer", namespace=ns, context=context)
        self.lock = threading.Lock()
        self.received: dict[str, list] = {
            k: [] for k in ("skeletons", "markers", "annotated", "log", "diag", "tf", "cues")}
        self.sent: dict[tuple[int, int], str] = {}   # stamp -> what was published with it
        self.pub_image = p.create_publisher(Image, "image", 5)
        self.pub_compressed = p.create_publisher(CompressedImage, "image/compressed", 5)
        self.pub_info = p.create_publisher(CameraInfo, "camera_info", 5)
        self.pub_depth = p.create_publisher(Image, "depth", 5)
        for key, msg_type, topic in (
                ("skeletons", SkeletonArray, "pose_node/skeletons"),
                ("markers", MarkerArray, "pose_node/markers"),
                ("annotated", Image, "pose_node/image_annotated"),
                ("diag", DiagnosticArray, "/diagnostics"),
                ("tf", TFMessage, "/tf"),
                ("cues", CuesArray, "pose_node/cues")):
            p.create_subscription(msg_type, topic, self._recorder(key), 10)
        # transient_local like rosout itself: lines logged before the match (start-up) arrive.
        p.create_subscription(Log, "/rosout", self._recorder("log"), QoSProfile(
            depth=1000, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))
        if before_start is not None:
            before_start(p)
        self.pose = PoseNode(context=context, namespace=ns, parameter_overrides=overrides)
        self.set_params = p.create_client(SetParameters, "pose_node/set_parameters")
        self.executor = MultiThreadedExecutor(context=context)
        self.executor.add_node(self.pose)
        self.executor.add_node(p)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    def listen(self, key: str, msg_type, topic: str) -> None:
        """Also record `topic` (e.g. one only known once the node publishes) under `key`."""
        with self.lock:
            self.received.setdefault(key, [])
        self.peer.create_subscription(msg_type, topic, self._recorder(key), 10)

    def publishers_of(self, topic: str) -> list:
        """The publishers of `topic` that belong to this rig's pose_node (ROS graph)."""
        return [e for e in self.peer.get_publishers_info_by_topic(topic)
                if e.node_name == "pose_node" and e.node_namespace == self.ns]

    def stamped(self, key: str, stamp: tuple[int, int], timeout_s: float = 5.0):
        """The first message under `key` with header stamp `stamp`, waiting up to timeout_s."""
        return self.wait(lambda: next((m for m in self.got(key)
                                       if stamp_key(m.header) == stamp), None), timeout_s)

    def _recorder(self, key: str):
        def record(msg) -> None:
            with self.lock:
                self.received[key].append(msg)
        return record

    def got(self, key: str) -> list:
        with self.lock:
            return list(self.received[key])

    def logs(self, level: int | None = None, node: str = "pose_node") -> list[str]:
        """This rig's log lines of `node` (logger name `<ns>.<node>`)."""
        name = self.ns.strip("/").replace("/", ".") + "." + node
        return [m.msg for m in self.got("log")
                if m.name == name and (level is None or m.level == level)]

    def status(self, predicate=lambda s: True, after: int = 0):
        """The newest /diagnostics status of this rig's node (from the `after`-th array on)
        that satisfies `predicate`, or None."""
        name = f"{self.ns}/pose_node: pose estimation"
        return next((st for a in reversed(self.got("diag")[after:]) for st in a.status
                     if st.name == name and predicate(st)), None)

    def publish(self, photo_bgr: np.ndarray, *, info: bool = True, compressed: bool = False,
                depth_m: float | None = None, depth_offset_s: float = 0.0,
                depth_shape: tuple[int, int] | None = None, encoding: str | None = None,
                zero_stamp: bool = False, info_k: list | None = None,
                mutate=None) -> tuple[int, int]:
        """One frame (and its CameraInfo / depth) with a fresh stamp; returns the stamp.

        depth_offset_s shifts the depth image's stamp; depth_shape (h, w) gives it another
        size; zero_stamp publishes the image with stamp 0; info_k replaces K; mutate(msg)
        corrupts the image message before it goes out."""
        stamp = self.peer.get_clock().now().to_msg()
        height, width = photo_bgr.shape[:2]
        if info:
            info_msg = camera_info(stamp, width, height)
            if info_k is not None:
                info_msg.k = info_k
            self.pub_info.publish(info_msg)
        if depth_m is not None:
            dh, dw = depth_shape or (height, width)
            depth = Image(height=dh, width=dw, encoding="16UC1", is_bigendian=0, step=dw * 2)
            depth.data = uint8_array(np.full((dh, dw), depth_m * 1e3, np.uint16))
            ns = stamp.sec * 1_000_000_000 + stamp.nanosec + int(depth_offset_s * 1e9)
            depth.header.stamp.sec, depth.header.stamp.nanosec = divmod(ns, 1_000_000_000)
            depth.header.frame_id = FRAME_ID
            self.pub_depth.publish(depth)
        if compressed:
            fields = compressed_fields(photo_bgr)
            msg = CompressedImage(**{**fields, "data": uint8_array(fields["data"])})
        else:
            fields = image_fields(photo_bgr)
            msg = Image(**{**fields, "data": uint8_array(fields["data"])})
            if encoding is not None:
                msg.encoding = encoding
        msg.header.stamp, msg.header.frame_id = stamp, FRAME_ID
        if zero_stamp:
            msg.header.stamp.sec = msg.header.stamp.nanosec = 0
        if mutate is not None:
            mutate(msg)
        (self.pub_compressed if compressed else self.pub_image).publish(msg)
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.sent[key] = encoding or ("jpeg" if compressed else "bgr8")
        return key

    def feed_until(self, predicate, photo_bgr: np.ndarray, timeout_s: float = WAIT_S, **kw):
        """Publish frames every FEED_PERIOD_S until `predicate()` holds; its last value."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.publish(photo_bgr, **kw)
            time.sleep(FEED_PERIOD_S)
            if result := predicate():
                return result
        return predicate()

    def wait(self, predicate, timeout_s: float = WAIT_S):
        deadline = time.monotonic() + timeout_s
        while not (result := predicate()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return result

    def people_frame(self, after: int = 0):
        """The first SkeletonArray (from the `after`-th on) with at least one person, or None."""
        return next((m for m in self.got("skeletons")[after:] if m.skeletons), None)

    def set_param(self, name: str, value):
        assert self.set_params.wait_for_service(timeout_sec=10)
        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()])
        future = self.set_params.call_async(request)
        assert self.wait(future.done, timeout_s=10), "set_parameters service did not answer"
        return future.result().results[0]

    def close(self) -> None:
        self.executor.shutdown()
        self._spinner.join(timeout=10)
        self.pose.destroy_node()
        self.peer.destroy_node()


@pytest.fixture(scope="module")
def rig(context):
    """The main rig: raw images with CameraInfo, TF on."""
    r = Rig(context, "/pose_test", publish_tf=True)
    yield r
    r.close()


def assert_person_in_photo(skeleton, width: int, height: int) -> None:
    x0, y0, x1, y1 = skeleton.bbox
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert (x1 - x0) * (y1 - y0) > 0.1 * width * height        # the astronaut fills the frame
    assert 0.5 <= skeleton.score <= 1.0
    assert len(skeleton.keypoints) == COCO17.num_keypoints
    nose = skeleton.keypoints[0]
    assert nose.score > 0.5 and x0 <= nose.x <= x1 and y0 <= nose.y <= height / 2


def test_photo_gives_skeletons_markers_tf_annotated_image_and_diagnostics(rig, photo_bgr):
    height, width = photo_bgr.shape[:2]
    frame = rig.feed_until(rig.people_frame, photo_bgr)
    assert frame is not None, f"no SkeletonArray with a person in {WAIT_S} s; node log: " \
                              f"{rig.logs()}"
    assert stamp_key(frame.header) in rig.sent and frame.header.frame_id == FRAME_ID
    assert frame.skeleton == "coco17" and list(frame.keypoint_names) == list(COCO17.keypoint_names)
    person = frame.skeletons[0]
    assert_person_in_photo(person, width, height)
    assert person.depth_source == Skeleton.DEPTH_MONOCULAR
    assert len(person.keypoints_3d) == COCO17.num_keypoints
    assert 0.3 < person.root.z < 20.0                          # in front of the camera

    # Markers, TF and the annotated image of that very frame (same stamp and frame).
    stamp = stamp_key(frame.header)
    markers = rig.wait(lambda: next((m for m in rig.got("markers")
                                     if m.markers and stamp_key(m.markers[0].header) == stamp),
                                    None), timeout_s=5)
    assert markers is not None, "no MarkerArray for the frame with people"
    assert {m.header.frame_id for m in markers.markers} == {FRAME_ID}
    assert {m.ns for m in markers.markers} >= {"skeleton_limbs", "skeleton_joints"}
    tf = rig.wait(lambda: next((t for msg in rig.got("tf") for t in msg.transforms
                                if stamp_key(t.header) == stamp), None), timeout_s=5)
    assert tf is not None and tf.header.frame_id == FRAME_ID
    # tf_prefix '~/person_': the node's namespace and name, so nodes never share a frame.
    assert tf.child_frame_id == f"pose_test/pose_node/person_{person.id}"
    assert tf.transform.translation.z == pytest.approx(person.root.z)
    annotated = rig.wait(lambda: next((m for m in rig.got("annotated")
                                       if stamp_key(m.header) == stamp), None), timeout_s=5)
    assert annotated is not None and (annotated.width, annotated.height) == (width, height)
    assert annotated.encoding == "bgr8" and annotated.header.frame_id == FRAME_ID
    drawn = np.frombuffer(bytes(annotated.data), np.uint8).reshape(height, width, 3)
    assert np.any(drawn != photo_bgr), "the annotated image has no drawing on it"

    # (The very first frame may beat its camera_info: wait for a status after that.)
    diag = rig.feed_until(lambda: rig.status(lambda s: {
        (kv.key, kv.value) for kv in s.values} >= {("intrinsics", "camera_info")} and any(
        kv.key == "frames_published" and int(kv.value) > 0 for kv in s.values)), photo_bgr,
        timeout_s=10)
    assert diag is not None, "no /diagnostics status with the camera_info's intrinsics"
    values = {kv.key: kv.value for kv in diag.values}
    assert values["device"] == "cpu" and values["camera_info"] == "received"
    assert int(values["frames_published"]) > 0
    # The camera_info subscriptions are compatible with this (volatile, reliable) publisher:
    # neither side reports an incompatible QoS.
    assert not [m for node in ("pose_node", "test_peer") for m in rig.logs(node=node)
                if "incompatible" in m.lower()]
    assert {"rate_hz", "latency_p50_ms", "frames_dropped", "models"} <= set(values)
    assert "detector" in values["models"] and "landmarks" in values["models"]


def test_cues_arrive_with_the_image_header(rig, photo_bgr):
    """~/cues (enable_cues is on by default): one PersonCues per published person, stamped like
    its image. The astronaut faces the camera: `facing` turns on (with its start event) once it
    has held for cue_hold_s, and her distance is her root's."""
    def facing_frames():
        return [(m, c) for m in rig.got("cues") for p in m.people for c in p.cues
                if c.name == "facing" and c.active]

    assert rig.feed_until(facing_frames, photo_bgr), \
        f"no CuesArray with `facing` active; got {len(rig.got('cues'))} CuesArray, node log: " \
        f"{rig.logs()}"
    started = [m for m, c in facing_frames() if c.event == Cue.EVENT_START]
    assert len(started) == 1, "facing must start once (debounced) while the photo is shown"
    cues, = started
    assert stamp_key(cues.header) in rig.sent and cues.header.frame_id == FRAME_ID
    assert list(cues.hand_keypoint_names) == list(HAND21.keypoint_names)
    skeletons = rig.stamped("skeletons", stamp_key(cues.header))
    assert skeletons is not None, "no SkeletonArray with the stamp of the CuesArray"
    assert [p.id for p in cues.people] == [s.id for s in skeletons.skeletons]
    person, skeleton = cues.people[0], skeletons.skeletons[0]
    root = np.array([skeleton.root.x, skeleton.root.y, skeleton.root.z])
    # cues read the unsmoothed root, the skeleton carries the smoothed one: a still photo
    # keeps them within a few per cent
    assert person.distance == pytest.approx(np.linalg.norm(root), rel=0.05)
    assert person.closest and 0.0 <= person.facing_angle <= 45.0
    assert not person.pointing and list(person.hands) == []          # enable_hands is off
    names = {(c.name, c.side) for c in person.cues}
    assert {("facing", ""), ("hand_raised", "left"), ("hand_raised", "right")} <= names
    assert not any(c.active for c in person.cues if c.name == "hand_raised")


def test_parameter_changes_are_checked(rig, photo_bgr):
    for name, value, why in (("marker_lifetime_s", -1.0, "marker_lifetime_s"),
                             ("device", "cuda", "read-only"),
                             ("publish_tf", "yes", "BOOL")):
        result = rig.set_param(name, value)
        assert not result.successful, (name, value)
        assert why in result.reason, result.reason
        print(f"{name}={value!r} rejected: {result.reason}")
    assert rig.pose.config.marker_lifetime_s == 0.5

    result = rig.set_param("marker_lifetime_s", 2.0)
    assert result.successful, result.reason
    assert rig.pose.config.marker_lifetime_s == 2.0
    after = len(rig.got("markers"))
    lifetime = rig.feed_until(lambda: next(
        (m.markers[0].lifetime for m in rig.got("markers")[after:] if m.markers), None),
        photo_bgr)
    assert lifetime is not None and (lifetime.sec, lifetime.nanosec) == (2, 0)


def _shear(msg) -> None:        # rows shorter than width * 3: what cv_bridge used to accept
    msg.step = msg.width * 3 - 3


def _empty(msg) -> None:        # a 0x0 image: OpenCV's raw cvtColor assertion before
    msg.width = msg.height = msg.step = 0
    msg.data = array.array("B")


def _short(msg) -> None:
    msg.data = msg.data[: len(msg.data) // 2]


@pytest.mark.parametrize("what, kw, expected", [
    ("unsupported encoding", {"encoding": "32SC1"}, "32SC1"),
    ("step below width x 3", {"mutate": _shear}, "needs step >= 1536"),
    ("0x0 image", {"mutate": _empty}, "(0x0)"),
    ("short data", {"mutate": _short}, "bytes, got step 1536"),
])
def test_bad_image_is_one_clear_error_and_the_node_keeps_running(rig, photo_bgr, what, kw,
                                                                 expected):
    """The library's own checks run on every message before any conversion."""
    time.sleep(1.1)                     # frame errors are logged at most once a second
    errors_before = len(rig.logs(Log.ERROR))
    published_before = len(rig.got("skeletons"))
    bad = rig.publish(photo_bgr, **kw)
    error = rig.wait(lambda: rig.logs(Log.ERROR)[errors_before:], timeout_s=20)
    assert error, f"no error logged for: {what}"
    stamp_s = (bad[0] * 1_000_000_000 + bad[1]) * 1e-9
    assert expected in error[0] and f"{stamp_s:.6f}" in error[0], error[0]
    assert "cvtColor" not in error[0] and "Traceback" not in error[0]
    assert not any(stamp_key(m.header) == bad for m in rig.got("skeletons")[published_before:])

    good = rig.feed_until(lambda: next((m for m in rig.got("skeletons")
                                        if m.skeletons and stamp_key(m.header) > bad), None),
                          photo_bgr)
    assert good is not None, f"no output after the bad image; node log: {rig.logs()}"
    assert rig.sent[stamp_key(good.header)] == "bgr8"


def fuzz_cases(strategy, count: int) -> list:
    """`count` seeded examples of a test/fuzz_messages.py strategy (the same generator the
    library's fuzz test uses), as rosbags messages."""
    from hypothesis import HealthCheck, given, settings

    cases = []

    @settings(derandomize=True, max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(msg) -> None:
        cases.append(msg)

    collect()
    return cases[:count]


@pytest.mark.parametrize("kind", ["raw", "compressed"])
def test_fuzzed_images_leave_the_node_running(rig, context, photo_bgr, kind):
    """30 malformed Image or CompressedImage messages from the fuzz generator (wrong step,
    short data, odd encodings, 8000 x 8000 sizes, NaN fills, damaged JPEG/PNG, decompression
    bombs) go to the live node (image_transport raw or compressed): errors are logged, none is
    a traceback or another exception than a PoseRosError's text, and the next good photograph
    still gives a skeleton."""
    pytest.importorskip("hypothesis", reason="hypothesis (test extra) generates the cases")
    from fuzz_messages import compressed_images, raw_images

    compressed = kind == "compressed"
    cases = fuzz_cases(compressed_images() if compressed else raw_images(), 30)
    r = Rig(context, "/pose_test_fuzz", image_transport="compressed") if compressed else rig
    try:
        if compressed:                  # started: its first good frame is out
            assert r.feed_until(r.people_frame, photo_bgr, compressed=True) is not None
        logs_before = len(r.logs())
        last = None
        for case in cases:
            data = uint8_array(np.asarray(case.data, np.uint8))
            msg = CompressedImage(format=case.format, data=data) if compressed else Image(
                height=int(case.height), width=int(case.width), encoding=case.encoding,
                is_bigendian=int(case.is_bigendian), step=int(case.step), data=data)
            msg.header.stamp, msg.header.frame_id = r.peer.get_clock().now().to_msg(), FRAME_ID
            (r.pub_compressed if compressed else r.pub_image).publish(msg)
            last = stamp_key(msg.header)
            time.sleep(0.05)
        good = r.feed_until(lambda: next((m for m in r.got("skeletons")
                                          if m.skeletons and stamp_key(m.header) > last), None),
                            photo_bgr, compressed=compressed)
        assert good is not None, f"no skeleton after the fuzzed images; log: {r.logs()[-10:]}"
        # the node logs a PoseRosError's text and repr() of anything else (a bug: the
        # library's contract is a PoseRosError for every bad message); at most one a second
        lines = r.logs()[logs_before:]
        assert any(line.startswith("frame stamped") for line in lines), lines  # they arrived
        assert not [line for line in lines if "Traceback" in line
                    or re.search(r"\b\w+(Error|Exception)\(", line)], lines
    finally:
        if compressed:
            r.close()


def test_diagnostics_turn_error_when_every_frame_fails(rig, photo_bgr):
    assert rig.set_param("error_after_s", 1.0).successful
    try:
        after = len(rig.got("diag"))
        error = rig.feed_until(lambda: rig.status(
            lambda s: s.level == DiagnosticStatus.ERROR, after), photo_bgr, timeout_s=20,
            mutate=_shear)
        assert error is not None, "diagnostics never reached ERROR while every frame failed"
        assert "every frame failed" in error.message and "step" in error.message
        after = len(rig.got("diag"))
        healthy = rig.feed_until(lambda: rig.status(
            lambda s: s.level == DiagnosticStatus.OK, after), photo_bgr, timeout_s=30)
        assert healthy is not None, "diagnostics stayed in error after good frames"
    finally:
        rig.set_param("error_after_s", 5.0)


def test_zero_stamps_still_publish_with_a_warning(rig, photo_bgr):
    # Frames of earlier images may still arrive (a loaded machine): skip their stamps.
    earlier = set(rig.sent)
    after = len(rig.got("skeletons"))
    frame = rig.feed_until(lambda: next((m for m in rig.got("skeletons")[after:] if m.skeletons
                                         and stamp_key(m.header) not in earlier), None),
                           photo_bgr, zero_stamp=True)
    assert frame is not None, f"no people from zero-stamped images; node log: {rig.logs()}"
    assert (frame.header.stamp.sec, frame.header.stamp.nanosec) == (0, 0)   # the image's own
    assert any("image stamp is zero" in m and "arrival time" in m
               for m in rig.logs(Log.WARN)), rig.logs(Log.WARN)


def test_invalid_start_parameters_are_rejected(context):
    with pytest.raises(PoseRosError, match="skeleton must be one of"):
        PoseNode(context=context, namespace="/bad_skeleton",
                 parameter_overrides=[Parameter("skeleton", value="coco18")])
    with pytest.raises(rclpy.exceptions.InvalidParameterValueException, match="max_people"):
        PoseNode(context=context, namespace="/bad_max_people",
                 parameter_overrides=[Parameter("max_people", value=0)])


def test_without_usable_camera_info_the_assumed_field_of_view_is_said_and_used(context,
                                                                              photo_bgr):
    """No camera_info, then an uncalibrated one (K all zeros): both place people with the
    assumed field of view, and say so in the log and in diagnostics (the advice given is what
    happens)."""
    rig = Rig(context, "/pose_test_no_info")
    try:
        frame = rig.feed_until(rig.people_frame, photo_bgr, info=False)
        assert frame is not None, f"no people without camera_info; node log: {rig.logs()}"
        person = frame.skeletons[0]
        assert_person_in_photo(person, *photo_bgr.shape[1::-1])
        assert person.depth_source == Skeleton.DEPTH_MONOCULAR and person.root.z > 0.3
        warnings = rig.logs(Log.WARN)
        assert any("no camera_info" in m and "69 degree" in m for m in warnings), warnings
        diag = rig.wait(lambda: rig.status(lambda s: s.level == DiagnosticStatus.WARN
                                           and "69 degree" in s.message), timeout_s=5)
        assert diag is not None, "diagnostics do not warn about the assumed field of view"

        zero_k = rig.feed_until(lambda: [m for m in rig.logs(Log.WARN) if "no usable K" in m],
                                photo_bgr, info_k=[0.0] * 9)
        assert zero_k and "calibrate" in zero_k[0] and "69 degree" in zero_k[0], zero_k
        after = len(rig.got("skeletons"))
        frame = rig.feed_until(lambda: rig.people_frame(after), photo_bgr, info_k=[0.0] * 9)
        assert frame.skeletons[0].depth_source == Skeleton.DEPTH_MONOCULAR
    finally:
        rig.close()


def test_camera_info_from_latched_and_best_effort_publishers(context, photo_bgr):
    """Images on a reliable subscription; camera_info from a transient_local publisher that
    sent its one message before the node started, then from a best-effort one (twice the
    image size: scaled to the image)."""
    height, width = photo_bgr.shape[:2]
    publishers = []

    def latch(peer) -> None:
        latched = peer.create_publisher(CameraInfo, "camera_info", QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL))
        latched.publish(camera_info(peer.get_clock().now().to_msg(), width, height))
        publishers.append(latched)

    def intrinsics_are(text: str):
        return lambda: rig.status(lambda s: any(
            kv.key == "intrinsics" and text in kv.value for kv in s.values))

    rig = Rig(context, "/pose_test_info_qos", before_start=latch, reliability="reliable")
    try:
        frame = rig.feed_until(rig.people_frame, photo_bgr, info=False)
        assert frame is not None, f"no people; node log: {rig.logs()}"
        assert rig.wait(intrinsics_are("camera_info"), timeout_s=5) is not None, \
            "the latched camera_info never arrived"
        best_effort = rig.peer.create_publisher(CameraInfo, "camera_info", QoSProfile(
            depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))

        def scaled():     # best effort: the first messages may go before the match is made
            best_effort.publish(camera_info(rig.peer.get_clock().now().to_msg(), 2 * width,
                                            2 * height, 2 * FOCAL_PX))
            return intrinsics_are("scaled from 1024x1024")()

        scaled = rig.feed_until(scaled, photo_bgr, info=False)
        assert scaled, "the best-effort camera_info never arrived"
        assert not any("incompatible" in m.lower() for m in rig.logs()), rig.logs()
    finally:
        rig.close()


def test_compressed_transport(context, photo_bgr):
    rig = Rig(context, "/pose_test_compressed", image_transport="compressed")
    try:
        frame = rig.feed_until(rig.people_frame, photo_bgr, compressed=True)
        assert frame is not None, f"no people from compressed images; node log: {rig.logs()}"
        assert rig.sent[stamp_key(frame.header)] == "jpeg" and frame.header.frame_id == FRAME_ID
        assert_person_in_photo(frame.skeletons[0], *photo_bgr.shape[1::-1])
    finally:
        rig.close()


def test_depth_places_the_person_and_unpaired_depth_is_explained(context, photo_bgr):
    rig = Rig(context, "/pose_test_depth", use_depth=True)
    try:
        frame = rig.feed_until(rig.people_frame, photo_bgr, depth_m=2.0)
        assert frame is not None, f"no people with depth; node log: {rig.logs()}"
        assert stamp_key(frame.header) in rig.sent and frame.header.frame_id == FRAME_ID
        person = frame.skeletons[0]
        assert person.depth_source == Skeleton.DEPTH_IMAGE
        assert person.root.z == pytest.approx(2.0, abs=0.4)   # a wall of depth 2 m

        # Depth stamped 5 s before its image never pairs: the frames still come (placed from
        # the intrinsics), and the log and diagnostics say why.
        after = len(rig.got("skeletons"))
        frame = rig.feed_until(lambda: next(
            (m for m in rig.got("skeletons")[after:] if m.skeletons and
             m.skeletons[0].depth_source == Skeleton.DEPTH_MONOCULAR), None), photo_bgr,
            depth_m=2.0, depth_offset_s=-5.0)
        assert frame is not None, f"no output while depth does not pair: {rig.logs()}"
        said = [m for m in rig.logs(Log.WARN) if "no depth within 0.050 s" in m]
        assert said and "depth_sync_slop_s" in said[0], rig.logs(Log.WARN)
        # Once the depth kept from before has aged out, the nearest is the 5 s one.
        diag = rig.feed_until(lambda: rig.status(lambda s: s.level == DiagnosticStatus.WARN
                                                 and "nearest 5.0" in s.message), photo_bgr,
                              timeout_s=20, depth_m=2.0, depth_offset_s=-5.0)
        assert diag is not None, "diagnostics do not say why depth does not pair"

        # Depth of another size is dropped with a warning.
        said = rig.feed_until(lambda: [m for m in rig.logs(Log.WARN)
                                       if "depth image is 320x240" in m], photo_bgr,
                              depth_m=2.0, depth_shape=(240, 320))
        assert said, rig.logs()
    finally:
        rig.close()


REP155_ID = re.compile(r"^[a-z]+[0-9]+$")


def test_hri_output_publishes_rep155_bodies(context, photo_bgr):
    """hri_output: /humans/bodies/tracked (IdsList) with REP-155 string ids, per-body roi and
    skeleton2d topics stamped like the image, the body_<id> TF frame at the person's root; the
    body's topics go when the body leaves."""
    hri = pytest.importorskip(
        "hri_msgs.msg", reason="hri_msgs is not installed here (ros-$ROS_DISTRO-hri-msgs)")
    rig = Rig(context, "/pose_test_hri", hri_output=True)
    try:
        rig.listen("tracked", hri.IdsList, "/humans/bodies/tracked")
        tracked = rig.feed_until(lambda: next((m for m in rig.got("tracked") if m.ids), None),
                                 photo_bgr)
        assert tracked is not None, f"no IdsList with a body; node log: {rig.logs()}"
        (body_id,) = tracked.ids
        assert REP155_ID.match(body_id), body_id
        assert tracked.header.frame_id == FRAME_ID and stamp_key(tracked.header) in rig.sent
        rig.listen("roi", hri.NormalizedRegionOfInterest2D, f"/humans/bodies/{body_id}/roi")
        rig.listen("skeleton2d", hri.Skeleton2D, f"/humans/bodies/{body_id}/skeleton2d")
        height, width = photo_bgr.shape[:2]

        def complete():     # one stamp seen on every output
            for key in ("roi", "skeleton2d"):
                for msg in rig.got(key):
                    stamp = stamp_key(msg.header)
                    found = [next((m for m in rig.got(k) if stamp_key(m.header) == stamp), None)
                             for k in ("roi", "skeleton2d", "skeletons", "tracked")]
                    tf = next((t for m in rig.got("tf") for t in m.transforms
                               if stamp_key(t.header) == stamp), None)
                    if all(found) and tf is not None:
                        return (*found, tf)
            return None

        outputs = rig.feed_until(complete, photo_bgr)
        assert outputs is not None, f"roi, skeleton2d, TF of one frame never all arrived: " \
                                    f"{ {k: len(rig.got(k)) for k in rig.received} }"
        roi, skeleton2d, skeletons, tracked, tf = outputs
        skeleton = skeletons.skeletons[0]
        assert body_id.endswith(str(skeleton.id)) and list(tracked.ids) == [body_id]
        x0, y0, x1, y1 = skeleton.bbox
        assert (roi.xmin, roi.ymin, roi.xmax, roi.ymax) == pytest.approx(
            (x0 / width, y0 / height, x1 / width, y1 / height), abs=1e-6)
        assert roi.c == pytest.approx(skeleton.score, abs=1e-6)
        assert roi.header.frame_id == skeleton2d.header.frame_id == FRAME_ID
        points = skeleton2d.skeleton
        assert len(points) == 18
        nose = skeleton.keypoints[COCO17.index("nose")]
        assert (points[hri.Skeleton2D.NOSE].x, points[hri.Skeleton2D.NOSE].y) == pytest.approx(
            (nose.x / width, nose.y / height), abs=1e-6)
        left_eye = skeleton.keypoints[COCO17.index("left_eye")]
        assert points[hri.Skeleton2D.LEFT_EYE].x == pytest.approx(left_eye.x / width, abs=1e-6)
        assert tf.child_frame_id == f"body_{body_id}" and tf.header.frame_id == FRAME_ID
        t = tf.transform.translation
        assert (t.x, t.y, t.z) == pytest.approx(
            (skeleton.root.x, skeleton.root.y, skeleton.root.z), abs=1e-6)
        q = tf.transform.rotation
        assert q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2 == pytest.approx(1.0, abs=1e-6)
        assert rig.publishers_of(f"/humans/bodies/{body_id}/roi")

        # Nobody in view (a grey image): the body leaves the list and its topics go.
        grey = np.full_like(photo_bgr, 128)
        after = len(rig.got("tracked"))
        empty = rig.feed_until(lambda: next((m for m in rig.got("tracked")[after:]
                                             if not m.ids), None), grey)
        assert empty is not None, "the body stayed on /humans/bodies/tracked with nobody in view"
        assert rig.wait(lambda: not rig.publishers_of(f"/humans/bodies/{body_id}/roi")
                        and not rig.publishers_of(f"/humans/bodies/{body_id}/skeleton2d"),
                        timeout_s=10), "the departed body's topics are still advertised"
        assert rig.publishers_of("/humans/bodies/tracked")
    finally:
        rig.close()


def test_hri_output_without_hri_msgs_warns_once_and_keeps_publishing(context, photo_bgr,
                                                                     monkeypatch):
    """hri_msgs missing (its import blocked in this process): one warning naming the fix, no
    REP-155 topic, and skeletons and cues keep coming."""
    monkeypatch.setitem(sys.modules, "hri_msgs", None)
    monkeypatch.setitem(sys.modules, "hri_msgs.msg", None)
    rig = Rig(context, "/pose_test_no_hri", hri_output=True)
    try:
        frames = rig.feed_until(lambda: len([m for m in rig.got("skeletons") if m.skeletons])
                                >= 3 and len(rig.got("cues")) >= 3, photo_bgr)
        assert frames, f"the node stopped publishing without hri_msgs; node log: {rig.logs()}"
        warnings = [m for m in rig.logs(Log.WARN) if "hri_msgs" in m]
        assert len(warnings) == 1, warnings
        assert "not installed" in warnings[0] and "Fix:" in warnings[0], warnings[0]
        assert not rig.publishers_of("/humans/bodies/tracked")
        assert not rig.logs(Log.ERROR), rig.logs(Log.ERROR)
    finally:
        rig.close()


def _fake_models_wheel(path: Path) -> Path:
    """A wheel holding the real cached files the node loads (BlazePose's two models and the
    person segmentation of the body proposals), as pip would download it."""
    with zipfile.ZipFile(path, "w") as wheel:
        for name in ("pose_detection", "pose_landmark_full", "selfie_segmentation"):
            spec = store.MODELS[name]
            wheel.writestr(spec.member, store.model_path(name, allow_download=True).read_bytes())
    return path


def test_model_download_is_logged_with_its_size(context, tmp_path, monkeypatch):
    wheel = _fake_models_wheel(tmp_path / "mediapipe-0.10.14-py3-none-any.whl")
    monkeypatch.setenv(store.ENV_DIR, str(tmp_path / "empty_cache"))
    monkeypatch.setattr(store, "download_wheel", lambda dest: wheel)
    rig = Rig(context, "/pose_test_download")
    try:
        rig.wait(lambda: any(m.startswith("downloaded") for m in rig.logs(Log.INFO)),
                 timeout_s=30)
        lines = [m for m in rig.logs(Log.INFO)
                 if "mediapipe==0.10.14" in m or m.startswith("downloaded")]
        assert any(f"{store.WHEEL_SIZE_MB:.1f} MB wheel" in m for m in lines), rig.logs()
        assert any(m.startswith("downloaded") and "pose_detection.tflite" in m for m in lines)
    finally:
        rig.close()


# ----------------------------------------------------------------------------- processes

def installed(executable: str) -> Path:
    return Path(get_package_prefix("pose_ros")) / "lib" / "pose_ros" / executable


def test_installed_executables_run_with_the_interpreter_that_has_torch():
    for executable in ("pose_node", "pose-ros"):
        path = installed(executable)
        interpreter = path.read_text().splitlines()[0][2:]
        check = subprocess.run([interpreter, "-c", "import torch, tflite"], capture_output=True)
        assert check.returncode == 0, f"{path}: {interpreter} has no torch/tflite"
    out = subprocess.run([str(installed("pose-ros")), "models", "path"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and Path(out.stdout.strip()) == store.cache_dir(), out.stderr


def test_ctrl_c_while_frames_flow_stops_cleanly(context, photo_bgr):
    """SIGINT while images arrive: the worker stops before the context goes, so no publish
    meets an invalid context; exit status 0 and not one error line."""
    ns = "/pose_test_sigint"
    proc = subprocess.Popen(
        [str(installed("pose_node")), "--ros-args", "-r", f"__ns:={ns}", "-p", "device:=cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    feeder = rclpy.create_node("sigint_feeder", namespace=ns, context=context)
    got = []
    feeder.create_subscription(SkeletonArray, "pose_node/skeletons", got.append, 10)
    pub_image = feeder.create_publisher(Image, "image", 5)
    pub_info = feeder.create_publisher(CameraInfo, "camera_info", 5)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(feeder)
    height, width = photo_bgr.shape[:2]
    fields = image_fields(photo_bgr)

    def feed(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and proc.poll() is None:
            stamp = feeder.get_clock().now().to_msg()
            msg = Image(**{**fields, "data": uint8_array(fields["data"])})
            msg.header.stamp, msg.header.frame_id = stamp, FRAME_ID
            pub_info.publish(camera_info(stamp, width, height))
            pub_image.publish(msg)
            executor.spin_once(timeout_sec=0.05)

    try:
        deadline = time.monotonic() + 2 * WAIT_S
        while not got and time.monotonic() < deadline and proc.poll() is None:
            feed(0.5)
        assert got, "the node never published"
        for _ in range(3):      # interrupt while frames are in flight
            feed(0.3)
        proc.send_signal(signal.SIGINT)
        feed(1.0)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        executor.shutdown()
        feeder.destroy_node()
    print(output)
    assert proc.returncode == 0, output
    for bad in ("context is invalid", "Failed to publish", "Traceback", "[ERROR]"):
        assert bad not in output, output


def test_launch_file_arguments_have_defaults_and_descriptions():
    # Imported here: importing `launch` makes every Python logger created afterwards
    # non-propagating (launch.logging.LaunchLogger), which would cut the library's loggers off
    # from the node's ROS log in this test process.
    from launch.actions import DeclareLaunchArgument

    share = Path(get_package_share_directory("pose_ros"))
    expected = {
        "pose.launch.py": {"image", "camera_info", "depth", "image_transport", "params_file",
                           "device", "namespace", "rviz", "use_sim_time"},
        "two_cameras.launch.py": {"params_file", "device", "front_image", "front_camera_info",
                                  "back_image", "back_camera_info"}}
    for name, arguments in expected.items():
        spec = importlib.util.spec_from_file_location(name.split(".")[0], share / "launch" / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        declared = {a.name: a for a in module.generate_launch_description().entities
                    if isinstance(a, DeclareLaunchArgument)}
        assert set(declared) == arguments, name
        for argument in declared.values():
            assert argument.default_value is not None and argument.description, argument.name
    config = share / "config"
    assert (config / "pose.yaml").is_file() and (config / "pose.rviz").is_file()
