"""pose_node under rclpy: a real photograph in, skeletons, markers, TF and diagnostics out.

Each test starts PoseNode in this process (its own namespace, one shared rclpy context) beside a
peer node that publishes skimage's astronaut photograph as sensor_msgs/Image (or
CompressedImage) with a CameraInfo, and records what pose_node publishes, including its /rosout
log lines. Registered with ament_add_pytest_test: `colcon test --packages-select pose_ros`.
Needs a sourced ROS 2 and this package built (its generated pose_ros.msg); skips otherwise.
"""

from __future__ import annotations

import array
import importlib.util
import threading
import time
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
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from launch.actions import DeclareLaunchArgument  # noqa: E402
from pose_ros.msg import Skeleton, SkeletonArray  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

from pose_ros.errors import PoseRosError  # noqa: E402
from pose_ros.io.image_codec import compressed_fields, image_fields  # noqa: E402
from pose_ros.node import PoseNode  # noqa: E402
from pose_ros.skeleton import COCO17  # noqa: E402

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


def camera_info(stamp, width: int, height: int) -> CameraInfo:
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.header.stamp, msg.header.frame_id = stamp, FRAME_ID
    msg.k = [FOCAL_PX, 0.0, width / 2, 0.0, FOCAL_PX, height / 2, 0.0, 0.0, 1.0]
    msg.p = [FOCAL_PX, 0.0, width / 2, 0.0, 0.0, FOCAL_PX, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.d = [0.0] * 5
    return msg


def stamp_key(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def uint8_array(data: np.ndarray) -> array.array:
    """A uint8[] field for rclpy: array.array is its fast path (other sequences: item by item)."""
    return array.array("B", np.ascontiguousarray(data).tobytes())


class Rig:
    """A PoseNode in namespace `ns` and a peer node that feeds it and records its outputs."""

    def __init__(self, context, ns: str, **params) -> None:
        overrides = [Parameter(k, value=v) for k, v in {"device": "cpu", **params}.items()]
        self.ns = ns
        self.pose = PoseNode(context=context, namespace=ns, parameter_overrides=overrides)
        self.peer = rclpy.create_node("test_peer", namespace=ns, context=context)
        self.lock = threading.Lock()
        self.received: dict[str, list] = {
            k: [] for k in ("skeletons", "markers", "annotated", "log", "diag", "tf")}
        self.sent: dict[tuple[int, int], str] = {}   # stamp -> what was published with it
        p = self.peer
        self.pub_image = p.create_publisher(Image, "image", 5)
        self.pub_compressed = p.create_publisher(CompressedImage, "image/compressed", 5)
        self.pub_info = p.create_publisher(CameraInfo, "camera_info", 5)
        self.pub_depth = p.create_publisher(Image, "depth", 5)
        for key, msg_type, topic in (
                ("skeletons", SkeletonArray, "pose_node/skeletons"),
                ("markers", MarkerArray, "pose_node/markers"),
                ("annotated", Image, "pose_node/image_annotated"),
                ("diag", DiagnosticArray, "/diagnostics"),
                ("tf", TFMessage, "/tf")):
            p.create_subscription(msg_type, topic, self._recorder(key), 10)
        p.create_subscription(Log, "/rosout", self._recorder("log"), QoSProfile(
            depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.set_params = p.create_client(SetParameters, "pose_node/set_parameters")
        self.executor = MultiThreadedExecutor(context=context)
        self.executor.add_node(self.pose)
        self.executor.add_node(p)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    def _recorder(self, key: str):
        def record(msg) -> None:
            with self.lock:
                self.received[key].append(msg)
        return record

    def got(self, key: str) -> list:
        with self.lock:
            return list(self.received[key])

    def logs(self, level: int | None = None) -> list[str]:
        """This rig's pose_node log lines (logger name `<ns>.pose_node`)."""
        name = self.ns.strip("/").replace("/", ".") + ".pose_node"
        return [m.msg for m in self.got("log")
                if m.name == name and (level is None or m.level == level)]

    def publish(self, photo_bgr: np.ndarray, *, info: bool = True, compressed: bool = False,
                depth_m: float | None = None, encoding: str | None = None) -> tuple[int, int]:
        """One frame (and its CameraInfo / depth) with a fresh stamp; returns the stamp."""
        stamp = self.peer.get_clock().now().to_msg()
        height, width = photo_bgr.shape[:2]
        if info:
            self.pub_info.publish(camera_info(stamp, width, height))
        if depth_m is not None:
            depth = Image(height=height, width=width, encoding="16UC1", is_bigendian=0,
                          step=width * 2)
            depth.data = uint8_array(np.full((height, width), depth_m * 1e3, np.uint16))
            depth.header.stamp, depth.header.frame_id = stamp, FRAME_ID
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
        (self.pub_compressed if compressed else self.pub_image).publish(msg)
        key = (stamp.sec, stamp.nanosec)
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

    def people_frame(self):
        """The first SkeletonArray with at least one person, or None."""
        return next((m for m in self.got("skeletons") if m.skeletons), None)

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
    assert tf.child_frame_id == f"person_{person.id}"
    assert tf.transform.translation.z == pytest.approx(person.root.z)
    annotated = rig.wait(lambda: next((m for m in rig.got("annotated")
                                       if stamp_key(m.header) == stamp), None), timeout_s=5)
    assert annotated is not None and (annotated.width, annotated.height) == (width, height)
    assert annotated.encoding == "bgr8" and annotated.header.frame_id == FRAME_ID
    drawn = np.frombuffer(bytes(annotated.data), np.uint8).reshape(height, width, 3)
    assert np.any(drawn != photo_bgr), "the annotated image has no drawing on it"

    name = f"{rig.ns}/pose_node: pose estimation"
    diag = rig.wait(lambda: next((s for a in rig.got("diag") for s in a.status
                                  if s.name == name and any(
                                      kv.key == "frames_published" and int(kv.value) > 0
                                      for kv in s.values)), None), timeout_s=5)
    assert diag is not None, f"no /diagnostics status {name!r} with published frames"
    values = {kv.key: kv.value for kv in diag.values}
    assert values["device"] == "cpu" and values["camera_info"] == "received"
    assert {"rate_hz", "latency_p50_ms", "frames_dropped", "models"} <= set(values)
    assert "detector" in values["models"] and "landmarks" in values["models"]


def test_parameter_changes_are_checked(rig, photo_bgr):
    assert rig.set_params.wait_for_service(timeout_sec=10)

    def set_param(name: str, value):
        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg()])
        future = rig.set_params.call_async(request)
        assert rig.wait(future.done, timeout_s=10), "set_parameters service did not answer"
        return future.result().results[0]

    for name, value, why in (("marker_lifetime_s", -1.0, "marker_lifetime_s"),
                             ("device", "cuda", "read-only"),
                             ("publish_tf", "yes", "BOOL")):
        result = set_param(name, value)
        assert not result.successful, (name, value)
        assert why in result.reason, result.reason
        print(f"{name}={value!r} rejected: {result.reason}")
    assert rig.pose.config.marker_lifetime_s == 0.5

    result = set_param("marker_lifetime_s", 2.0)
    assert result.successful, result.reason
    assert rig.pose.config.marker_lifetime_s == 2.0
    after = len(rig.got("markers"))
    lifetime = rig.feed_until(lambda: next(
        (m.markers[0].lifetime for m in rig.got("markers")[after:] if m.markers), None),
        photo_bgr)
    assert lifetime is not None and (lifetime.sec, lifetime.nanosec) == (2, 0)


def test_bad_image_is_logged_and_the_node_keeps_running(rig, photo_bgr):
    errors_before = len(rig.logs(Log.ERROR))
    bridge_warnings = sum("cv_bridge failed" in m for m in rig.logs())
    bad = rig.publish(photo_bgr, encoding="32SC1")  # a ROS encoding pose_ros does not read
    error = rig.wait(lambda: rig.logs(Log.ERROR)[errors_before:], timeout_s=20)
    assert error, "no error logged for an image with an unsupported encoding"
    stamp_s = (bad[0] * 1_000_000_000 + bad[1]) * 1e-9
    assert "32SC1" in error[0] and f"{stamp_s:.6f}" in error[0], error[0]
    # The bad image is no reason to stop using cv_bridge.
    assert sum("cv_bridge failed" in m for m in rig.logs()) == bridge_warnings

    good = rig.feed_until(lambda: next((m for m in rig.got("skeletons")
                                        if m.skeletons and stamp_key(m.header) > bad), None),
                          photo_bgr)
    assert good is not None, f"no output after the bad image; node log: {rig.logs()}"
    assert rig.sent[stamp_key(good.header)] == "bgr8"


def test_invalid_start_parameters_are_rejected(context):
    with pytest.raises(PoseRosError, match="skeleton must be one of"):
        PoseNode(context=context, namespace="/bad_skeleton",
                 parameter_overrides=[Parameter("skeleton", value="coco18")])
    with pytest.raises(rclpy.exceptions.InvalidParameterValueException, match="max_people"):
        PoseNode(context=context, namespace="/bad_max_people",
                 parameter_overrides=[Parameter("max_people", value=0)])


def test_without_camera_info_2d_and_pelvis_relative_3d(context, photo_bgr):
    rig = Rig(context, "/pose_test_no_info")
    try:
        frame = rig.feed_until(rig.people_frame, photo_bgr, info=False)
        assert frame is not None, f"no people without camera_info; node log: {rig.logs()}"
        assert stamp_key(frame.header) in rig.sent and frame.header.frame_id == FRAME_ID
        person = frame.skeletons[0]
        assert_person_in_photo(person, *photo_bgr.shape[1::-1])
        assert person.depth_source == Skeleton.DEPTH_NONE
        assert (person.root.x, person.root.y, person.root.z) == (0.0, 0.0, 0.0)
        xyz = np.array([[k.position.x, k.position.y, k.position.z] for k in person.keypoints_3d])
        assert xyz.shape == (COCO17.num_keypoints, 3)
        assert np.abs(xyz).max() < 1.5                 # metres around the pelvis, not the camera
        hips = xyz[[COCO17.index("left_hip"), COCO17.index("right_hip")]].mean(axis=0)
        assert np.linalg.norm(hips) < 0.15             # the pelvis is the origin
        assert any("no camera_info" in m for m in rig.logs(Log.WARN)), rig.logs()
        # Markers show camera-frame 3D only: the MarkerArrays are there, and empty.
        assert rig.got("markers") and not any(m.markers for m in rig.got("markers"))
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


def test_aligned_depth_places_the_person(context, photo_bgr):
    rig = Rig(context, "/pose_test_depth", use_depth=True)
    try:
        frame = rig.feed_until(rig.people_frame, photo_bgr, depth_m=2.0)
        assert frame is not None, f"no people with depth; node log: {rig.logs()}"
        assert stamp_key(frame.header) in rig.sent and frame.header.frame_id == FRAME_ID
        person = frame.skeletons[0]
        assert person.depth_source == Skeleton.DEPTH_IMAGE
        assert person.root.z == pytest.approx(2.0, abs=0.4)   # a wall of depth 2 m
    finally:
        rig.close()


def test_launch_file_arguments_have_defaults_and_descriptions():
    path = Path(get_package_share_directory("pose_ros")) / "launch" / "pose.launch.py"
    spec = importlib.util.spec_from_file_location("pose_launch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    declared = {a.name: a for a in module.generate_launch_description().entities
                if isinstance(a, DeclareLaunchArgument)}
    assert set(declared) == {"image", "camera_info", "depth", "image_transport", "params_file",
                             "device", "namespace", "rviz", "use_sim_time"}
    for argument in declared.values():
        assert argument.default_value is not None and argument.description, argument.name
    config = Path(get_package_share_directory("pose_ros")) / "config"
    assert (config / "pose.yaml").is_file() and (config / "pose.rviz").is_file()
