"""Start the pose node: `ros2 launch pose_ros pose.launch.py image:=... camera_info:=...`.

Node parameters come from one YAML file (params_file); the launch arguments are only topics,
the device, the namespace and the optional RViz window.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

ARGUMENTS = [
    ("image", "/camera/color/image_raw", "sensor_msgs/Image topic of the colour camera"),
    ("camera_info", "/camera/color/camera_info", "sensor_msgs/CameraInfo topic of that camera"),
    ("depth", "", "aligned depth image topic (16UC1 mm or 32FC1 m); empty: no depth"),
    ("image_transport", "raw", "'raw' (sensor_msgs/Image) or 'compressed' (<image>/compressed)"),
    ("params_file", "", "YAML file of node parameters; empty: share/pose_ros/config/pose.yaml"),
    ("device", "", "'auto', 'cpu', 'cuda' or 'cuda:N'; empty: the params file's value"),
    ("namespace", "", "namespace of the node and its topics"),
    ("rviz", "false", "also start RViz with share/pose_ros/config/pose.rviz (needs rviz2: "
                      "apt install ros-$ROS_DISTRO-rviz2; not installed by rosdep)"),
    ("use_sim_time", "false", "use /clock (bag playback with --clock)"),
]


def _pose_node(context):
    def arg(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    params_file = arg("params_file") or PathJoinSubstitution(
        [FindPackageShare("pose_ros"), "config", "pose.yaml"]).perform(context)
    overrides = {
        "image_transport": arg("image_transport"),
        "use_depth": arg("depth") != "",
        "use_sim_time": arg("use_sim_time").lower() == "true",
    }
    if arg("device"):
        overrides["device"] = arg("device")
    remappings = [
        ("image", arg("image")),
        ("image/compressed", arg("image").rstrip("/") + "/compressed"),
        ("camera_info", arg("camera_info")),
    ]
    if arg("depth"):
        remappings.append(("depth", arg("depth")))
    return [Node(
        package="pose_ros",
        executable="pose_node",
        name="pose_node",
        namespace=arg("namespace"),
        parameters=[params_file, overrides],
        remappings=remappings,
        output="screen",
        emulate_tty=True,
    )]


def _rviz(context):
    """RViz with config/pose.rviz, its absolute /pose_node/... topics remapped to the namespace."""
    namespace = LaunchConfiguration("namespace").perform(context).strip("/")
    prefix = f"/{namespace}" if namespace else ""
    return [Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", PathJoinSubstitution(
            [FindPackageShare("pose_ros"), "config", "pose.rviz"])],
        parameters=[{"use_sim_time": LaunchConfiguration("use_sim_time")}],
        remappings=[(f"/pose_node/{topic}", f"{prefix}/pose_node/{topic}")
                    for topic in ("markers", "image_annotated")] if prefix else [],
        output="screen",
    )]


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=default, description=description)
                for name, default, description in ARGUMENTS]
    rviz = OpaqueFunction(function=_rviz, condition=IfCondition(LaunchConfiguration("rviz")))
    return LaunchDescription([*declared, OpaqueFunction(function=_pose_node), rviz])
