"""Regenerate test/data/segmentation_golden.npz: MediaPipe's own selfie segmentation masks.

Run it with the Python of a separate environment holding mediapipe==0.10.14 and opencv (never
the project's own), e.g. `/work/venv-ref/bin/python tools/make_segmentation_golden.py`. It
imports nothing from pose_ros. `mediapipe.solutions.selfie_segmentation.SelfieSegmentation`
(model_selection 0: selfie_segmentation.tflite, 256x256 input) is given 256x256 RGB images, so
MediaPipe's own resampling into and out of the model is the identity and its mask is the
model's output (its graph: input range [0, 1], XNNPACK, activation NONE on the output).

Images (rebuilt the same way by test/test_segmentation.py, checked there by checksum):
* "astronaut": scikit-image's astronaut.png (skimage.data.astronaut()), resized with INTER_AREA;
  give its path with --astronaut where scikit-image is not installed.
* "video": frame 20 of ../shared/data/video/single_person_demo.mp4 (a person bent over a
  basketball, face not visible), pixels [500:1500, 0:1000] resized with INTER_AREA.
Masks are stored as uint16 (probability * 65535, rounded): 8e-6 of resolution.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "data" / "video" / "single_person_demo.mp4"
VIDEO_FRAME, VIDEO_CROP = 20, (slice(500, 1500), slice(0, 1000))


def astronaut(path: Path | None) -> np.ndarray:
    if path is None:
        from skimage.data import astronaut as load
        image = load()
    else:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)


def video_frame(path: Path = VIDEO) -> np.ndarray | None:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, VIDEO_FRAME)
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        return None
    rgb = cv2.cvtColor(np.ascontiguousarray(bgr[VIDEO_CROP]), cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA)


def main() -> None:
    import mediapipe as mp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--astronaut", type=Path, help="astronaut.png, without scikit-image")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "test" / "data" / "segmentation_golden.npz")
    args = parser.parse_args()
    images = {"astronaut": astronaut(args.astronaut), "video": video_frame()}
    out = {"mediapipe_version": np.array(mp.__version__)}
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        for name, image in images.items():
            if image is None:
                print(f"{name}: not available, left out")
                continue
            mask = segmenter.process(image).segmentation_mask
            assert mask.shape == (256, 256), mask.shape
            out[f"{name}_mask"] = np.round(np.clip(mask, 0, 1) * 65535).astype(np.uint16)
            out[f"{name}_checksum"] = np.array(int(image.astype(np.int64).sum()))
            print(f"{name}: mask mean {mask.mean():.4f}, {(mask > 0.5).mean():.3f} above 0.5")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
