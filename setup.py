"""pip install of the pose_ros Python package (no ROS needed); metadata lives in setup.cfg."""

from setuptools import setup

setup()
