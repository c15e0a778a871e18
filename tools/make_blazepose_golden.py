"""Regenerate test/data/blazepose_golden.json: MediaPipe's own BlazePose output on test images.

mediapipe drags in jax and opencv-contrib, so it is never installed into the project's
environment: run this script with the Python of a separate virtual environment, e.g.

    python3.11 -m venv /tmp/mpvenv
    /tmp/mpvenv/bin/pip install mediapipe==0.10.14 scikit-image
    /tmp/mpvenv/bin/python tools/make_blazepose_golden.py

It imports nothing from pose_ros. Two references are written:

* "solution": `mediapipe.solutions.pose.Pose` (static image mode, model_complexity 1: the same
  pose_detection.tflite + pose_landmark_full.tflite that pose_ros runs) on each single image.
* "per_person": MediaPipe's own subgraphs on a frame with the photo twice side by side:
  PoseDetectionCpu (every detection, not only the first as the solution keeps), then for each
  detection PoseDetectionToRoi + PoseLandmarkByRoiCpu, i.e. MediaPipe's landmarks for every
  person it detects.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

SOLUTION_OPTIONS = {"static_image_mode": True, "model_complexity": 1, "smooth_landmarks": False,
                    "enable_segmentation": False, "min_detection_confidence": 0.5,
                    "min_tracking_confidence": 0.5}
# The left copy of the pair scores 0.49 with MediaPipe's detector (the right one 0.71), just
# under the solution's default 0.5: the per-person reference uses 0.3 so both are found.
PER_PERSON_THRESHOLD = 0.3

DETECTION_GRAPH = """
input_stream: "image"
output_stream: "detections"
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image"
       output_stream: "DETECTIONS:detections" }
"""
LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "detection"
input_side_packet: "model_complexity"
output_stream: "roi"
output_stream: "landmarks"
output_stream: "auxiliary_landmarks"
output_stream: "world_landmarks"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE_CPU:image"
       output_stream: "SIZE:image_size" }
node { calculator: "PoseDetectionToRoi" input_stream: "DETECTION:detection"
       input_stream: "IMAGE_SIZE:image_size" output_stream: "ROI:roi" }
node { calculator: "PoseLandmarkByRoiCpu" input_side_packet: "MODEL_COMPLEXITY:model_complexity"
       input_stream: "IMAGE:image" input_stream: "ROI:roi"
       output_stream: "LANDMARKS:landmarks" output_stream: "AUXILIARY_LANDMARKS:auxiliary_landmarks"
       output_stream: "WORLD_LANDMARKS:world_landmarks" }
"""


def test_images() -> dict[str, np.ndarray]:
    """RGB uint8 images by name; test/test_blazepose.py builds them the same way."""
    from skimage import data

    astronaut = data.astronaut()
    return {
        "astronaut": astronaut,  # 512 x 512
        # 512 wide x 384 high: exercises the letterbox of a non-square frame
        "astronaut_wide": np.ascontiguousarray(astronaut[16:400]),
        "astronaut_pair": np.ascontiguousarray(np.concatenate([astronaut, astronaut], axis=1)),
    }


def _image_entry(image: np.ndarray) -> dict:
    return {"width": image.shape[1], "height": image.shape[0],
            "checksum": int(image.astype(np.int64).sum())}


def _keypoints(lms, width: int, height: int) -> list:
    return [[round(lm.x * width, 4), round(lm.y * height, 4), round(lm.visibility, 5)]
            for lm in lms]


def _world(lms) -> list:
    return [[round(w.x, 5), round(w.y, 5), round(w.z, 5)] for w in lms]


def solution(image: np.ndarray) -> dict:
    import mediapipe as mp

    with mp.solutions.pose.Pose(**SOLUTION_OPTIONS) as pose:
        result = pose.process(image)
    height, width = image.shape[:2]
    entry = {**_image_entry(image), "found": result.pose_landmarks is not None}
    if entry["found"]:
        entry["keypoints_px"] = _keypoints(result.pose_landmarks.landmark, width, height)
        entry["world_m"] = _world(result.pose_world_landmarks.landmark)
    return entry


def per_person(image: np.ndarray) -> dict:
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solution_base import SolutionBase

    def graph(text: str) -> calculator_pb2.CalculatorGraphConfig:
        return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())

    height, width = image.shape[:2]
    threshold = "posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh"
    with SolutionBase(graph_config=graph(DETECTION_GRAPH), outputs=["detections"],
                      calculator_params={threshold: PER_PERSON_THRESHOLD}) as detector:
        detections = list(detector.process({"image": image}).detections or [])
    people = []
    for detection in detections:
        with SolutionBase(graph_config=graph(LANDMARK_GRAPH), side_inputs={"model_complexity": 1},
                          outputs=["roi", "landmarks", "auxiliary_landmarks", "world_landmarks"],
                          ) as landmarker:
            out = landmarker.process({"image": image, "detection": detection})
        roi = out.roi
        person = {
            "detection_score": round(detection.score[0], 5),
            "detection_keypoints_px": [[round(k.x * width, 3), round(k.y * height, 3)]
                                       for k in detection.location_data.relative_keypoints],
            "roi": {"center_px": [round(roi.x_center * width, 3), round(roi.y_center * height, 3)],
                    "size_px": round(roi.width * width, 3),
                    "rotation_rad": round(roi.rotation, 5)},
            "found": out.landmarks is not None,
        }
        if person["found"]:
            person["keypoints_px"] = _keypoints(out.landmarks.landmark, width, height)
            person["auxiliary_px"] = [kp[:2] for kp in _keypoints(
                out.auxiliary_landmarks.landmark, width, height)]
            person["world_m"] = _world(out.world_landmarks.landmark)
        people.append(person)
    return {**_image_entry(image), "detection_threshold": PER_PERSON_THRESHOLD, "people": people}


def _compact(text: str) -> str:
    """Put each innermost list of numbers on one line."""
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  text)


def main() -> None:
    import mediapipe as mp

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / "test" / "data" / "blazepose_golden.json"
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args()
    images = test_images()
    result = {
        "generator": "tools/make_blazepose_golden.py",
        "mediapipe_version": mp.__version__,
        "solution_api": "mediapipe.solutions.pose.Pose",
        "solution_options": SOLUTION_OPTIONS,
        "solution": {name: solution(images[name]) for name in ("astronaut", "astronaut_wide")},
        "per_person": {"astronaut_pair": per_person(images["astronaut_pair"])},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(_compact(json.dumps(result, indent=1)) + "\n")
    pair = result["per_person"]["astronaut_pair"]["people"]
    print(f"wrote {args.out}: mediapipe {mp.__version__}; " + ", ".join(
        f"{k}: {'pose' if v['found'] else 'no pose'}" for k, v in result["solution"].items())
        + f"; astronaut_pair: {len(pair)} people")


if __name__ == "__main__":
    main()
