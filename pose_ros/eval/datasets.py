"""2D keypoint ground truth in COCO format (and MPII's list format), mapped to COCO-17.

Datasets with other keypoint sets (CrowdPose 14, AIC 14, MPII 16, MHP 16, JHMDB 15, PoseTrack 17,
ExLPose 14) are recognised from the joint names in their `categories` and mapped to COCO-17 by
name with the topologies of skeleton.DATASET_TOPOLOGIES: joints COCO-17 lacks are dropped, and
COCO-17 joints the dataset lacks get visibility 0, which pycocotools' OKS and our PCK skip. So a
score on such a set covers only the shared joints (12 limb joints for most), with COCO's sigmas.

Annotations without an `area` (every non-COCO set) get area = 0.53 x box area, the convention of
mmpose for OKS on such sets. MPII's list format (mmpose's `mpii_*.json`: joints, joints_vis,
center, scale per person, 1-based Matlab pixels) becomes one box of side 200 x scale around the
centre.

PoseTrack marks regions where people are deliberately not annotated (crowds, spectators) as
`ignore_regions_x` / `ignore_regions_y` polygons per image; they are kept as the image's
"ignore_regions" ((N, 2) pixel polygons) so scoring can follow PoseTrack's own protocol
(ignored_predictions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose_ros.errors import PoseRosError
from pose_ros.skeleton import COCO17, DATASET_TOPOLOGIES, MPII16, Topology, index_map

AREA_FROM_BOX = 0.53   # OKS area / box area where a dataset gives no segmentation area
PERSON_CATEGORY = {"id": 1, "name": "person", "supercategory": "person",
                   "keypoints": list(COCO17.keypoint_names),
                   "skeleton": [[a + 1, b + 1] for a, b in COCO17.limbs]}


@dataclass
class KeypointDataset:
    """Ground truth in COCO-17.

    Attributes:
        name: a label for reports (the GT file's stem, or "all" after merge()).
        topology: the keypoint set of the source file.
        images: dicts with id, file_name, width, height and path (the resolved image file).
        annotations: COCO keypoint annotations in COCO-17 (id, image_id, category_id 1,
            keypoints (51 floats), num_keypoints, bbox x, y, w, h, area, iscrowd).
    """

    name: str
    topology: Topology
    images: list[dict]
    annotations: list[dict]

    def coco_dict(self) -> dict:
        images = [{k: im[k] for k in ("id", "file_name", "width", "height")}
                  for im in self.images]
        return {"images": images, "annotations": self.annotations,
                "categories": [PERSON_CATEGORY]}

    def annotations_of(self, image_id: int) -> list[dict]:
        return [a for a in self.annotations if a["image_id"] == image_id]

    def scored_annotations_of(self, image_id: int) -> list[dict]:
        """The people of an image that count (see num_people)."""
        return [a for a in self.annotations_of(image_id)
                if a["num_keypoints"] > 0 and not a["iscrowd"]]

    def subset(self, name: str, image_ids: set[int]) -> KeypointDataset:
        return KeypointDataset(name, self.topology,
                               [im for im in self.images if im["id"] in image_ids],
                               [a for a in self.annotations if a["image_id"] in image_ids])

    @property
    def num_people(self) -> int:
        """People that count in the score (some keypoint labelled, not a crowd region)."""
        return sum(1 for a in self.annotations if a["num_keypoints"] > 0 and not a["iscrowd"])


def normalise_name(name: str) -> str:
    """'Right Shoulder', 'Upper-neck' -> 'right_shoulder', 'upper_neck'."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def identify_topology(names: list[str]) -> Topology:
    """The keypoint set whose joint names (in order) are `names`."""
    wanted = tuple(normalise_name(n) for n in names)
    for topology in DATASET_TOPOLOGIES.values():
        if topology.keypoint_names == wanted:
            return topology
    raise PoseRosError(
        f"unknown keypoint set with {len(names)} joints {list(names)}: known sets are "
        f"{sorted(DATASET_TOPOLOGIES)} (skeleton.DATASET_TOPOLOGIES); pass --keypoint-set to "
        "name one when only the names differ")


def to_coco17(keypoints: np.ndarray, topology: Topology) -> np.ndarray:
    """(..., K, 3) in `topology` -> (..., 17, 3) COCO-17; joints it lacks are (0, 0, 0)."""
    idx = index_map(topology, COCO17)
    out = np.zeros((*keypoints.shape[:-2], 17, 3), dtype=np.float64)
    out[..., idx >= 0, :] = keypoints[..., idx[idx >= 0], :]
    out[..., 2] = np.where(out[..., 2] > 0, out[..., 2], 0.0)
    return out


def _annotation(ann_id: int, image_id: int, keypoints_17: np.ndarray, bbox_xywh, area,
                iscrowd) -> dict:
    labelled = keypoints_17[:, 2] > 0
    bbox = [float(v) for v in bbox_xywh] if bbox_xywh is not None else None
    if bbox is None or bbox[2] <= 0 or bbox[3] <= 0:
        if not labelled.any():
            bbox = [0.0, 0.0, 0.0, 0.0]
        else:
            lo, hi = keypoints_17[labelled, :2].min(0), keypoints_17[labelled, :2].max(0)
            bbox = [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]
    if area is None:
        area = AREA_FROM_BOX * bbox[2] * bbox[3]
    return {"id": int(ann_id), "image_id": int(image_id), "category_id": 1,
            "keypoints": keypoints_17.reshape(-1).round(3).tolist(),
            "num_keypoints": int(labelled.sum()), "bbox": bbox, "area": float(area),
            "iscrowd": int(bool(iscrowd))}


def _ignore_regions(image: dict) -> list[np.ndarray]:
    """PoseTrack's ignore regions of one image entry: (N, 2) polygons in pixels ([] if none)."""
    xs, ys = image.get("ignore_regions_x") or [], image.get("ignore_regions_y") or []
    if len(xs) != len(ys) or any(len(x) != len(y) for x, y in zip(xs, ys)):
        raise ValueError(f"image {image.get('id')}: ignore_regions_x and ignore_regions_y "
                         "differ in length (one x and one y per polygon corner)")
    # PoseTrack writes empty lists for frames without regions: no polygon, nothing to ignore
    return [np.column_stack([np.asarray(x, np.float64), np.asarray(y, np.float64)])
            for x, y in zip(xs, ys) if len(x) >= 3]


def ignored_predictions(image: dict, keypoints: np.ndarray) -> np.ndarray:
    """(N,) whether each predicted person (N, 17, 2+) lies in the image's ignore regions.

    PoseTrack's evaluation (poseval) drops every predicted keypoint inside an ignore region and
    then every person left without keypoints, so a prediction on an unannotated spectator costs
    nothing. OKS scores people, not keypoints, so here a person is dropped when most of its
    keypoints (more than half) lie in ignore regions: a skeleton drawn on a spectator goes, one
    whose limbs merely cross a region's edge stays.
    """
    regions = image.get("ignore_regions") or []
    if not regions or not len(keypoints):
        return np.zeros(len(keypoints), bool)
    width, height = int(image["width"]), int(image["height"])
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(r).astype(np.int32) for r in regions], 1)
    xy = np.round(np.asarray(keypoints, np.float64)[..., :2]).astype(int)
    inside_image = ((xy >= 0) & (xy < [width, height])).all(axis=-1)
    xy = np.clip(xy, 0, [width - 1, height - 1])
    inside = (mask[xy[..., 1], xy[..., 0]] > 0) & inside_image
    return inside.sum(axis=-1) * 2 > keypoints.shape[-2]


def _image_root(gt_path: Path, images_dir: Path | None, file_name: str) -> Path:
    candidates = [images_dir] if images_dir is not None else [gt_path.parent,
                                                               gt_path.parent.parent]
    for root in candidates:
        if (root / file_name).is_file():
            return root
    raise PoseRosError(f"cannot find image {file_name!r} of {gt_path} under "
                       f"{[str(c) for c in candidates]}: pass --images DIR (the folder the "
                       "file names are relative to)")


def _image_size(path: Path) -> tuple[int, int]:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise PoseRosError(f"cannot read image {path}")
    return image.shape[1], image.shape[0]


def _load_coco(data: dict, path: Path, images_dir: Path | None,
               topology: Topology | None) -> KeypointDataset:
    categories = [c for c in data.get("categories", []) if c.get("keypoints")]
    if topology is None:
        if not categories:
            raise PoseRosError(f"{path}: no category with a 'keypoints' list, so the keypoint "
                               "set is unknown: pass --keypoint-set")
        topology = identify_topology(categories[0]["keypoints"])
    person_ids = {c["id"] for c in categories} or {1}
    root = _image_root(path, images_dir, data["images"][0]["file_name"]) if data["images"] \
        else path.parent
    images = []
    for im in data["images"]:
        file = root / im["file_name"]
        width, height = (im["width"], im["height"]) if "width" in im and "height" in im \
            else _image_size(file)
        images.append({"id": int(im["id"]), "file_name": im["file_name"], "width": int(width),
                       "height": int(height), "path": str(file),
                       "ignore_regions": _ignore_regions(im)})
    annotations = []
    k = topology.num_keypoints
    for ann in data.get("annotations", []):
        if ann.get("category_id", 1) not in person_ids or "keypoints" not in ann:
            continue
        kp = np.asarray(ann["keypoints"], dtype=np.float64)
        if kp.size != 3 * k:
            raise PoseRosError(f"{path}: annotation {ann.get('id')} has {kp.size // 3} "
                               f"keypoints, the keypoint set {topology.name} has {k}")
        annotations.append(_annotation(ann["id"], ann["image_id"],
                                       to_coco17(kp.reshape(k, 3), topology), ann.get("bbox"),
                                       ann.get("area"), ann.get("iscrowd", 0)))
    return KeypointDataset(path.stem, topology, images, annotations)


def _load_mpii_list(data: list, path: Path, images_dir: Path | None) -> KeypointDataset:
    names = sorted({entry["image"] for entry in data})
    root = _image_root(path, images_dir, names[0])
    images = []
    for i, name in enumerate(names, start=1):
        width, height = _image_size(root / name)
        images.append({"id": i, "file_name": name, "width": width, "height": height,
                       "path": str(root / name)})
    ids = {name: i for i, name in enumerate(names, start=1)}
    annotations = []
    for n, entry in enumerate(data, start=1):
        joints = np.asarray(entry["joints"], dtype=np.float64).reshape(-1, 2) - 1.0
        vis = np.asarray(entry.get("joints_vis", np.ones(len(joints))), dtype=np.float64)
        vis = np.where((vis > 0) & (joints.min(axis=1) >= 0), 2.0, 0.0)
        kp = to_coco17(np.column_stack([joints, vis]), MPII16)
        side = 200.0 * float(entry["scale"])
        cx, cy = np.asarray(entry["center"], dtype=np.float64) - 1.0
        annotations.append(_annotation(n, ids[entry["image"]], kp,
                                       [cx - side / 2, cy - side / 2, side, side], None, 0))
    return KeypointDataset(path.stem, MPII16, images, annotations)


def load_keypoint_dataset(path: str | Path, images_dir: str | Path | None = None,
                          keypoint_set: str = "auto") -> KeypointDataset:
    """Read a COCO-format keypoint file (or MPII's list format) into COCO-17 ground truth.

    Args:
        path: the JSON file.
        images_dir: folder the image file names are relative to (default: the JSON's folder,
            else its parent).
        keypoint_set: "auto" (from the category's joint names) or a name of
            skeleton.DATASET_TOPOLOGIES.
    """
    path = Path(path)
    images_dir = Path(images_dir) if images_dir is not None else None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PoseRosError(f"cannot read ground truth {path}: {exc}") from None
    topology = None
    if keypoint_set != "auto":
        if keypoint_set not in DATASET_TOPOLOGIES:
            raise PoseRosError(f"unknown keypoint set {keypoint_set!r}: use auto or one of "
                               f"{sorted(DATASET_TOPOLOGIES)}")
        topology = DATASET_TOPOLOGIES[keypoint_set]
    try:
        if isinstance(data, list) and data and isinstance(data[0], dict) and "joints" in data[0]:
            return _load_mpii_list(data, path, images_dir)
        if isinstance(data, dict) and "images" in data and "annotations" in data:
            return _load_coco(data, path, images_dir, topology)
    except (KeyError, TypeError, ValueError) as exc:
        raise PoseRosError(f"{path}: malformed ground truth ({type(exc).__name__}: {exc})") \
            from None
    raise PoseRosError(f"{path} is neither COCO keypoint format (a dict with images, "
                       "annotations, categories) nor MPII's list format")


def merge(datasets: list[KeypointDataset], name: str = "all") -> KeypointDataset:
    """One dataset from several (image and annotation ids renumbered), for a pooled score."""
    images, annotations = [], []
    for ds in datasets:
        new_ids = {}
        for im in ds.images:
            new_ids[im["id"]] = len(images) + 1
            images.append({**im, "id": len(images) + 1})
        for ann in ds.annotations:
            annotations.append({**ann, "id": len(annotations) + 1,
                                "image_id": new_ids[ann["image_id"]]})
    topology = datasets[0].topology if len({d.topology for d in datasets}) == 1 else COCO17
    return KeypointDataset(name, topology, images, annotations)
