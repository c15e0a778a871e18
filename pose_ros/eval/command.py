"""`pose-ros eval`: 2D accuracy on COCO-format ground truth, 3D accuracy on BVH takes or an npz.

    pose-ros eval --coco person_keypoints_val2017.json --images val2017/ --json eval.json
    pose-ros eval --bvh mocap/cmu --json eval3d.json          # the lifter's held-out subjects
    pose-ros eval --npz sequences.npz                          # layout: pose_ros/eval/eval3d.py

Prints a table and, with --json, writes every number with the exact settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from pose_ros.errors import PoseRosError
from pose_ros.eval.coco import GT_BOX_SCALE, LIMB_JOINTS, PCK_ALPHA, PROTOCOLS
from pose_ros.eval.report import (
    environment,
    file_sha256,
    table_2d,
    table_3d,
    table_recall,
    write_json,
)
from pose_ros.pipeline import add_detection_arguments, add_runtime_arguments
from pose_ros.skeleton import COCO17, DATASET_TOPOLOGIES, H36M17
from pose_ros.tracking import COCO17_SIGMAS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pose-ros eval`; dispatch with run(args)."""
    gt = parser.add_argument_group("2D (COCO-format keypoint ground truth)")
    gt.add_argument("--coco", action="append", default=[], metavar="GT.json",
                    help="COCO-format keypoint file (or MPII's list format); repeat to score "
                    "several files, one by one and pooled")
    gt.add_argument("--images", help="folder the image file names are relative to (one --coco "
                    "only; default: the file's folder, else its parent)")
    gt.add_argument("--keypoint-set", default="auto",
                    choices=["auto", *DATASET_TOPOLOGIES],
                    help="joint set of the ground truth (default: from its category's names)")
    gt.add_argument("--protocol", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS),
                    help="end_to_end (our detector) and/or gt_boxes (crop by each "
                    "ground-truth box); default both")
    gt.add_argument("--predictions", metavar="FILE", help="write the predictions as COCO "
                    "results JSON, one list per protocol")
    gt.add_argument("--max-people", type=int, default=20,
                    help="people per image, end_to_end (default 20)")
    gt.add_argument("--detection-threshold", type=float, default=0.5)
    add_detection_arguments(gt)
    three = parser.add_argument_group("3D (lifter)")
    three.add_argument("--bvh", metavar="DIR", help="BVH takes, scored through the lifter's "
                       "virtual-camera protocol")
    three.add_argument("--subjects", default="", help="comma-separated BVH subjects (file "
                       "prefix); default: every take")
    three.add_argument("--clips", type=int, default=2000, help="ignored: every BVH frame is "
                       "scored (kept for old command lines)")
    three.add_argument("--npz", metavar="FILE", help="2D sequences + 3D ground truth (layout "
                       "in pose_ros/eval/eval3d.py)")
    three.add_argument("--weights", help="lifter weights (default: the shipped ones)")
    parser.add_argument("--json", metavar="FILE", help="write every number and the settings")
    add_runtime_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _eval_2d(args: argparse.Namespace, out) -> dict:
    from pose_ros.eval.coco import Prediction
    from pose_ros.eval.datasets import load_keypoint_dataset
    from pose_ros.eval.eval2d import eval_pipeline_config, evaluate_2d
    from pose_ros.pipeline import PoseEstimator

    if args.images and len(args.coco) > 1:
        raise PoseRosError("--images applies to one --coco file; with several, each file's "
                           "images are looked up next to it")
    datasets = [load_keypoint_dataset(p, args.images, args.keypoint_set) for p in args.coco]
    config = eval_pipeline_config(
        device=args.device, precision=args.precision, num_threads=args.num_threads,
        allow_download=args.allow_download, max_people=args.max_people,
        detection_threshold=args.detection_threshold, tile_levels=args.tile_levels,
        tile_every_n_frames=args.tile_every_n_frames, body_proposals=args.body_proposals)
    estimator = PoseEstimator(config)
    report, predictions = evaluate_2d(datasets, estimator, args.protocol,
                                      progress=not args.quiet)
    for line in table_2d(report) + [""] + table_recall(report):
        print(line, file=out)
    if args.predictions:
        write_json(args.predictions, {proto: [Prediction.coco_result(p) for p in preds]
                                      for proto, preds in predictions.items()})
        print(f"wrote {args.predictions} (image ids: the files' images numbered from 1 in "
              "order)", file=out)
    report["settings"] = {
        "ground_truth": [{"file": str(Path(p).resolve()), "sha256": file_sha256(p),
                          "keypoint_set": d.topology.name} for p, d in zip(args.coco, datasets)],
        "protocols": list(args.protocol), "pipeline": dataclasses.asdict(config),
        "device": estimator.device, "models_sha256": estimator.model_digests(),
        "oks_sigmas": COCO17_SIGMAS.tolist(), "keypoint_names": list(COCO17.keypoint_names),
        "pck_alpha": PCK_ALPHA,
        "pck_joints": [COCO17.keypoint_names[j] for j in LIMB_JOINTS],
        "pck_reference": "torso diagonal (left shoulder-right hip, else right shoulder-left "
                         "hip), else the box's longer side",
        "gt_box_roi": f"BlazePose's best detection in the box enlarged {GT_BOX_SCALE}x (else "
                      f"an upright square of {GT_BOX_SCALE}x the box's longer side)",
        "score": "pose presence x mean keypoint score"}
    return report


def _eval_3d(args: argparse.Namespace, out) -> dict:
    from pose_ros.eval.eval3d import evaluate_bvh, evaluate_npz
    from pose_ros.models.lifter import Lifter
    from pose_ros.pipeline import resolve_device

    lifter = Lifter.load(args.weights, device=resolve_device(args.device))
    report: dict = {"settings": {"weights": args.weights or "shipped",
                                 "weights_sha256": lifter.digest,
                                 "receptive_field": lifter.receptive_field,
                                 "joints": list(H36M17.keypoint_names)}}
    rows = []
    if args.bvh:
        subjects = [s for s in args.subjects.split(",") if s]
        bvh = evaluate_bvh(args.bvh, lifter, subjects, clips=args.clips)
        report["bvh"] = bvh
        print(f"BVH: {bvh['takes']} takes, {bvh['frames']} frames at 30 fps, subjects "
              f"{bvh['subjects']}, every frame scored", file=out)
        rows += [(f"BVH, clean 2D ({bvh['takes']} takes)", bvh["clean"]),
                 (f"BVH, noisy 2D ({bvh['takes']} takes)", bvh["noisy"]),
                 ("BVH, mean pose (baseline)",
                  {"mpjpe_mm": bvh["noisy"]["mean_pose_mpjpe_mm"], "pmpjpe_mm": None,
                   "poses": bvh["noisy"]["poses"]})]
    if args.npz:
        npz = evaluate_npz(args.npz, lifter)
        report["npz"] = {**npz, "file": str(Path(args.npz).resolve()),
                         "sha256": file_sha256(args.npz)}
        rows.append((f"npz, lifter ({npz['sequences']} sequences)", npz["lifter"]))
        if "blazepose_world" in npz:
            rows.append(("npz, BlazePose world landmarks", npz["blazepose_world"]))
    for line in table_3d(rows):
        print(line, file=out)
    return report


def execute(args: argparse.Namespace, out=None) -> dict:
    """The whole `pose-ros eval`; raises PoseRosError on bad input. Returns the report."""
    out = out or sys.stdout
    if not (args.coco or args.bvh or args.npz):
        raise PoseRosError("nothing to evaluate: give --coco GT.json (2D), --bvh DIR or "
                           "--npz FILE (3D)")
    report: dict = {"environment": environment()}
    if args.coco:
        report["2d"] = _eval_2d(args, out)
    if args.bvh or args.npz:
        if args.coco:
            print(file=out)
        report["3d"] = _eval_3d(args, out)
    if args.json:
        write_json(args.json, report)
        print(f"wrote {args.json}", file=out)
    return report


def run(args: argparse.Namespace) -> int:
    """Entry point for the CLI: one clear error line and exit status 1 on bad input."""
    try:
        execute(args)
    except PoseRosError as exc:  # bad input, model files (ModelStoreError)
        print(f"pose-ros eval: error: {exc}", file=sys.stderr)
        return 1
    return 0
