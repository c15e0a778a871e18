#!/usr/bin/env python3
"""Live check of a running pose_node: play a video as a camera, measure what comes out.

    source /opt/ros/jazzy/setup.bash && source install/setup.bash
    ros2 run pose_ros pose_node --ros-args -p device:=cpu &
    python3 bench/ros_live.py VIDEO --rate 30 --seconds 60 --pid $(pgrep -f lib/pose_ros/pose_node)
    python3 bench/ros_live.py VIDEO --transport compressed ...  # node: image_transport compressed
    python3 bench/ros_live.py VIDEO --plain                     # no node: a bare subscriber

Publishes the video's frames (decoded once, looped) on `image` (or `image/compressed`, JPEG 90)
with a CameraInfo, stamped with the publish time, at --rate Hz; subscribes to
`pose_node/skeletons` and reports the output rate, the stamp-to-receipt latency (p50/p95), and
the node's RSS (from /proc/PID/status, once a second) at the start, end and peak. `--plain`
measures what a bare best-effort subscriber in this process receives instead (the transport's
own limit). A benchmark script, not a test: it needs ROS 2 and a built pose_ros.
"""

from __future__ import annotations

import argparse
import array
import json
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

HFOV_DEG = 69.0


def load_frames(path: Path, max_frames: int, resize: tuple[int, int] | None) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, resize) if resize else frame)
    capture.release()
    if not frames:
        raise SystemExit(f"could not decode {path}")
    return frames


def rss_mib(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return next(int(line.split()[1]) / 1024 for line in text.splitlines()
                if line.startswith("VmRSS"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("--rate", type=float, default=30.0, help="frames per second published")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured time")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--transport", choices=("raw", "compressed"), default="raw")
    parser.add_argument("--namespace", default="/", help="the node's namespace")
    parser.add_argument("--pid", type=int, help="the node's process id, for its RSS")
    parser.add_argument("--plain", action="store_true",
                        help="no node: count what a bare best-effort subscriber receives")
    parser.add_argument("--resize", help="publish frames resized to WxH")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    resize = tuple(int(v) for v in args.resize.split("x")) if args.resize else None
    frames = load_frames(args.video, int(args.rate * 4), resize)
    height, width = frames[0].shape[:2]
    if args.transport == "compressed":
        payloads = [array.array("B", cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
                                .tobytes()) for f in frames]
    else:
        payloads = [array.array("B", f.tobytes()) for f in frames]
    focal = (width / 2) / np.tan(np.radians(HFOV_DEG) / 2)

    rclpy.init()
    node = rclpy.create_node("pose_ros_live_bench", namespace=args.namespace)
    compressed = args.transport == "compressed"
    topic = "image/compressed" if compressed else "image"
    pub_image = node.create_publisher(CompressedImage if compressed else Image, topic, 5)
    pub_info = node.create_publisher(CameraInfo, "camera_info", 5)
    received: list[tuple[float, float]] = []   # (monotonic receipt time, latency) seconds
    lock = threading.Lock()

    def on_output(msg) -> None:
        now = node.get_clock().now().nanoseconds * 1e-9
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with lock:
            received.append((time.monotonic(), now - stamp))

    if args.plain:
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.BEST_EFFORT)
        node.create_subscription(CompressedImage if compressed else Image, topic, on_output, qos)
    else:
        from pose_ros.msg import SkeletonArray
        node.create_subscription(SkeletonArray, "pose_node/skeletons", on_output, 10)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()

    start = time.monotonic()
    measure_from = start + args.warmup
    end = measure_from + args.seconds
    rss: list[float] = []
    published = published_measured = 0
    next_rss = start
    while (now := time.monotonic()) < end:
        stamp = node.get_clock().now().to_msg()
        info = CameraInfo(width=width, height=height, distortion_model="plumb_bob",
                          d=[0.0] * 5, k=[focal, 0.0, width / 2, 0.0, focal, height / 2,
                                          0.0, 0.0, 1.0])
        payload = payloads[published % len(payloads)]
        if compressed:
            msg = CompressedImage(format="jpeg", data=payload)
        else:
            msg = Image(height=height, width=width, encoding="bgr8", is_bigendian=0,
                        step=width * 3, data=payload)
        for m in (info, msg):
            m.header.stamp, m.header.frame_id = stamp, "camera_color_optical_frame"
        pub_info.publish(info)
        pub_image.publish(msg)
        published += 1
        published_measured += now >= measure_from
        if args.pid and now >= next_rss:
            value = rss_mib(args.pid)
            if value is not None and now >= measure_from:
                rss.append(value)
            next_rss = now + 1.0
        time.sleep(max(0.0, start + published / args.rate - time.monotonic()))
    time.sleep(1.0)
    executor.shutdown()
    with lock:
        measured = [(t, lat) for t, lat in received if measure_from <= t <= end]
    latencies = np.array([lat for _, lat in measured]) * 1e3
    span = args.seconds
    figures = {
        "video": str(args.video), "size": f"{width}x{height}", "transport": args.transport,
        "mode": "plain subscriber" if args.plain else "pose_node", "rate_published_hz":
        round(published_measured / span, 2), "rate_received_hz": round(len(measured) / span, 2),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if len(measured) else None,
        "latency_p95_ms": round(float(np.percentile(latencies, 95)), 1) if len(measured) else None,
        "rss_start_mib": round(rss[0], 1) if rss else None,
        "rss_end_mib": round(rss[-1], 1) if rss else None,
        "rss_max_mib": round(max(rss), 1) if rss else None,
        "payload_bytes": len(payloads[0]),
    }
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
