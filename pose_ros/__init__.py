"""pose_ros: tracked 2D and 3D human skeletons from camera images, with or without ROS 2."""

__version__ = "0.1.0"
