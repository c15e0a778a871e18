"""launch_testing: two_cameras.launch.py, two namespaced pose nodes fed by two cameras.

The test launches the installed two-camera example with TF on (a params file written here),
publishes skimage's astronaut photograph to both cameras' topics, and waits for skeletons from
both nodes and for TF frames whose names are unique per node (front/pose_node/person_N and
back/pose_node/person_N). Registered with add_launch_test (`colcon test`). Skips without ROS 2.
"""

from __future__ import annotations

import array
import tempfile
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
import yaml  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from pose_ros.msg import SkeletonArray  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

CAMERAS = ("front", "back")
FOCAL_PX = 450.0
WAIT_S = 180.0            # two fresh processes load their models on a busy 2-core CPU


def params_file() -> str:
    """The package's parameters with TF on, and the CPU."""
    share = Path(get_package_share_directory("pose_ros"))
    params = yaml.safe_load((share / "config" / "pose.yaml").read_text())
    params["/**"]["ros__parameters"].update(publish_tf=True, device="cpu")
    path = Path(tempfile.mkdtemp(prefix="pose_ros_two_cameras_")) / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return str(path)


@pytest.mark.launch_test
@launch_testing.markers.keep_alive
def generate_test_description():
    launch_file = Path(get_package_share_directory("pose_ros")) / "launch" / \
        "two_cameras.launch.py"
    return LaunchDescription([
        IncludeLaunchDescription(PythonLaunchDescriptionSource(str(launch_file)),
                                 launch_arguments={"params_file": params_file()}.items()),
        launch_testing.actions.ReadyToTest()])


def photo_messages(stamp, frame_id: str) -> tuple[Image, CameraInfo]:
    photo = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    height, width = photo.shape[:2]
    image = Image(height=height, width=width, encoding="bgr8", is_bigendian=0, step=width * 3,
                  data=array.array("B", photo.tobytes()))
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob",
                      d=[0.0] * 5, k=[FOCAL_PX, 0.0, width / 2, 0.0, FOCAL_PX, height / 2,
                                      0.0, 0.0, 1.0])
    for msg in (image, info):
        msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return image, info


class TestTwoCameras(unittest.TestCase):
    def test_both_nodes_publish_with_their_own_tf_frames(self, proc_output):
        context = rclpy.context.Context()
        rclpy.init(context=context)
        node = rclpy.create_node("two_camera_publisher", context=context)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(node)
        skeletons = {camera: [] for camera in CAMERAS}
        child_frames: set[str] = set()
        try:
            publishers = {}
            for camera in CAMERAS:
                publishers[camera] = (
                    node.create_publisher(Image, f"/{camera}/color/image_raw", 5),
                    node.create_publisher(CameraInfo, f"/{camera}/color/camera_info", 5))
                node.create_subscription(SkeletonArray, f"/{camera}/pose_node/skeletons",
                                         skeletons[camera].append, 10)
            node.create_subscription(
                TFMessage, "/tf",
                lambda msg: child_frames.update(t.child_frame_id for t in msg.transforms), 10)

            def done() -> bool:
                return all(any(m.skeletons for m in skeletons[c]) for c in CAMERAS) and all(
                    any(f.startswith(f"{c}/pose_node/person_") for f in child_frames)
                    for c in CAMERAS)

            deadline = time.monotonic() + WAIT_S
            next_frame = 0.0
            while not done() and time.monotonic() < deadline:
                if time.monotonic() >= next_frame:
                    stamp = node.get_clock().now().to_msg()
                    for camera, (pub_image, pub_info) in publishers.items():
                        image, info = photo_messages(stamp, f"{camera}_color_optical_frame")
                        pub_info.publish(info)
                        pub_image.publish(image)
                    next_frame = time.monotonic() + 0.25
                executor.spin_once(timeout_sec=0.05)
        finally:
            executor.shutdown()
            node.destroy_node()
            rclpy.try_shutdown(context=context)

        counts = {c: sum(bool(m.skeletons) for m in skeletons[c]) for c in CAMERAS}
        self.assertTrue(done(), f"in {WAIT_S:.0f} s: frames with people per camera {counts}, "
                                f"TF child frames {sorted(child_frames)}")
        for camera in CAMERAS:
            frame = next(m for m in skeletons[camera] if m.skeletons)
            self.assertEqual(frame.header.frame_id, f"{camera}_color_optical_frame")
        # No frame name is shared by the two nodes.
        front = {f.split("/", 2)[2] for f in child_frames if f.startswith("front/")}
        back = {f.split("/", 2)[2] for f in child_frames if f.startswith("back/")}
        self.assertTrue(front and back)
        self.assertTrue(all(f.startswith(("front/", "back/")) for f in child_frames),
                        sorted(child_frames))
        proc_output.assertWaitFor("image /front/color/image_raw", timeout=5)
        proc_output.assertWaitFor("image /back/color/image_raw", timeout=5)


@launch_testing.post_shutdown_test()
class TestTwoCamerasShutdown(unittest.TestCase):
    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
