"""Recall by person height: which ground-truth people a 2D run found, bucketed by their box
height in pixels (the detector's limits are in pixels of its input, so this is where a
multi-scale detector shows).

A person counts as found when the Hungarian pairing on OKS (coco.match_people) gives them a
prediction with OKS >= RECALL_OKS; every person with labelled joints is counted.
"""

from __future__ import annotations

import numpy as np

from pose_ros.eval.coco import Prediction, keypoint_oks, match_people

HEIGHT_EDGES_PX = (0, 128, 256, 512)   # buckets [0, 128), [128, 256), [256, 512), [512, inf)
RECALL_OKS = 0.5


def bucket_names(edges=HEIGHT_EDGES_PX) -> list[str]:
    return [f"{lo}-{hi}px" for lo, hi in zip(edges, edges[1:])] + [f">={edges[-1]}px"]


def found_people(dataset, predictions: list[Prediction]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) box heights in px and (N,) found flags of the dataset's scored people."""
    by_image: dict[int, list[Prediction]] = {}
    for p in predictions:
        by_image.setdefault(p.image_id, []).append(p)
    heights, found = [], []
    for im in dataset.images:
        anns = dataset.scored_annotations_of(im["id"])
        if not anns:
            continue
        gt = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, 17, 3)
        areas = np.array([a["area"] for a in anns], dtype=np.float64)
        heights += [float(a["bbox"][3]) for a in anns]
        mine = by_image.get(im["id"], [])
        if not mine:
            found += [False] * len(anns)
            continue
        kp = np.stack([p.keypoints for p in mine])
        match = match_people(kp, gt, areas)
        sim = keypoint_oks(kp, gt, areas)
        found += [bool(m >= 0 and sim[m, g] >= RECALL_OKS) for g, m in enumerate(match)]
    return np.array(heights), np.array(found, dtype=bool)


def recall_by_height(dataset, predictions: list[Prediction],
                     edges=HEIGHT_EDGES_PX) -> dict[str, dict]:
    """{bucket: {"people": n, "found": k, "recall": k / n or None}} plus "all"."""
    heights, found = found_people(dataset, predictions)
    index = np.searchsorted(np.asarray(edges[1:]), heights, side="right")
    out = {}
    for b, name in enumerate(bucket_names(edges)):
        n, k = int((index == b).sum()), int(found[index == b].sum())
        out[name] = {"people": n, "found": k, "recall": k / n if n else None}
    n, k = len(found), int(found.sum())
    out["all"] = {"people": n, "found": k, "recall": k / n if n else None}
    return out
