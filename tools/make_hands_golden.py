"""Regenerate test/data/hands_golden.json: MediaPipe Holistic's own hands on real video frames.

Run it with the Python of a separate virtual environment that has mediapipe (it is never a
dependency of pose_ros), from the repository root, with ../shared/data present:

    /work/venv-ref/bin/python tools/make_hands_golden.py      # mediapipe==0.10.14 + opencv

It imports nothing from pose_ros. The frames come from ../shared/data/video (not part of the
repository; test/test_hands.py skips when they are absent) and are identified by file, frame
index and pixel checksum. Two references per frame:

* "holistic": `mediapipe.solutions.holistic.Holistic` (static image mode, model_complexity 1:
  pose_landmark_full + hand_recrop + hand_landmark_full): pose and both hands' keypoints.
* "subgraph": for each arm, MediaPipe's HandLandmarksFromPoseCpu subgraph fed with Holistic's
  own wrist, pinky and index: its ROI from the pose, the re-crop ROI and the hand keypoints, so
  each of our stages can be checked on its own; then the same frame once more, where the graph
  tracks: "tracking_roi_next" is the ROI it then uses (from the first call's hand landmarks
  when they pass its tracking checks, else the re-crop ROI again).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import cv2
import numpy as np

FRAMES = [("single_person_demo.mp4", i) for i in (0, 8, 16, 24, 32, 39)] + \
    [("demo_skeleton.mp4", i) for i in (20, 40)]
OPTIONS = {"static_image_mode": True, "model_complexity": 1, "smooth_landmarks": False,
           "enable_segmentation": False, "refine_face_landmarks": False,
           "min_detection_confidence": 0.5, "min_tracking_confidence": 0.5}
SIDES = {"left": (15, 17, 19), "right": (16, 18, 20)}
HAND_GRAPH = """
input_stream: "image"
input_stream: "hand_points"
output_stream: "landmarks"
output_stream: "roi_from_pose"
output_stream: "roi_from_recrop"
output_stream: "tracking_roi"
node { calculator: "HandLandmarksFromPoseCpu" input_stream: "IMAGE:image"
       input_stream: "HAND_LANDMARKS_FROM_POSE:hand_points"
       output_stream: "HAND_LANDMARKS:landmarks"
       output_stream: "HAND_ROI_FROM_POSE:roi_from_pose"
       output_stream: "HAND_ROI_FROM_RECROP:roi_from_recrop"
       output_stream: "HAND_TRACKING_ROI:tracking_roi" }
"""


def read_frame(video: Path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, bgr = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {index} of {video}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _points(lms, width: int, height: int, visibility: bool = False) -> list:
    return [[round(p.x * width, 4), round(p.y * height, 4)]
            + ([round(p.visibility, 5)] if visibility else []) for p in lms]


def _roi(rect, width: int, height: int) -> dict:
    return {"center_px": [round(rect.x_center * width, 4), round(rect.y_center * height, 4)],
            "size_px": [round(rect.width * width, 4), round(rect.height * height, 4)],
            "rotation_rad": round(rect.rotation, 6)}


def holistic(image: np.ndarray) -> dict:
    import mediapipe as mp

    height, width = image.shape[:2]
    with mp.solutions.holistic.Holistic(**OPTIONS) as model:
        result = model.process(image)
    out = {"pose_px": None, "left_hand_px": None, "right_hand_px": None}
    if result.pose_landmarks is not None:
        out["pose_px"] = _points(result.pose_landmarks.landmark, width, height, visibility=True)
    for side in SIDES:
        hand = getattr(result, f"{side}_hand_landmarks")
        if hand is not None:
            out[f"{side}_hand_px"] = _points(hand.landmark, width, height)
    return out


def subgraph(image: np.ndarray, pose_px: list, side: str) -> dict:
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.framework.formats import landmark_pb2
    from mediapipe.python.solution_base import SolutionBase

    height, width = image.shape[:2]
    points = landmark_pb2.NormalizedLandmarkList()
    for i in SIDES[side]:
        x, y, visibility = pose_px[i]
        points.landmark.add(x=x / width, y=y / height, visibility=visibility)
    config = text_format.Parse(HAND_GRAPH, calculator_pb2.CalculatorGraphConfig())
    with SolutionBase(graph_config=config, outputs=["landmarks", "roi_from_pose",
                                                    "roi_from_recrop", "tracking_roi"]) as graph:
        out = graph.process({"image": image, "hand_points": points})
        again = graph.process({"image": image, "hand_points": points})
    entry = {"roi_from_pose": None, "roi_from_recrop": None, "hand_px": None,
             "tracking_roi_next": None}
    if again.tracking_roi is not None:
        entry["tracking_roi_next"] = _roi(again.tracking_roi, width, height)
    if out.roi_from_pose is not None:
        entry["roi_from_pose"] = _roi(out.roi_from_pose, width, height)
    if out.roi_from_recrop is not None:
        entry["roi_from_recrop"] = _roi(out.roi_from_recrop, width, height)
    if out.landmarks is not None:
        entry["hand_px"] = _points(out.landmarks.landmark, width, height)
    return entry


def _compact(text: str) -> str:
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  text)


def main() -> None:
    import mediapipe as mp

    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=root.parent / "shared" / "data" / "video")
    parser.add_argument("--out", type=Path, default=root / "test" / "data" / "hands_golden.json")
    args = parser.parse_args()
    frames = []
    for name, index in FRAMES:
        image = read_frame(args.videos / name, index)
        entry = {"video": name, "frame": index, "width": image.shape[1], "height": image.shape[0],
                 "checksum": int(image.astype(np.int64).sum()), "holistic": holistic(image)}
        pose = entry["holistic"]["pose_px"]
        entry["subgraph"] = {side: subgraph(image, pose, side) for side in SIDES} if pose else {}
        frames.append(entry)
        found = [s for s in SIDES if entry["holistic"][f"{s}_hand_px"]]
        print(f"{name} #{index}: pose {'yes' if pose else 'no'}, hands {found}")
    result = {"generator": "tools/make_hands_golden.py", "mediapipe_version": mp.__version__,
              "solution_api": "mediapipe.solutions.holistic.Holistic", "options": OPTIONS,
              "frames": frames}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(_compact(json.dumps(result, indent=1)) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
