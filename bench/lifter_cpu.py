"""Lifter latency per frame on this CPU: cached streaming step vs re-running the window.

pose_ros ships the streaming step (Lifter.step: one step of every layer per frame, each track
keeping the activations its dilated kernels still need); this script compares it with running
the network over the whole receptive-field window (Lifter.lift), checks they agree, and prints
p50/p95. Run: python bench/lifter_cpu.py [--people 1 2 4 8] [--frames 300] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pose_ros.models.lifter import Lifter


def percentiles(ms: list[float]) -> str:
    return f"p50 {np.percentile(ms, 50):6.3f} ms  p95 {np.percentile(ms, 95):6.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lifter = Lifter.load()
    rf = lifter.receptive_field
    params = sum(p.numel() for p in lifter.model.parameters())
    print(f"lifter rf {rf}, {lifter.model.channels} channels, {params / 1e6:.2f} M parameters, "
          f"{args.threads} thread(s), {args.frames} frames")
    rng = np.random.default_rng(0)
    for people in args.people:
        frames = rng.normal(size=(args.frames, people, 17, 3)).astype(np.float32)
        streams = [lifter.stream() for _ in range(people)]
        history = np.repeat(frames[:1], rf - 1, axis=0)
        step_ms, window_ms, max_diff = [], [], 0.0
        for frame in frames:
            start = time.perf_counter()
            out_step = lifter.step(streams, frame)
            step_ms.append((time.perf_counter() - start) * 1e3)
            history = np.concatenate([history[1 - rf:] if rf > 1 else history[:0], frame[None]])
            start = time.perf_counter()
            out_window = lifter.lift(np.ascontiguousarray(history.transpose(1, 0, 2, 3)))
            window_ms.append((time.perf_counter() - start) * 1e3)
            max_diff = max(max_diff, float(np.abs(out_step - out_window).max()))
        step_ms, window_ms = step_ms[10:], window_ms[10:]
        print(f"{people} people  step: {percentiles(step_ms)}   window re-run: "
              f"{percentiles(window_ms)}   step per person p50 "
              f"{np.percentile(step_ms, 50) / people:.3f} ms   max |diff| {max_diff:.1e} m")


if __name__ == "__main__":
    main()
