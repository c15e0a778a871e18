#!/usr/bin/env python3
"""pose_node: camera images in; tracked 2D/3D skeletons, RViz markers and diagnostics out.

Wiring only: parameters, QoS, subscriptions, publishers and one worker thread. Every decision
lives in the ROS-free library (pipeline, messages, markers, node_params, diagnostics), which CI
tests without ROS. Subscription callbacks only store the newest frame; the worker runs the
pipeline on it, so the executor is never blocked and a slow model never queues stale images.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import message_filters
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from pose_ros.camera import CameraIntrinsics
from pose_ros.diagnostics import HealthMonitor, diagnostic_array_msg
from pose_ros.draw import draw_people
from pose_ros.errors import PoseRosError
from pose_ros.io.image_codec import decode_bgr, decode_depth, image_fields
from pose_ros.latest import LatestSlot
from pose_ros.markers import MarkerStyle, marker_array_msg
from pose_ros.messages import RosFactory, header_msg, skeleton_array_msg
from pose_ros.msg import SkeletonArray
from pose_ros.node_params import ParamSpec, all_params, check_value, node_config
from pose_ros.person import DepthSource, FramePoses, Person
from pose_ros.pipeline import PoseEstimator


@dataclass
class _Frame:
    image: Any          # sensor_msgs Image or CompressedImage
    depth: Any | None   # aligned depth Image, when use_depth


def _descriptor(spec: ParamSpec) -> ParameterDescriptor:
    d = ParameterDescriptor(name=spec.name, description=spec.description,
                            read_only=spec.read_only)
    if spec.choices is not None:
        d.additional_constraints = "one of: " + ", ".join(str(c) for c in spec.choices)
    if spec.min_value is not None and isinstance(spec.default, float):
        d.floating_point_range = [FloatingPointRange(
            from_value=float(spec.min_value), to_value=float(spec.max_value), step=0.0)]
    elif spec.min_value is not None and not isinstance(spec.default, bool):
        d.integer_range = [IntegerRange(
            from_value=int(spec.min_value), to_value=int(spec.max_value), step=0)]
    return d


def _stamp_ns(msg: Any) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _pelvis_relative(people: list[Person]) -> list[Person]:
    """Without calibrated intrinsics the root is unknown: 3D relative to the pelvis (DEPTH_NONE)."""
    return [replace(p, keypoints_3d=np.concatenate(
                [p.keypoints_3d[:, :3] - p.root_camera_m, p.keypoints_3d[:, 3:]], axis=1),
                root_camera_m=None, depth_source=DepthSource.NONE)
            if p.keypoints_3d is not None and p.root_camera_m is not None else p
            for p in people]


class PoseNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        """`node_kwargs` go to rclpy's Node (context, namespace, parameter_overrides: tests)."""
        super().__init__("pose_node", **node_kwargs)
        self._specs = {s.name: s for s in all_params()}
        for spec in self._specs.values():
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        # Raises PoseRosError with the reason (bad values, models missing and no network).
        self.config = node_config({n: self.get_parameter(n).value for n in self._specs})
        self.estimator = PoseEstimator(self.config.pipeline)
        self._models = ", ".join(f"{name} {sha[:12]}" for name, sha in
                                 self.estimator.model_digests().items())
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._factory = RosFactory()
        self._slot: LatestSlot[_Frame] = LatestSlot()
        self._camera_info: CameraInfo | None = None
        self._health = HealthMonitor(max_latency_s=self.config.max_latency_s)
        self._bridge = self._make_bridge()
        self._tf = None
        self._subscribe()
        self.pub_skeletons = self.create_publisher(SkeletonArray, "~/skeletons", 10)
        self.pub_markers = self.create_publisher(MarkerArray, "~/markers", 10)
        self.pub_annotated = self.create_publisher(Image, "~/image_annotated", 1)
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.config.diagnostics_period_s, self._publish_diagnostics,
                          callback_group=MutuallyExclusiveCallbackGroup())
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="pose_worker", daemon=True)
        self._worker.start()
        self._log_startup()

    # ------------------------------------------------------------------ parameters
    def _on_set_parameters(self, params) -> SetParametersResult:
        changes = {}
        for p in params:
            spec = self._specs.get(p.name)
            reason = None if spec is None else check_value(spec, p.value)
            if reason:
                return SetParametersResult(successful=False, reason=reason)
            if spec is not None and not spec.read_only:
                changes[p.name] = float(p.value) if isinstance(spec.default, float) else p.value
        self.config = replace(self.config, **changes)
        self._health.max_latency_s = self.config.max_latency_s
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ inputs
    def _subscribe(self) -> None:
        reliability = (ReliabilityPolicy.RELIABLE if self.config.reliability == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=reliability)
        group = MutuallyExclusiveCallbackGroup()
        compressed = self.config.image_transport == "compressed"
        image_type = CompressedImage if compressed else Image
        self.image_topic = "image/compressed" if compressed else "image"
        self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos,
                                 callback_group=group)
        if self.config.use_depth:
            # The synchronizer pairs by stamp, so it needs a few messages of each stream.
            sync_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                                  reliability=reliability)
            self._image_sub = message_filters.Subscriber(
                self, image_type, self.image_topic, qos_profile=sync_qos, callback_group=group)
            self._depth_sub = message_filters.Subscriber(
                self, Image, "depth", qos_profile=sync_qos, callback_group=group)
            self._sync = message_filters.ApproximateTimeSynchronizer(
                [self._image_sub, self._depth_sub], queue_size=10,
                slop=self.config.depth_sync_slop_s)
            self._sync.registerCallback(lambda image, depth: self._slot.put(_Frame(image, depth)))
        else:
            self.create_subscription(image_type, self.image_topic,
                                     lambda image: self._slot.put(_Frame(image, None)), qos,
                                     callback_group=group)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _make_bridge(self):
        try:
            from cv_bridge import CvBridge
            return CvBridge()
        except Exception as exc:  # not installed, or its compiled module fails to load
            self.get_logger().warning(f"cv_bridge unavailable ({exc!r}); using pose_ros' own "
                                      "image conversion")
            return None

    def _decode(self, msg: Any):
        if self._bridge is not None:
            try:
                if isinstance(msg, CompressedImage):
                    return self._bridge.compressed_imgmsg_to_cv2(msg, "bgr8")
                return self._bridge.imgmsg_to_cv2(msg, "bgr8")
            except Exception as exc:  # e.g. KeyError: 16 with a numpy/OpenCV it was not built for
                # A bad image fails here too: decode_bgr raises its clear error and cv_bridge
                # stays. Only an image that decode_bgr reads retires cv_bridge.
                image_bgr = decode_bgr(msg)
                self.get_logger().warning(f"cv_bridge failed ({exc!r}); using pose_ros' own "
                                          "image conversion from now on")
                self._bridge = None
                return image_bgr
        return decode_bgr(msg)

    def _intrinsics(self) -> CameraIntrinsics | None:
        """The latest camera_info's intrinsics; None (and a throttled warning) without them."""
        msg = self._camera_info
        try:
            if msg is not None:
                return CameraIntrinsics.from_camera_info(msg)
            reason = f"no camera_info on {self.resolve_topic_name('camera_info')} yet"
        except ValueError as exc:  # uncalibrated: K all zeros
            reason = str(exc)
        self.get_logger().warning(
            f"{reason}: publishing 2D and pelvis-relative 3D (depth_source NONE)",
            throttle_duration_sec=10.0)
        return None

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while not self._stop.is_set():
            frame = self._slot.take(timeout_s=0.2)
            if frame is None:
                continue
            try:
                self._process(frame)
            except Exception as exc:  # log with the frame and keep running
                self._health.record_error()
                stamp = _stamp_ns(frame.image) * 1e-9
                what = str(exc) if isinstance(exc, PoseRosError) else repr(exc)
                self.get_logger().error(f"frame stamped {stamp:.6f}: {what}",
                                        throttle_duration_sec=1.0)

    def _process(self, frame: _Frame) -> None:
        image_bgr = self._decode(frame.image)
        depth_m = decode_depth(frame.depth) if frame.depth is not None else None
        intrinsics = self._intrinsics()
        stamp_ns = _stamp_ns(frame.image)
        people = self.estimator(image_bgr, stamp_ns * 1e-9, camera=intrinsics, depth=depth_m)
        if intrinsics is None:
            people = _pelvis_relative(people)
        height, width = image_bgr.shape[:2]
        topology = self.estimator.topology
        poses = FramePoses(stamp_ns=stamp_ns, frame_id=frame.image.header.frame_id, width=width,
                           height=height, skeleton=topology.name,
                           keypoint_names=topology.keypoint_names, people=people)
        config = self.config
        self.pub_skeletons.publish(skeleton_array_msg(self._factory, poses))
        self.pub_markers.publish(marker_array_msg(
            self._factory, poses, MarkerStyle(lifetime_s=config.marker_lifetime_s)))
        if self.pub_annotated.get_subscription_count() > 0:
            annotated = draw_people(image_bgr, people, topology)
            self.pub_annotated.publish(self._factory(
                "sensor_msgs/msg/Image", header=frame.image.header, **image_fields(annotated)))
        if config.publish_tf:
            self._broadcast_tf(poses, config.tf_prefix)
        latency_s = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        self._health.record(time.monotonic(), latency_s, len(people))

    def _broadcast_tf(self, poses: FramePoses, prefix: str) -> None:
        if self._tf is None:
            from tf2_ros import TransformBroadcaster
            self._tf = TransformBroadcaster(self)
        f = self._factory
        transforms = [f(
            "geometry_msgs/msg/TransformStamped",
            header=header_msg(f, poses.stamp_ns, poses.frame_id),
            child_frame_id=f"{prefix}{p.track_id}",
            transform=f("geometry_msgs/msg/Transform",
                        translation=f("geometry_msgs/msg/Vector3", x=float(p.root_camera_m[0]),
                                      y=float(p.root_camera_m[1]), z=float(p.root_camera_m[2])),
                        rotation=f("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0)),
        ) for p in poses.people if p.root_camera_m is not None]
        if transforms:
            self._tf.sendTransform(transforms)

    # ------------------------------------------------------------------ outputs
    def _publish_diagnostics(self) -> None:
        summary = self._health.summary(
            time.monotonic(), received=self._slot.received, dropped=self._slot.dropped,
            info={"device": self.estimator.device, "precision": self.config.pipeline.precision,
                  "skeleton": self.estimator.topology.name, "models": self._models,
                  "camera_info": "received" if self._camera_info is not None else "missing"})
        self.pub_diagnostics.publish(diagnostic_array_msg(
            self._factory, self.get_clock().now().nanoseconds,
            f"{self.get_fully_qualified_name()}: pose estimation", self.estimator.device,
            summary))

    def _log_startup(self) -> None:
        p = self.config.pipeline
        sub = self.resolve_topic_name(self.image_topic)
        self.get_logger().info(
            f"device {self.estimator.device}, precision {p.precision}, skeleton {p.skeleton}, "
            f"3D {'on' if p.enable_3d else 'off'}; models: {self._models}; image {sub}"
            f"{', depth ' + self.resolve_topic_name('depth') if self.config.use_depth else ''}, "
            f"camera_info {self.resolve_topic_name('camera_info')} -> "
            f"{self.resolve_topic_name('~/skeletons')}, {self.resolve_topic_name('~/markers')}")

    def destroy_node(self) -> None:
        self._stop.set()
        self._slot.close()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)  # not `with rclpy.init()`: Humble's init is no context manager
    node = None
    try:
        node = PoseNode()
        executor = MultiThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (PoseRosError, ParameterException) as exc:  # bad parameters, models missing
        print(f"pose_node: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
