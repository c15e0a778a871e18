"""A person's cues and hands as the `cues` object of poses.jsonl, with its JSON schema (the
ROS message of the same cues is built in cue_messages.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pose_ros.person import Person


def _rounded(values, digits: int) -> list | None:
    return None if values is None else np.round(np.asarray(values, np.float64), digits).tolist()


def cues_record(person: Person) -> dict[str, Any] | None:
    """A person's cues and hands for poses.jsonl (CUES_JSON_SCHEMA); None when cues are off."""
    c = person.cues
    if c is None:
        return None
    ray = c.pointing
    return {
        "active": [f"{q.name}/{q.side}" if q.side else q.name for q in c.cues if q.active],
        "events": [{"cue": e.name, "side": e.side, "kind": e.kind,
                    "confidence": round(float(e.confidence), 3)} for e in c.events],
        "pointing": None if ray is None else {
            "side": ray.side, "origin": _rounded(ray.origin_m, 4),
            "direction": _rounded(ray.direction, 4), "target": _rounded(ray.target_m, 4)},
        "distance_m": None if c.distance_m is None else round(float(c.distance_m), 4),
        "approach_speed_mps": (None if c.approach_speed_mps is None
                               else round(float(c.approach_speed_mps), 4)),
        "facing_deg": None if c.facing_deg is None else round(float(c.facing_deg), 2),
        "closest": bool(c.closest),
        "hands": [{"side": h.side, "score": round(float(h.score), 4),
                   "keypoints": _rounded(h.keypoints_2d, 2)} for h in person.hands],
    }


_NUM_OR_NULL = {"oneOf": [{"type": "null"}, {"type": "number"}]}
_VEC3 = {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3}
CUES_JSON_SCHEMA: dict[str, Any] = {"oneOf": [{"type": "null"}, {
    "type": "object", "additionalProperties": False,
    "required": ["active", "events", "pointing", "distance_m", "approach_speed_mps",
                 "facing_deg", "closest", "hands"],
    "properties": {
        "active": {"type": "array", "items": {"type": "string"}},
        "events": {"type": "array", "items": {"type": "object", "properties": {
            "cue": {"type": "string"}, "side": {"type": "string"},
            "kind": {"enum": ["start", "stop"]}, "confidence": {"type": "number"}}}},
        "pointing": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {
            "side": {"type": "string"}, "origin": _VEC3, "direction": _VEC3,
            "target": {"oneOf": [{"type": "null"}, _VEC3]}}}]},
        "distance_m": _NUM_OR_NULL, "approach_speed_mps": _NUM_OR_NULL,
        "facing_deg": _NUM_OR_NULL, "closest": {"type": "boolean"},
        "hands": {"type": "array", "items": {"type": "object", "properties": {
            "side": {"enum": ["left", "right"]}, "score": {"type": "number"},
            "keypoints": {"type": "array", "minItems": 21, "maxItems": 21}}}},
    }}]}
