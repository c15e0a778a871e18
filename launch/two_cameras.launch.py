"""Two cameras, two pose nodes: `ros2 launch pose_ros two_cameras.launch.py`.

Each camera gets its own node in its own namespace (/front/pose_node, /back/pose_node), so the
topics, the diagnostics names and the per-person TF frames (tf_prefix '~/person_':
front/pose_node/person_1, back/pose_node/person_1) never collide. Both read one params file.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, GroupAction, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare

CAMERAS = ("front", "back")


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(
        "params_file", default_value="",
        description="YAML file of node parameters for both nodes; empty: "
                    "share/pose_ros/config/pose.yaml")]
    declared.append(DeclareLaunchArgument(
        "device", default_value="", description="'auto', 'cpu', 'cuda' or 'cuda:N' for both "
        "nodes; empty: the params file's value"))
    nodes = []
    for camera in CAMERAS:
        declared += [
            DeclareLaunchArgument(f"{camera}_image", default_value=f"/{camera}/color/image_raw",
                                  description=f"sensor_msgs/Image topic of the {camera} camera"),
            DeclareLaunchArgument(f"{camera}_camera_info",
                                  default_value=f"/{camera}/color/camera_info",
                                  description=f"sensor_msgs/CameraInfo topic of the {camera} "
                                              f"camera"),
        ]
        nodes.append(GroupAction([IncludeLaunchDescription(
            PythonLaunchDescriptionSource(PathJoinSubstitution(
                [FindPackageShare("pose_ros"), "launch", "pose.launch.py"])),
            launch_arguments={
                "namespace": camera,
                "image": LaunchConfiguration(f"{camera}_image"),
                "camera_info": LaunchConfiguration(f"{camera}_camera_info"),
                "params_file": LaunchConfiguration("params_file"),
                "device": LaunchConfiguration("device"),
            }.items())], scoped=True))
    return LaunchDescription([*declared, *nodes])
