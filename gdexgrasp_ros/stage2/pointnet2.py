"""PointNet++ set-abstraction encoder in plain torch (no CUDA extensions), for the part-aware CVAE.

Each set-abstraction layer picks centroids by farthest-point sampling, groups up to k neighbours
within a radius around each (ball query), and runs a shared MLP over every neighbour's offset from
its centroid plus its features, max-pooled per group. A last global layer pools everything into one
vector. Sampling and grouping come from geometry.sampling / geometry.nearest. Radii are for clouds
normalised to the unit sphere.
"""

from __future__ import annotations

import torch
from torch import nn

from ..geometry.nearest import ball_query
from ..geometry.sampling import farthest_point_sampling_batched


def shared_mlp(sizes: list[int]) -> nn.Sequential:
    """Pointwise layers (Linear + ReLU), applied to the last axis."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers)


def gather(values: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """values (B, N, C) at idx (B, ...) -> (B, ..., C)."""
    B = values.shape[0]
    flat = idx.reshape(B, -1)
    out = torch.gather(values, 1, flat[..., None].expand(-1, -1, values.shape[-1]))
    return out.reshape(*idx.shape, values.shape[-1])


class SetAbstraction(nn.Module):
    def __init__(self, centroids: int, radius: float, neighbours: int, in_features: int, widths: list[int]):
        super().__init__()
        self.centroids, self.radius, self.neighbours = centroids, radius, neighbours
        self.mlp = shared_mlp([in_features + 3, *widths])

    def grouping(self, xyz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(centroid indices (B, M), neighbour indices (B, M, k)). Both depend only on distances, so a rigid
        motion of the cloud leaves them unchanged (training computes them once per sample)."""
        centres = farthest_point_sampling_batched(xyz, min(self.centroids, xyz.shape[1]))
        return centres, ball_query(gather(xyz, centres), xyz, self.radius, self.neighbours)

    def forward(self, xyz: torch.Tensor, features: torch.Tensor, groups=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 3), (B, N, C) -> centroids (B, M, 3), their features (B, M, widths[-1])."""
        centre_idx, neighbours = self.grouping(xyz) if groups is None else groups
        centres = gather(xyz, centre_idx)
        local = gather(xyz, neighbours) - centres[:, :, None]
        grouped = torch.cat([local / self.radius, gather(features, neighbours)], dim=-1)
        return centres, self.mlp(grouped).max(dim=2).values


class PointNet2Encoder(nn.Module):
    """(B, N, 3) unit-sphere points + (B, N, C) features + (B,) scale factor -> (B, out) code.

    Sized for training on a CPU (256 points, 64 then 16 centroids of 16 neighbours)."""

    def __init__(self, in_features: int = 3, out: int = 128):
        super().__init__()
        self.sa1 = SetAbstraction(64, 0.25, 16, in_features, [32, 32, 64])
        self.sa2 = SetAbstraction(16, 0.5, 16, 64, [64, 64, 128])
        self.glob = shared_mlp([128 + 3, 128, 128])
        self.head = nn.Sequential(nn.Linear(128 + 1, out), nn.ReLU(), nn.Linear(out, out))

    def grouping(self, xyz: torch.Tensor) -> tuple:
        """Both layers' groups for these clouds (pass them to forward to skip the sampling)."""
        first = self.sa1.grouping(xyz)
        return first, self.sa2.grouping(gather(xyz, first[0]))

    def forward(self, xyz: torch.Tensor, features: torch.Tensor, scale: torch.Tensor, groups=None) -> torch.Tensor:
        first, second = groups if groups is not None else (None, None)
        c1, f1 = self.sa1(xyz, features, first)
        c2, f2 = self.sa2(c1, f1, second)
        pooled = self.glob(torch.cat([c2, f2], dim=-1)).max(dim=1).values
        return self.head(torch.cat([pooled, torch.log(scale)[:, None]], dim=-1))
