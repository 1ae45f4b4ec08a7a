"""Per-vertex contact maps (GraspTTA form), differentiable.

c(d) = 1 - 2 (sigmoid(k d) - 0.5), with d the distance in centimetres from a hand vertex to
the object (clamped at 0: a vertex inside the object is in full contact) and k = 2 per cm.
c = 1 at contact, 0.54 at 5 mm, 0.24 at 1 cm, 0.04 at 2 cm.
"""

from __future__ import annotations

import torch

from ..geometry.nearest import NearestIndex

DEFAULT_SHARPNESS = 2.0  # 1/cm


def contact_from_distance(distance_m: torch.Tensor, sharpness: float = DEFAULT_SHARPNESS) -> torch.Tensor:
    d_cm = torch.clamp(distance_m, min=0.0) * 100.0
    return 1.0 - 2.0 * (torch.sigmoid(sharpness * d_cm) - 0.5)


def contact_map(vertices: torch.Tensor, index: NearestIndex, sharpness: float = DEFAULT_SHARPNESS) -> torch.Tensor:
    """(B, V) contact values of hand vertices (B, V, 3) against an indexed object cloud."""
    dist, _ = index.nearest(vertices)
    return contact_from_distance(dist, sharpness)
