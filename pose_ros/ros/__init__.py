"""The ROS side of pose_ros: the node (pose_ros.ros.node, the only module that imports rclpy) and
what it needs beside the pipeline: parameters, diagnostics, the latest-frame slot, depth pairing,
REP-155 publishing, and the conversions of people into ROS messages (ours, RViz markers, cues,
hri_msgs) that the node and the offline recordings (io/sinks.py, through rosbags) share.

Nothing in the pipeline imports this package (imports go cli/node -> pipeline -> stages ->
models); only the node imports rclpy, so the rest is tested without ROS.
"""
