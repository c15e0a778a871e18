"""MediaPipe's `mp.solutions.pose` in its own process, for `pose-ros bench --reference mediapipe`.

mediapipe 0.10.14 needs protobuf < 5 and the export/onnxruntime tools need protobuf >= 6, so
the reference usually lives in another virtual environment. bench_reference.py starts this file
with that environment's python (`--reference-python`); it imports only numpy and mediapipe
(never pose_ros), so nothing else has to be installed there.

Protocol: one JSON object per line. The parent writes each RGB frame into a shared-memory file
(numpy memmap) and sends {"frame": [height, width]}; the worker runs process() on it and answers
{"ms": wall-clock time of process() alone, "cpu_ms": this process's CPU time
meanwhile (all threads), "keypoints": [[x_px, y_px, visibility] x 33] or null}.
{"reset": true} starts a fresh graph (no tracked person); end of input ends the worker. The
first line the worker writes is {"version": ..., "options": ...}. mediapipe's own logging goes
to stderr: stdout carries the protocol only.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)   # anything mediapipe or its C++ prints lands on stderr
    import numpy as np

    options = json.loads(sys.argv[2])
    try:
        import mediapipe as mp
        pose = mp.solutions.pose.Pose(**options)
    except (ImportError, AttributeError) as exc:
        protocol.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        return 1
    protocol.write(json.dumps({"version": getattr(mp, "__version__", "unknown"),
                               "options": options, "python": sys.version.split()[0]}) + "\n")
    shared, shape = None, None
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("reset"):
            pose.close()
            pose = mp.solutions.pose.Pose(**options)
            protocol.write("{}\n")
            continue
        height, width = request["frame"]
        if shape != (height, width):
            shared = np.memmap(sys.argv[1], dtype=np.uint8, mode="r", shape=(height, width, 3))
            shape = (height, width)
        image = np.array(shared)   # a private copy, as a camera callback would own its frame
        start, cpu = time.perf_counter(), time.process_time()
        result = pose.process(image)
        ms, cpu_ms = (time.perf_counter() - start) * 1e3, (time.process_time() - cpu) * 1e3
        keypoints = None
        if result.pose_landmarks is not None:
            keypoints = [[p.x * width, p.y * height, p.visibility]
                         for p in result.pose_landmarks.landmark]
        protocol.write(json.dumps({"ms": ms, "cpu_ms": cpu_ms, "keypoints": keypoints}) + "\n")
    pose.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
