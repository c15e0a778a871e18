"""Causal temporal 3D lifter: the last N frames of 2D keypoints -> root-relative 3D in metres.

The network follows VideoPose3D's causal mode (Pavllo et al., CVPR 2019): dilated 1D
convolutions over time whose receptive field (1, 9, 27 or 81 frames) ends at the current frame,
so no future frame is needed. Input per frame: the 17 lifter joints (skeleton.H36M17) as
(x, y, score), and for the "fused" kind also BlazePose-world-landmark-like 3D of the same joints
(x, y, z metres); output: 17 joints (x, y, z) metres in the camera optical frame, relative to
the pelvis. Joint definition: the output follows the input keypoints' own definition (training
varies it from mocap joint centres to BlazePose-like surface points, the same for input and
target; pose_ros/train/lifter_data.py), so the 3D projects onto the 2D it came from.

2D normalization (`normalize`), independent of image size and focal length:
  1. pixels -> normalized image coordinates with the intrinsics: ((u - cx) / fx, (v - cy) / fy);
  2. every joint but the pelvis is taken relative to the pelvis and divided by the 2D body
     scale s = sqrt(score-weighted mean squared distance of the joints from the pelvis);
  3. the pelvis slot keeps its absolute normalized coordinates (the viewing ray, which
     perspective depends on); scores pass through.
World input (`normalize_world`, fused kind only): BlazePose predicts its world landmarks from a
crop, so their axes are those of a camera looking along the ray to the person (x right, y down,
z along the ray), not the optical axis; they are turned into the camera's axes by the rotation
that takes the optical axis onto the pelvis ray, and re-centred on the pelvis. Metres as given.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pose_ros.errors import PoseRosError

NUM_JOINTS = 17
RECEPTIVE_FIELDS = {1: (1,), 9: (3, 3), 27: (3, 3, 3), 81: (3, 3, 3, 3)}
# receptive field -> shipped weights: 2D keypoints only, and "fused" (2D + world landmarks).
SHIPPED = {27: Path(__file__).with_name("lifter_rf27.pt")}
SHIPPED_FUSED = {27: Path(__file__).with_name("lifter_fused_rf27.pt")}
FEATURES = {"2d": 3, "fused": 6}


def normalize_2d(keypoints_norm: np.ndarray) -> np.ndarray:
    """(..., 17, 3) normalized image coords + score -> model input (see module docstring)."""
    xy, score = keypoints_norm[..., :2], keypoints_norm[..., 2:3]
    pelvis = xy[..., :1, :]
    rel = xy - pelvis
    w = np.clip(score, 0.05, 1.0)
    scale = np.sqrt((w * (rel ** 2).sum(-1, keepdims=True)).sum(-2, keepdims=True)
                    / w.sum(-2, keepdims=True)) + 1e-6
    out = rel / scale
    out[..., :1, :] = pelvis
    return np.concatenate([out, score], axis=-1).astype(np.float32)


def ray_rotation(pelvis_norm: np.ndarray) -> np.ndarray:
    """(..., 2) normalized image coords of the pelvis -> (..., 3, 3) rotation taking the optical
    axis (0, 0, 1) onto the ray through the pelvis (the smallest such rotation)."""
    ray = np.concatenate([pelvis_norm, np.ones_like(pelvis_norm[..., :1])], axis=-1)
    ray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
    axis = np.stack([-ray[..., 1], ray[..., 0], np.zeros_like(ray[..., 0])], axis=-1)  # z x ray
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = ray[..., 2:3]
    k = axis / np.maximum(s, 1e-12)
    kx, ky, kz = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(kx)
    cross = np.stack([np.stack([zero, -kz, ky], -1), np.stack([kz, zero, -kx], -1),
                      np.stack([-ky, kx, zero], -1)], -2)
    eye = np.broadcast_to(np.eye(3), cross.shape)
    s, c = s[..., None], c[..., None]
    return eye + s * cross + (1 - c) * cross @ cross


def normalize_world(world_m: np.ndarray, pelvis_norm: np.ndarray) -> np.ndarray:
    """(..., 17, 3) world landmarks (ray axes, metres) + (..., 2) pelvis normalized coords ->
    (..., 17, 3) camera axes, pelvis-centred (see the module docstring)."""
    rot = ray_rotation(pelvis_norm)
    cam = world_m @ np.swapaxes(rot, -1, -2)
    return (cam - cam[..., :1, :]).astype(np.float32)


class TemporalLifter(nn.Module):
    """Dilated causal temporal convolutions (VideoPose3D TemporalModel, causal, no padding).

    Args:
        receptive_field: 1, 9, 27 or 81 frames.
        channels: width of every hidden layer.
        dropout: dropout after each hidden layer (training only).
        in_features: per joint and frame: 3 (x, y, score) or 6 (+ world x, y, z).
    """

    def __init__(self, receptive_field: int = 27, channels: int = 512, dropout: float = 0.1,
                 in_features: int = 3):
        super().__init__()
        if in_features not in FEATURES.values():
            raise ValueError(f"in_features {in_features}: use 3 (2D) or 6 (2D + world)")
        if receptive_field not in RECEPTIVE_FIELDS:
            raise ValueError(f"receptive field {receptive_field}: use one of "
                             f"{sorted(RECEPTIVE_FIELDS)}")
        widths = RECEPTIVE_FIELDS[receptive_field]
        self.receptive_field = receptive_field
        self.channels = channels
        self.in_features = in_features
        self.expand = nn.Conv1d(NUM_JOINTS * in_features, channels, widths[0], bias=False)
        self.expand_bn = nn.BatchNorm1d(channels)
        self.layers = nn.ModuleList()
        self.pads = []
        dilation = widths[0]
        for w in widths[1:]:
            self.pads.append((w - 1) * dilation)
            self.layers.append(nn.ModuleList([
                nn.Conv1d(channels, channels, w, dilation=dilation, bias=False),
                nn.BatchNorm1d(channels),
                nn.Conv1d(channels, channels, 1, bias=False),
                nn.BatchNorm1d(channels),
            ]))
            dilation *= w
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU(inplace=True)
        self.shrink = nn.Conv1d(channels, NUM_JOINTS * 3, 1)

    def forward_last(self, x: torch.Tensor) -> torch.Tensor:
        """(B, receptive_field, 17, F) -> (B, 17, 3): forward(x)[:, -1] computed with strided
        instead of dilated convolutions, so only what the last frame needs is computed
        (VideoPose3D's optimized 1-frame model; same weights). A convolution whose stride is its
        width is a matrix product on non-overlapping groups of frames, so it runs as one (2-3x
        faster than conv1d on this CPU). Training uses it."""
        assert x.dim() == 4 and x.shape[1:] == (self.receptive_field, NUM_JOINTS,
                                                 self.in_features), f"got {tuple(x.shape)}"
        b = x.shape[0]

        def grouped(h: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
            """(B, T, C) channels-last -> (B, T / width, out): conv with stride = width."""
            w = conv.kernel_size[0]
            weight = conv.weight.permute(0, 2, 1).reshape(conv.out_channels, -1)
            return nn.functional.linear(h.reshape(b, h.shape[1] // w, w * h.shape[2]), weight)

        def norm(h: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
            return bn(h.reshape(-1, h.shape[-1])).reshape(h.shape)

        h = x.reshape(b, self.receptive_field, -1)
        h = self.drop(self.relu(norm(grouped(h, self.expand), self.expand_bn)))
        for conv, bn, conv1, bn1 in self.layers:
            w = conv.kernel_size[0]
            res = h[:, w - 1::w]
            h = self.drop(self.relu(norm(grouped(h, conv), bn)))
            h = res + self.drop(self.relu(norm(nn.functional.linear(h, conv1.weight[:, :, 0]),
                                               bn1)))
        out = nn.functional.linear(h[:, -1], self.shrink.weight[:, :, 0], self.shrink.bias)
        return out.reshape(b, NUM_JOINTS, 3)

    def example_input(self, batch: int = 1) -> torch.Tensor:
        """A zero input of the right shape (B, receptive_field, 17, F), for export."""
        return torch.zeros(batch, self.receptive_field, NUM_JOINTS, self.in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 17, F) -> (B, T - receptive_field + 1, 17, 3); the last output is causal."""
        assert x.dim() == 4 and x.shape[2:] == (NUM_JOINTS, self.in_features), \
            f"got {tuple(x.shape)}, expected (B, T, {NUM_JOINTS}, {self.in_features})"
        assert x.shape[1] >= self.receptive_field, "fewer frames than the receptive field"
        b = x.shape[0]
        h = x.flatten(2).transpose(1, 2)
        h = self.drop(self.relu(self.expand_bn(self.expand(h))))
        for pad, (conv, bn, conv1, bn1) in zip(self.pads, self.layers):
            res = h[:, :, pad:]
            h = self.drop(self.relu(bn(conv(h))))
            h = res + self.drop(self.relu(bn1(conv1(h))))
        return self.shrink(h).transpose(1, 2).reshape(b, -1, NUM_JOINTS, 3)


class LifterStream:
    """One track's streaming state: the activations each layer's dilated kernel still needs.

    With it a frame costs one step of every layer instead of a run over the whole window
    (bench/lifter_cpu.py: about half the time at receptive field 27, same output). A new track
    starts as if its first frame had been repeated back in time.
    """

    def __init__(self) -> None:
        self.state: list[torch.Tensor] | None = None  # [inputs, layer 1 buffer, ...], no batch


class Lifter:
    """The trained network + how to feed it; one instance serves every track (batched)."""

    def __init__(self, model: TemporalLifter, device: str = "cpu", digest: str = "",
                 metadata: dict | None = None):
        self.model = model.to(device).eval()
        self.device = device
        self.digest = digest
        self.metadata = metadata or {}
        self.receptive_field = model.receptive_field

    @property
    def uses_world(self) -> bool:
        """True for the fused kind: normalize() needs world landmarks."""
        return self.model.in_features == FEATURES["fused"]

    @classmethod
    def load(cls, path: str | Path | None = None, *, device: str = "cpu",
             receptive_field: int = 27, kind: str = "2d") -> Lifter:
        """Weights from `path` (either kind), or the shipped `kind` weights for
        `receptive_field` (no network)."""
        if path is None:
            table = SHIPPED_FUSED if kind == "fused" else SHIPPED
            shipped = table.get(receptive_field)
            if shipped is None or not shipped.exists():
                raise PoseRosError(
                    f"no shipped {kind} lifter weights for receptive field {receptive_field} "
                    f"(shipped: {sorted(k for k, p in table.items() if p.exists())}): train "
                    f"them with `pose-ros train-lifter --receptive-field {receptive_field}"
                    f"{' --world' if kind == 'fused' else ''}` and set lifter_model to the file")
            path = shipped
        path = Path(path)
        try:
            raw = path.read_bytes()
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            model = TemporalLifter(checkpoint["receptive_field"], checkpoint["channels"],
                                   in_features=checkpoint.get("in_features", 3))
            model.load_state_dict({k: v.float() for k, v in checkpoint["state_dict"].items()})
        except (OSError, RuntimeError, KeyError, ValueError, EOFError,
                pickle.UnpicklingError) as exc:
            raise PoseRosError(f"cannot load lifter weights {path}: {exc}; point lifter_model at "
                               "a file written by `pose-ros train-lifter`, or leave it empty "
                               "for the shipped weights") from None
        if path.suffix == ".pt" and path.with_suffix(".json").exists():
            metadata = json.loads(path.with_suffix(".json").read_text())
        else:
            metadata = {}
        return cls(model, device, hashlib.sha256(raw).hexdigest(), metadata)

    def stream(self) -> LifterStream:
        return LifterStream()

    def normalize(self, keypoints_px: np.ndarray, intrinsics,
                  world_m: np.ndarray | None = None) -> np.ndarray:
        """(..., 17, 3) lifter joints x_px, y_px, score [+ (..., 17, 3) world landmarks: metres,
        pelvis-centred, H36M17 order, as skeleton.lifter_world_from_blazepose33 makes them]
        -> (..., 17, 3 or 6) model input. world_m is required by the fused kind and ignored
        by the 2D kind."""
        xy = intrinsics.normalized(keypoints_px[..., :2])
        inputs = normalize_2d(np.concatenate([xy, keypoints_px[..., 2:3]], axis=-1))
        if not self.uses_world:
            return inputs
        if world_m is None:
            raise ValueError("the fused lifter needs world landmarks (world_m) with the 2D")
        world = normalize_world(np.asarray(world_m, np.float64), xy[..., 0, :])
        return np.concatenate([inputs, world], axis=-1)

    @torch.inference_mode()
    def step(self, streams: list[LifterStream], inputs: np.ndarray) -> np.ndarray:
        """One new frame per track, all tracks in one batch: (B, 17, F) model inputs (from
        normalize) -> (B, 17, 3) metres, pelvis-relative, camera frame; updates the streams.

        Equal to `lift` on each track's last receptive_field frames (start padded by repetition).
        """
        m = self.model
        x = torch.as_tensor(np.ascontiguousarray(inputs), dtype=torch.float32,
                            device=self.device).reshape(len(streams), -1, 1)

        def advance(level: int, new: torch.Tensor, width: int) -> torch.Tensor:
            """Append each track's newest activation to its buffer at `level`; stack them."""
            rows = []
            for i, s in enumerate(streams):
                if s.state is None or len(s.state) <= level:
                    rows.append(new[i].repeat(1, width))
                else:
                    rows.append(torch.cat([s.state[level][:, 1:], new[i]], dim=1))
            return torch.stack(rows)

        buffers = [advance(0, x, m.expand.kernel_size[0])]
        h = m.relu(m.expand_bn(m.expand(buffers[0])))
        for level, (pad, (conv, bn, conv1, bn1)) in enumerate(zip(m.pads, m.layers), start=1):
            buffers.append(advance(level, h, pad + 1))
            taps = buffers[-1][:, :, ::conv.dilation[0]]  # the kernel's inputs, oldest first
            out = m.relu(bn(nn.functional.conv1d(taps, conv.weight)))
            h = h + m.relu(bn1(conv1(out)))
        for i, s in enumerate(streams):
            s.state = [b[i] for b in buffers]
        y = m.shrink(h).reshape(len(streams), NUM_JOINTS, 3)
        return (y - y[:, :1]).cpu().numpy().astype(np.float64)

    @torch.inference_mode()
    def lift(self, windows: np.ndarray) -> np.ndarray:
        """(B, N, 17, F) model inputs -> (B, 17, 3) metres, pelvis-relative, camera frame."""
        x = torch.as_tensor(np.ascontiguousarray(windows), dtype=torch.float32,
                            device=self.device)
        out = self.model(x)[:, -1]
        out = out - out[:, :1]
        return out.cpu().numpy().astype(np.float64)
