"""Malformed messages and files through the library path of the runner and the node (seeded).

CI runs a few hundred cases per kind (FUZZ_EXAMPLES scales it); tools/fuzz_inputs.py runs the
full 10,000+ and writes the figures in the README. Every case must end in a usable result or a
PoseRosError with a message (test/fuzz_messages.py says what each check allows).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis (test extra) generates the cases")

from fuzz_messages import (  # noqa: E402
    TS,
    _header,
    camera_infos,
    check_camera_info,
    check_colour,
    check_depth,
    check_depth_pairing,
    check_file,
    compressed_images,
    damaged_files,
    raw_images,
)
from hypothesis import HealthCheck, given, settings  # noqa: E402

SCALE = float(os.environ.get("FUZZ_EXAMPLES_SCALE", "1"))
FAST = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def examples(n: int) -> settings:
    return settings(FAST, max_examples=max(1, int(n * SCALE)))


@examples(300)
@given(raw_images())
def test_raw_images(msg):
    check_colour(msg)


@examples(300)
@given(compressed_images())
def test_compressed_images(msg):
    check_colour(msg)
    check_depth(msg)


@examples(200)
@given(raw_images(depth=True))
def test_depth_images(msg):
    check_depth(msg)
    check_depth_pairing(msg)


@examples(200)
@given(camera_infos())
def test_camera_infos(msg):
    check_camera_info(msg)


@examples(40)
@given(damaged_files())
def test_damaged_files(tmp_path_factory, case):
    check_file(case, tmp_path_factory.getbasetemp())


def test_8000x8000_message_is_decoded_and_its_size_accepted():
    width = height = 8000
    msg = TS.types["sensor_msgs/msg/Image"](
        header=_header(), height=height, width=width, encoding="mono8", is_bigendian=0,
        step=width, data=np.zeros(width * height, np.uint8))
    check_colour(msg)
