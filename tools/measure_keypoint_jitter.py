"""Measure the frame-to-frame jitter of BlazePose's raw 2D keypoints on real video, to fit the
2D noise of the cue evaluation (pose_ros/eval/cues_eval.py NOISE_2D) to measurements.

    PYTHONPATH=. python tools/measure_keypoint_jitter.py ../shared/data/video/*.mp4

Per track of at least 10 frames (tracked as tools/measure_blazepose_world.py does): the
person's height in pixels (top to bottom keypoint) and, per joint group, the white-noise
equivalent std of the 2D keypoints: median |second difference| / 1.65 (for white noise of std
s the second difference has std sqrt(6) s, whose median absolute value is 1.65 s). The real
motion is in the second difference too, so these are upper bounds on the noise (loosest for
the fast hands of the basketball clip and the 12 fps clips). The last columns give what the
eval's "measured" noise draws for that height (clip factor 1; the eval draws 0.5-1.5):
a x height + b for the trunk, x 1.5 for elbows, x 2 for wrists.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from measure_blazepose_world import run_clip  # noqa: E402

from pose_ros.eval.cues_eval import NOISE_2D  # noqa: E402
from pose_ros.models.blazepose import BlazePose  # noqa: E402
from pose_ros.skeleton import BLAZEPOSE33  # noqa: E402

GROUPS = {"shoulders": "shoulder", "elbows": "elbow", "wrists": "wrist", "hips": "hip"}


def jitter(kp: np.ndarray) -> dict[str, float]:
    """(T, 33, 3) keypoints -> white-noise equivalent std (px) per joint group."""
    acc = kp[2:, :, :2] - 2 * kp[1:-1, :, :2] + kp[:-2, :, :2]
    out = {}
    for group, joint in GROUPS.items():
        idx = [BLAZEPOSE33.index(f"{s}_{joint}") for s in ("left", "right")]
        out[group] = float(np.median(np.abs(acc[:, idx])) / 1.65)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="+", type=Path)
    args = parser.parse_args()
    model = BlazePose()
    per_height, floor_px = NOISE_2D["measured"][:2]
    print(f"{'clip':<32} {'frames':>6} {'height px':>9} "
          + " ".join(f"{g:>9}" for g in GROUPS) + "  (std px)   eval trunk/elbow/wrist")
    for path in args.videos:
        for track in run_clip(model, path):
            kp = track["kp"]
            height = float(np.median(np.ptp(kp[:, :, 1], axis=1)))
            stds = jitter(kp)
            eval_px = per_height * height + floor_px
            print(f"{path.name:<32} {len(kp):>6} {height:>9.0f} "
                  + " ".join(f"{stds[g]:>9.1f}" for g in GROUPS)
                  + f"  {eval_px:>14.1f} {1.5 * eval_px:.1f} {2 * eval_px:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
