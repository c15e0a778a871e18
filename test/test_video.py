"""The annotated video: fragmented H.264 MP4 that stays playable when the writer is killed."""

from __future__ import annotations

import numpy as np

from pose_ros.io.video import FragmentedMp4Writer, _top_level_boxes, count_frames, trim_mp4


def frames(n: int, width: int, height: int):
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return [np.roll(base, 3 * i, axis=1) for i in range(n)]


def test_odd_and_tiny_sizes_and_a_size_change(tmp_path):
    for width, height in ((16, 16), (17, 33), (641, 359)):
        path = tmp_path / f"v{width}.mp4"
        writer = FragmentedMp4Writer(path, 25.0)
        for frame in frames(5, width, height) + [np.zeros((height * 2, width, 3), np.uint8)]:
            writer.write(frame)
        writer.close()
        assert count_frames(path) == 6


def test_every_cut_leaves_the_complete_fragments_playable(tmp_path):
    path = tmp_path / "v.mp4"
    writer = FragmentedMp4Writer(path, 25.0, fragment_every_s=0.0)   # a fragment per frame
    for frame in frames(12, 64, 48):
        writer.write(frame)
    writer.close()
    data = path.read_bytes()
    boxes = list(_top_level_boxes(data))
    fragments = [o for o, _, kind in boxes if kind == b"moof"]
    assert len(fragments) >= 10
    for cut in range(fragments[0], len(data), 97):                   # cuts everywhere
        case = tmp_path / "cut.mp4"
        case.write_bytes(data[:cut])
        trim_mp4(case)
        complete = sum(o + s <= cut for o, s, kind in boxes if kind == b"mdat")
        assert count_frames(case) >= complete, cut
