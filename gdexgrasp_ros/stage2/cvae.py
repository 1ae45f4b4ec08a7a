"""The part-aware CVAE of stage 2 (G-DexGrasp Sec. 3.2): wrist poses for a part, given the prior's cluster.

Condition (each encoded to 128-d, then concatenated):
- the part's points and normals, centred on their mean and scaled into the unit sphere,
  with the scale factor, through a PointNet++ encoder (stage2.pointnet2);
- the one-hot cluster id of the retrieved prior (zeros when the prior has none);
- V, the centroid of the rest of the object relative to the part centre (decimetres);
- S^P, the part's AABB size (decimetres).
The "object-based network" ablation (object=True) conditions on the whole object's points instead and
has no V or S^P. The CVAE predicts the wrist rotation (6D) and translation (decimetres) in the part-centred
frame; joints are the cluster's representative pose, left to stage 3.

Frames: the network works in an up-aligned frame (z = the scene's up), so it sees upright objects as in
training whatever the camera's frame, and training turns every batch about z by random yaws.
PartQuery.build takes a cloud into that frame; network_inputs centres and scales (the same function in
training and inference); to_cloud maps the poses back.

Checkpoints are safetensors files (no pickle) whose metadata holds the kind, version and model config.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..geometry.rotations import rot6d_to_matrix, up_frame
from ..geometry.sampling import farthest_point_sampling
from .pointnet2 import PointNet2Encoder

CHECKPOINT_KIND = "gdexgrasp_cvae"
CHECKPOINT_VERSION = 1
DM = 10.0  # translations, V and S^P are fed in decimetres (values near 1)


@dataclass(frozen=True)
class CVAEConfig:
    clusters: int  # length of the one-hot cluster id (the prior database's cluster count)
    object_based: bool = False  # the ablation: whole object, no V or S^P
    points: int = 256  # points the encoder sees
    latent: int = 32
    width: int = 256
    code: int = 128  # each condition's encoding


@dataclass
class PartQuery:
    """One grasp query in the network's frame (z = up): the encoder's points of the part (of the whole object
    for the object-based network) and their normals (n, 3), the centroid of the rest of the object (3,) m
    (NaN when there is none), the cluster id, and `up_rotation` (cloud <- network frame)."""

    points: np.ndarray
    normals: np.ndarray
    rest_centroid: np.ndarray
    cluster_id: int
    up_rotation: np.ndarray

    @classmethod
    def build(cls, points, normals, part_mask, cluster_id: int, config: CVAEConfig,
              up=(0.0, 0.0, 1.0)) -> PartQuery:  # fmt: skip
        points, normals, mask = np.asarray(points, float), np.asarray(normals, float), np.asarray(part_mask, bool)
        if not mask.any():
            raise ValueError("the contact part has no points")
        U = up_frame(np.asarray(up, float) / np.linalg.norm(up))
        p, n = points @ U, normals @ U
        seen = np.ones(len(p), bool) if config.object_based else mask
        pick = np.flatnonzero(seen)[_subsample(p[seen], config.points)]
        rest = p[~mask].mean(0) if (~mask).any() else np.full(3, np.nan)
        return cls(p[pick], n[pick], rest, int(cluster_id), U)


def network_inputs(points: torch.Tensor, normals: torch.Tensor, rest: torch.Tensor, cluster_ids: torch.Tensor,
                   config: CVAEConfig, groups=None) -> tuple[dict, torch.Tensor]:  # fmt: skip
    """(the encoders' inputs, the part centre (B, 3) m) from network-frame points (B, n, 3) m, normals, rest
    centroids (B, 3) m (NaN: none) and cluster ids (B,) (-1: none). Training calls it after turning a batch
    about z, inference once per query: the same arithmetic either way. groups: the encoder's precomputed
    groups (PointNet2Encoder.grouping; a turn about the centre leaves them valid), else computed here."""
    lo, hi = points.min(1).values, points.max(1).values
    centre = points.mean(1)  # not the AABB centre: the mean turns with the points, so groups stay valid
    local = points - centre[:, None]
    scale = local.norm(dim=-1).max(1).values.clamp_min(1e-3)
    onehot = torch.zeros(len(points), max(config.clusters, 1), device=points.device)
    known = (cluster_ids >= 0) & (cluster_ids < config.clusters)
    onehot[known, cluster_ids[known]] = 1.0
    has_rest = torch.isfinite(rest).all(-1, keepdim=True)
    V = torch.where(has_rest, (torch.nan_to_num(rest) - centre) * DM, torch.zeros_like(rest))
    batch = {"xyz": local / scale[:, None, None], "normals": normals, "scale": scale, "V": V,
             "S": (hi - lo) * DM, "cluster": onehot, "groups": groups}  # fmt: skip
    return batch, centre


def query_tensors(queries: list[PartQuery], config: CVAEConfig, device="cpu"):
    """network_inputs for a list of queries (and the centres)."""
    t = lambda x: torch.as_tensor(np.stack(x), dtype=torch.float32, device=device)  # noqa: E731
    ids = torch.as_tensor([q.cluster_id for q in queries], dtype=torch.long, device=device)
    return network_inputs(t([q.points for q in queries]), t([q.normals for q in queries]),
                          t([q.rest_centroid for q in queries]), ids, config)  # fmt: skip


def to_cloud(query: PartQuery, centre: np.ndarray, rotation: np.ndarray,
             translation_dm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(R (K, 3, 3), t (K, 3) m) in the cloud's frame from network-frame rotations and translations (dm)."""
    U = query.up_rotation
    return U @ rotation, (translation_dm / DM + centre) @ U.T


def yaw_matrices(angles: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) rotations about z."""
    c, s = torch.cos(angles), torch.sin(angles)
    zero, one = torch.zeros_like(c), torch.ones_like(c)
    return torch.stack([c, -s, zero, s, c, zero, zero, zero, one], dim=-1).reshape(-1, 3, 3)


def _subsample(points: np.ndarray, n: int) -> np.ndarray:
    """n indices: farthest-point samples, repeated cyclically when there are fewer points."""
    return np.resize(farthest_point_sampling(points, n), n)


class PartAwareCVAE(nn.Module):
    def __init__(self, config: CVAEConfig):
        super().__init__()
        self.config = config
        c = config.code
        self.points = PointNet2Encoder(in_features=3, out=c)
        self.cluster = nn.Linear(max(config.clusters, 1), c)  # one-hot -> code
        parts = 2 if config.object_based else 4
        if not config.object_based:
            self.rest = nn.Linear(3, c)
            self.size = nn.Linear(3, c)
        cond, w = parts * c, config.width
        self.encoder = nn.Sequential(nn.Linear(9 + cond, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                                     nn.Linear(w, 2 * config.latent))  # fmt: skip
        self.decoder = nn.Sequential(nn.Linear(config.latent + cond, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(),
                                     nn.Linear(w, 9))  # fmt: skip

    def condition(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        codes = [
            self.points(batch["xyz"], batch["normals"], batch["scale"], batch.get("groups")),
            self.cluster(batch["cluster"]),
        ]
        if not self.config.object_based:
            codes += [self.rest(batch["V"]), self.size(batch["S"])]
        return torch.cat(codes, dim=-1)

    def forward(self, batch, rot6d: torch.Tensor, trans_dm: torch.Tensor):
        """Training pass: (rot6d, trans (dm), mu, logvar) reconstructed from the true pose."""
        cond = self.condition(batch)
        mu, logvar = self.encoder(torch.cat([rot6d, trans_dm, cond], dim=-1)).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        r6, t = self.decode(z, cond)
        return r6, t, mu, logvar

    def decode(self, z: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.decoder(torch.cat([z, cond], dim=-1))
        return out[:, :6], out[:, 6:]

    @torch.no_grad()
    def sample(self, batch, count: int, generator: torch.Generator | None = None):
        """count poses per query from z ~ N(0, I): (rot (B, count, 3, 3), trans_dm (B, count, 3))."""
        cond = self.condition(batch)
        B = cond.shape[0]
        z = torch.randn(B * count, self.config.latent, generator=generator, device=cond.device)
        r6, t = self.decode(z, cond.repeat_interleave(count, dim=0))
        return rot6d_to_matrix(r6).reshape(B, count, 3, 3), t.reshape(B, count, 3)


def save_checkpoint(model: PartAwareCVAE, path: str | Path, extra: dict | None = None) -> None:
    from safetensors.torch import save_file

    meta = {"kind": CHECKPOINT_KIND, "version": str(CHECKPOINT_VERSION), "config": json.dumps(asdict(model.config)),
            "extra": json.dumps(extra or {}, sort_keys=True)}  # fmt: skip
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(path), metadata=meta)


def load_checkpoint(path: str | Path, device="cpu") -> tuple[PartAwareCVAE, dict]:
    """(model in eval mode, extra metadata); ValueError naming the file when it is not a CVAE checkpoint."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no CVAE weights at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if meta.get("kind") != CHECKPOINT_KIND:
            raise ValueError(f"{path} is not a gdexgrasp CVAE checkpoint")
        if int(meta.get("version", -1)) != CHECKPOINT_VERSION:
            raise ValueError(f"{path}: CVAE checkpoint version {meta.get('version')}, this code reads "
                             f"{CHECKPOINT_VERSION}")  # fmt: skip
        model = PartAwareCVAE(CVAEConfig(**json.loads(meta["config"])))
        model.load_state_dict(load_file(str(path), device=str(device)))
    except (SafetensorError, RuntimeError, KeyError, json.JSONDecodeError, TypeError) as err:
        raise ValueError(f"{path}: not a readable CVAE checkpoint ({err})") from err
    return model.to(device).eval(), json.loads(meta.get("extra", "{}"))
