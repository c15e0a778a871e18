"""Colour/depth pairing by stamp, and the reasons given when they do not pair."""

from __future__ import annotations

from pose_ros.ros.depth_pairing import MAX_WAITING_IMAGES, DepthPairer

MS = 1_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_depth_arriving_after_its_image_pairs_with_it():
    pairer = DepthPairer(slop_s=0.05, clock=Clock())
    assert pairer.add_image("rgb0", 1000 * MS) == []          # waits for its depth
    (pair,) = pairer.add_depth("d0", 1003 * MS)
    assert (pair.image, pair.depth, pair.why_unpaired) == ("rgb0", "d0", None)
    assert pairer.paired == 1 and pairer.unpaired == 0


def test_depth_already_there_pairs_at_once_with_the_nearest():
    pairer = DepthPairer(slop_s=0.05, clock=Clock())
    for i in range(4):
        pairer.add_depth(f"d{i}", (1000 + 33 * i) * MS)
    (pair,) = pairer.add_image("rgb", 1070 * MS)
    assert pair.depth == "d2"                                  # 1066 ms: 4 ms away


def test_depth_seconds_apart_is_named_and_the_image_goes_on_without_it():
    clock = Clock()
    pairer = DepthPairer(slop_s=0.05, wait_s=0.2, clock=clock)
    pairer.add_depth("old depth", 1000 * MS)
    assert pairer.add_image("rgb", 6000 * MS) == []
    clock.now = 0.1
    assert pairer.poll() == []
    clock.now = 0.25
    (pair,) = pairer.poll()
    assert pair.image == "rgb" and pair.depth is None
    assert "nearest 5.000 s away" in pair.why_unpaired and "depth_sync_slop_s" in pair.why_unpaired
    assert pairer.unpaired == 1


def test_no_depth_at_all_is_named():
    clock = Clock()
    pairer = DepthPairer(slop_s=0.05, wait_s=0.2, clock=clock)
    pairer.add_image("rgb", 1000 * MS)
    clock.now = 1.0
    (pair,) = pairer.poll()
    assert pair.depth is None and pair.why_unpaired == "no depth image received yet"


def test_only_the_newest_ready_image_is_released():
    pairer = DepthPairer(slop_s=0.05, clock=Clock())
    for i in range(3):
        pairer.add_image(f"rgb{i}", (1000 + 33 * i) * MS)
    (pair,) = pairer.add_depth("d", 1070 * MS)
    assert (pair.image, pair.depth) == ("rgb2", "d")
    assert pairer.superseded == 2 and pairer.poll() == []


def test_waiting_images_are_bounded():
    pairer = DepthPairer(slop_s=0.05, clock=Clock())
    for i in range(MAX_WAITING_IMAGES + 3):
        pairer.add_image(i, i * 33 * MS)
    assert pairer.superseded == 3
