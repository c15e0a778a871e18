"""The ROS build (package.xml, CMakeLists.txt) and the pip build (setup.cfg) agree."""

from __future__ import annotations

import configparser
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pose_ros
from pose_ros.ros.msgdefs import MESSAGE_NAMES

ROOT = Path(__file__).resolve().parents[1]


def _setup_cfg() -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return cfg


def test_name_and_version_agree():
    xml = ET.parse(ROOT / "package.xml").getroot()
    cfg = _setup_cfg()
    cmake = (ROOT / "CMakeLists.txt").read_text()
    assert xml.get("format") == "3"
    name, version = xml.findtext("name"), xml.findtext("version")
    assert name == cfg["metadata"]["name"] == "pose_ros"
    assert re.search(r"^project\((\w+)\)", cmake, re.M).group(1) == name
    assert version == cfg["metadata"]["version"] == pose_ros.__version__


def test_message_files_agree():
    on_disk = sorted(p.name for p in (ROOT / "msg").glob("*.msg"))
    cmake = (ROOT / "CMakeLists.txt").read_text()
    in_cmake = sorted(Path(m).name for m in re.findall(r'"(msg/\w+\.msg)"', cmake))
    data_files = _setup_cfg()["options.data_files"]["share/pose_ros/msg"].split()
    in_setup = sorted(Path(m).name for m in data_files)
    assert on_disk == in_cmake == in_setup == sorted(f"{n}.msg" for n in MESSAGE_NAMES)


def test_package_xml_declares_an_interface_package():
    xml = ET.parse(ROOT / "package.xml").getroot()
    assert xml.findtext("member_of_group") == "rosidl_interface_packages"
    assert xml.find("export/build_type").text == "ament_cmake"
    deps = {e.text for e in xml if e.tag.endswith("depend")}
    for needed in ("rclpy", "std_msgs", "geometry_msgs", "sensor_msgs", "visualization_msgs",
                   "diagnostic_msgs", "tf2_ros_py", "launch_ros", "rosidl_default_generators",
                   "rosidl_default_runtime", "python3-numpy", "python3-opencv", "python3-scipy",
                   "python3-platformdirs", "python3-flatbuffers"):
        assert needed in deps, needed
    # Optional on a robot (rviz:=true), or not used by the node at all.
    for unwanted in ("rviz2", "cv_bridge", "message_filters", "python3-tqdm"):
        assert unwanted not in deps, unwanted


def test_no_msg_subpackage_in_our_python_package():
    # rosidl generates pose_ros.msg in ROS builds; a directory of ours would shadow it.
    assert not (ROOT / "pose_ros" / "msg").exists()


def test_ruff_is_clean():
    import shutil
    import subprocess
    import sys

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    out = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
