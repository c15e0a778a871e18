#!/usr/bin/env python3
"""pose_node: camera images in; tracked 2D/3D skeletons, cues, RViz markers and diagnostics out
(and REP-155 bodies with hri_output).

Wiring only: parameters, QoS, subscriptions, publishers, one worker thread and shutdown order.
Every decision lives in the ROS-free library, which CI tests without ROS: image checks and
conversion (io/image_codec: the same path as `pose-ros run`, so cv_bridge is not used), the
input policy (stamps, intrinsics, depth), depth pairing, the pipeline, messages, markers,
parameters and diagnostics. Subscription callbacks only store the newest frame; the worker runs
the pipeline on it, so the executor is never blocked and a slow model never queues stale images.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

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
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from visualization_msgs.msg import MarkerArray

try:  # Iron and later
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

from pose_ros.draw import draw_people
from pose_ros.errors import PoseRosError
from pose_ros.input_policy import InputPolicy
from pose_ros.io.image_codec import decode_bgr, decode_depth, image_fields
from pose_ros.msg import CuesArray, SkeletonArray
from pose_ros.person import FramePoses
from pose_ros.pipeline import PoseEstimator
from pose_ros.ros.cue_messages import cues_array_msg
from pose_ros.ros.depth_pairing import DepthPairer, Pair
from pose_ros.ros.diagnostics import HealthMonitor, diagnostic_array_msg
from pose_ros.ros.hri_publisher import HriPublisher
from pose_ros.ros.latest import LatestSlot
from pose_ros.ros.markers import MarkerStyle, marker_array_msg
from pose_ros.ros.messages import RosFactory, header_msg, skeleton_array_msg
from pose_ros.ros.node_params import ParamSpec, all_params, check_value, node_config, tf_child_frame

PAIRING_POLL_S = 0.05


@dataclass
class _Frame:
    image: Any                        # sensor_msgs Image or CompressedImage
    arrival_ns: int                   # node clock when the image arrived
    depth: Any | None = None          # the paired depth Image, when use_depth
    why_no_depth: str | None = None   # use_depth, but no depth paired: why


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


class _RosLogHandler(logging.Handler):
    """Python logging records of the library -> this node's ROS logger (and /rosout)."""

    def __init__(self, ros_logger) -> None:
        super().__init__()
        self.ros_logger = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        # One call site per severity: rclpy keys each call site to one severity and raises
        # "Logging severity cannot be changed between calls" otherwise.
        message, level = record.getMessage(), record.levelno
        if level >= logging.ERROR:
            self.ros_logger.error(message)
        elif level >= logging.WARNING:
            self.ros_logger.warning(message)
        elif level >= logging.INFO:
            self.ros_logger.info(message)
        else:
            self.ros_logger.debug(message)


class PoseNode(Node):
    def __init__(self, **node_kwargs: Any) -> None:
        """`node_kwargs` go to rclpy's Node (context, namespace, parameter_overrides: tests)."""
        super().__init__("pose_node", **node_kwargs)
        self._specs = {s.name: s for s in all_params()}
        for spec in self._specs.values():
            self.declare_parameter(spec.name, spec.default, _descriptor(spec))
        # Raises PoseRosError with the reason (bad values, models missing and no network).
        self.config = node_config({n: self.get_parameter(n).value for n in self._specs})
        # The library logs through Python logging: its records go to this node's logger (the
        # model download notice, the input policy's warnings).
        self._log_handler = _RosLogHandler(self.get_logger())
        library_log = logging.getLogger("pose_ros")
        library_log.setLevel(logging.INFO)
        library_log.addHandler(self._log_handler)
        policy_log = logging.getLogger(f"pose_ros.ros.node.{id(self)}")
        policy_log.propagate = False
        policy_log.addHandler(self._log_handler)
        try:
            self.policy = InputPolicy(assumed_hfov_deg=self.config.assumed_hfov_deg,
                                      logger=policy_log)
            self.estimator = PoseEstimator(self.config.pipeline)
        except BaseException:   # bad input or models missing: leave nothing attached
            library_log.removeHandler(self._log_handler)
            super().destroy_node()
            raise
        self._models = ", ".join(f"{name} {sha[:12]}" for name, sha in
                                 self.estimator.model_digests().items())
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._factory = RosFactory()
        self._slot: LatestSlot[_Frame] = LatestSlot()
        self._camera_info: CameraInfo | None = None
        self._health = HealthMonitor(max_latency_s=self.config.max_latency_s,
                                     error_after_s=self.config.error_after_s)
        self._pairer: DepthPairer | None = None
        self._tf = None
        self._subscribe()
        self.pub_skeletons = self.create_publisher(SkeletonArray, "~/skeletons", 10)
        self.pub_markers = self.create_publisher(MarkerArray, "~/markers", 10)
        self.pub_annotated = self.create_publisher(Image, "~/image_annotated", 1)
        self.pub_diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.pub_cues = (self.create_publisher(CuesArray, "~/cues", 10)
                         if self.config.pipeline.enable_cues else None)
        self._hri = (HriPublisher(self, self._factory, self._send_transforms)
                     if self.config.hri_output else None)
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
        self._health.error_after_s = self.config.error_after_s
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ inputs
    def _subscribe(self) -> None:
        reliability = (ReliabilityPolicy.RELIABLE if self.config.reliability == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=reliability)
        group = MutuallyExclusiveCallbackGroup()
        compressed = self.config.image_transport == "compressed"
        self.image_topic = "image/compressed" if compressed else "image"
        self.create_subscription(CompressedImage if compressed else Image, self.image_topic,
                                 self._on_image, qos, callback_group=group)
        # camera_info: best effort + volatile matches every publisher (reliable or not). A
        # latched (transient_local) publisher's message reaches only a transient_local
        # subscription, which every volatile publisher would report as incompatible: it is made
        # once such a publisher is seen (checked now and every second until then).
        self._info_group = group
        self.create_subscription(
            CameraInfo, "camera_info", self._on_camera_info,
            QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                       reliability=ReliabilityPolicy.BEST_EFFORT), callback_group=group)
        self._latched_info_sub = None
        self._latched_info_timer = self.create_timer(1.0, self._match_latched_camera_info,
                                                     callback_group=group)
        self._match_latched_camera_info()
        if self.config.use_depth:
            self._pairer = DepthPairer(slop_s=self.config.depth_sync_slop_s)
            self.create_subscription(
                Image, "depth", self._on_depth,
                QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2, reliability=reliability),
                callback_group=group)
            self.create_timer(PAIRING_POLL_S, lambda: self._queue(self._pairer.poll()),
                              callback_group=group)

    def _match_latched_camera_info(self) -> None:
        if self._latched_info_sub is not None:
            return
        for endpoint in self.get_publishers_info_by_topic(self.resolve_topic_name("camera_info")):
            qos = endpoint.qos_profile
            if qos.durability == DurabilityPolicy.TRANSIENT_LOCAL:
                self._latched_info_sub = self.create_subscription(
                    CameraInfo, "camera_info", self._on_camera_info,
                    QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                               reliability=qos.reliability,
                               durability=DurabilityPolicy.TRANSIENT_LOCAL),
                    callback_group=self._info_group,
                    event_callbacks=SubscriptionEventCallbacks(
                        incompatible_qos=lambda event: None))
                self._latched_info_timer.cancel()
                return

    def _on_image(self, msg) -> None:
        arrival_ns = self.get_clock().now().nanoseconds
        if self._pairer is None:
            self._slot.put(_Frame(msg, arrival_ns))
        else:
            self._queue(self._pairer.add_image((msg, arrival_ns), _stamp_ns(msg)))

    def _on_depth(self, msg: Image) -> None:
        self._queue(self._pairer.add_depth(msg, _stamp_ns(msg)))

    def _queue(self, pairs: list[Pair]) -> None:
        for pair in pairs:
            image, arrival_ns = pair.image
            self._slot.put(_Frame(image, arrival_ns, pair.depth, pair.why_unpaired))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while not self._stop.is_set():
            frame = self._slot.take(timeout_s=0.2)
            if frame is None or self._stop.is_set():
                continue
            try:
                self._process(frame)
            except Exception as exc:  # log with the frame and keep running
                what = str(exc) if isinstance(exc, PoseRosError) else repr(exc)
                self._health.record_error(time.monotonic(), what)
                stamp = _stamp_ns(frame.image) * 1e-9
                self.get_logger().error(f"frame stamped {stamp:.6f}: {what}",
                                        throttle_duration_sec=1.0)

    def _depth_of(self, frame: _Frame):
        """The frame's depth in metres, or None (unpaired or unusable: said, and counted)."""
        if frame.why_no_depth:
            self.policy.event("depth_unpaired", f"depth: {frame.why_no_depth}; frames are "
                              f"placed without depth meanwhile")
        if frame.depth is None:
            return None
        try:
            return decode_depth(frame.depth)
        except PoseRosError as exc:
            self.policy.event("depth_unusable", f"depth image unusable ({exc}); frames are "
                              f"placed without depth meanwhile")
            return None

    def _process(self, frame: _Frame) -> None:
        # The library's checks and conversion, before anything else reads the message.
        image_bgr = decode_bgr(frame.image)
        stamp_ns = _stamp_ns(frame.image)
        people = self.policy.estimate(self.estimator, image_bgr, stamp_ns=stamp_ns,
                                      arrival_ns=frame.arrival_ns,
                                      camera_info=self._camera_info,
                                      depth_m=self._depth_of(frame))
        if self._stop.is_set():   # shutting down: nothing more is published
            return
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
        if self.pub_cues is not None:
            self.pub_cues.publish(cues_array_msg(self._factory, poses))
        if self._hri is not None:
            self._hri.publish(poses)
        latency_s = (self.get_clock().now().nanoseconds - stamp_ns) * 1e-9
        self._health.record(time.monotonic(), latency_s, len(people))

    def _send_transforms(self, transforms: list) -> None:
        if self._tf is None:
            from tf2_ros import TransformBroadcaster
            self._tf = TransformBroadcaster(self)
        self._tf.sendTransform(transforms)

    def _broadcast_tf(self, poses: FramePoses, prefix: str) -> None:
        f = self._factory
        node_name = self.get_fully_qualified_name()
        transforms = [f(
            "geometry_msgs/msg/TransformStamped",
            header=header_msg(f, poses.stamp_ns, poses.frame_id),
            child_frame_id=tf_child_frame(prefix, node_name, p.track_id),
            transform=f("geometry_msgs/msg/Transform",
                        translation=f("geometry_msgs/msg/Vector3", x=float(p.root_camera_m[0]),
                                      y=float(p.root_camera_m[1]), z=float(p.root_camera_m[2])),
                        rotation=f("geometry_msgs/msg/Quaternion", x=0.0, y=0.0, z=0.0, w=1.0)),
        ) for p in poses.people if p.root_camera_m is not None]
        if transforms:
            self._send_transforms(transforms)

    # ------------------------------------------------------------------ outputs
    def _publish_diagnostics(self) -> None:
        info = {"device": self.estimator.device, "precision": self.config.pipeline.precision,
                "skeleton": self.estimator.topology.name, "models": self._models,
                "camera_info": "received" if self._camera_info is not None else "missing",
                "intrinsics": self.policy.intrinsics_source}
        info.update({k: str(v) for k, v in self.policy.counts.items()})
        dropped = self._slot.dropped
        if self._pairer is not None:
            info.update(depth_paired=str(self._pairer.paired),
                        depth_unpaired=str(self._pairer.unpaired))
            dropped += self._pairer.superseded
        summary = self._health.summary(
            time.monotonic(), received=self._slot.received, dropped=dropped, info=info,
            conditions=self.policy.conditions())
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

    def stop(self) -> None:
        """Stop the worker (idempotent): after this the node publishes nothing. Called before
        the context shuts down, so no publish ever meets an invalid context."""
        self._stop.set()
        self._slot.close()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=10.0)

    def destroy_node(self) -> None:
        self.stop()
        logging.getLogger("pose_ros").removeHandler(self._log_handler)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    # rclpy's own SIGINT handler shuts the context down at once, while the worker may be
    # publishing ("publisher's context is invalid"). Here SIGINT and SIGTERM only ask to stop;
    # the worker stops first, then the node, then the context.
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = executor = None
    status = 0
    try:
        node = PoseNode()
        executor = MultiThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (PoseRosError, ParameterException) as exc:  # bad parameters, models missing
        print(f"pose_node: {exc}", file=sys.stderr)
        status = 1
    finally:
        if node is not None:
            node.stop()
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    # Everything is closed. The interpreter's own teardown of torch then takes 1.5-2.5 s on a
    # busy 2-core CPU (measured with `import torch` alone): with two nodes, past ros2 launch's
    # 5 s between SIGINT and SIGTERM. Nothing is left to clean up, so leave at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
