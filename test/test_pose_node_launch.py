"""launch_testing: pose.launch.py with remapped topics, fed a real photograph by the test.

The test includes the installed launch file with the image and camera_info topics remapped to a
test camera, publishes skimage's astronaut photograph (sensor_msgs/Image bgr8 + CameraInfo)
there, and waits for a SkeletonArray with a person and the MarkerArray of the same frame, both
with the image's stamp and frame_id. After shutdown the node must have exited cleanly.
Registered with add_launch_test (`colcon test`); by hand, with ROS 2 and this package's install
sourced: `launch_test test/test_pose_node_launch.py`. Skips where ROS 2 is absent.
"""

from __future__ import annotations

import array
import time
import unittest
from pathlib import Path

import pytest

pytest.importorskip(
    "launch_testing", reason="launch_testing is not importable: source a ROS 2 install")
pytest.importorskip("rclpy", reason="rclpy is not importable: source a ROS 2 install")
pytest.importorskip(
    "pose_ros.msg", reason="pose_ros.msg is not generated here: colcon build this package and "
    "source its install/setup.bash")
skimage_data = pytest.importorskip(
    "skimage.data", reason="scikit-image is not installed (pip install scikit-image)")

import cv2  # noqa: E402
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
import launch_testing.markers  # noqa: E402
import rclpy  # noqa: E402
import rclpy.executors  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from pose_ros.msg import SkeletonArray  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

IMAGE_TOPIC = "/launch_test_camera/color/image_raw"
INFO_TOPIC = "/launch_test_camera/color/camera_info"
NAMESPACE = "pose_launch_test"
FRAME_ID = "launch_test_camera_color_optical_frame"
FOCAL_PX = 450.0
WAIT_S = 120.0            # a fresh process: imports, model load, first frames on a busy CPU


@pytest.mark.launch_test
@launch_testing.markers.keep_alive
def generate_test_description():
    launch_file = Path(get_package_share_directory("pose_ros")) / "launch" / "pose.launch.py"
    pose = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(launch_file)),
        launch_arguments={"image": IMAGE_TOPIC, "camera_info": INFO_TOPIC,
                          "namespace": NAMESPACE, "device": "cpu"}.items())
    return LaunchDescription([pose, launch_testing.actions.ReadyToTest()])


def photo_messages(stamp) -> tuple[Image, CameraInfo]:
    photo = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    height, width = photo.shape[:2]
    image = Image(height=height, width=width, encoding="bgr8", is_bigendian=0, step=width * 3,
                  data=array.array("B", photo.tobytes()))
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=[FOCAL_PX, 0.0, width / 2, 0.0, FOCAL_PX, height / 2,
                                      0.0, 0.0, 1.0])
    for msg in (image, info):
        msg.header.stamp, msg.header.frame_id = stamp, FRAME_ID
    return image, info


class TestPoseNodeOutput(unittest.TestCase):
    def test_skeletons_and_markers_for_a_photograph(self, proc_output):
        context = rclpy.context.Context()
        rclpy.init(context=context)
        node = rclpy.create_node("photo_publisher", context=context)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        try:
            skeletons, markers, sent = [], [], set()
            pub_image = node.create_publisher(Image, IMAGE_TOPIC, 5)
            pub_info = node.create_publisher(CameraInfo, INFO_TOPIC, 5)
            node.create_subscription(SkeletonArray, f"/{NAMESPACE}/pose_node/skeletons",
                                     skeletons.append, 10)
            node.create_subscription(MarkerArray, f"/{NAMESPACE}/pose_node/markers",
                                     markers.append, 10)

            def frame_with_markers():
                for frame in skeletons:
                    stamp = (frame.header.stamp.sec, frame.header.stamp.nanosec)
                    for m in markers:
                        if frame.skeletons and m.markers and (
                                m.markers[0].header.stamp.sec,
                                m.markers[0].header.stamp.nanosec) == stamp:
                            return frame, m
                return None

            deadline = time.monotonic() + WAIT_S
            next_frame = 0.0
            while (found := frame_with_markers()) is None and time.monotonic() < deadline:
                if time.monotonic() >= next_frame:
                    stamp = node.get_clock().now().to_msg()
                    image, info = photo_messages(stamp)
                    pub_info.publish(info)
                    pub_image.publish(image)
                    sent.add((stamp.sec, stamp.nanosec))
                    next_frame = time.monotonic() + 0.2
                executor.spin_once(timeout_sec=0.05)
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.try_shutdown(context=context)

        self.assertIsNotNone(found, f"no SkeletonArray with a person and its MarkerArray in "
                                    f"{WAIT_S:.0f} s ({len(skeletons)} SkeletonArrays, "
                                    f"{len(markers)} MarkerArrays received)")
        frame, marker_array = found
        self.assertIn((frame.header.stamp.sec, frame.header.stamp.nanosec), sent)
        self.assertEqual(frame.header.frame_id, FRAME_ID)
        self.assertEqual(frame.skeleton, "coco17")
        self.assertEqual(len(frame.skeletons[0].keypoints), len(frame.keypoint_names))
        self.assertGreater(frame.skeletons[0].score, 0.5)
        self.assertEqual({m.header.frame_id for m in marker_array.markers}, {FRAME_ID})
        # The startup log names the device, the models and the remapped input topic.
        proc_output.assertWaitFor(f"image {IMAGE_TOPIC}", timeout=5)
        proc_output.assertWaitFor("models: detector", timeout=5)


@launch_testing.post_shutdown_test()
class TestPoseNodeShutdown(unittest.TestCase):
    def test_exit_code(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
