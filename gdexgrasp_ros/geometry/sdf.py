"""Analytic signed distances of primitives (metres; negative inside), torch and batched.

Used by the hand (a union of tapered capsules and a rounded box) and by tests. Each
function takes points already expressed in the primitive's local frame.
"""

from __future__ import annotations

import torch


def tapered_capsule_sdf(p: torch.Tensor, length: torch.Tensor, r0: torch.Tensor, r1: torch.Tensor) -> torch.Tensor:
    """Signed distance to the convex hull of two spheres on the local x axis.

    Sphere 0: centre (0, 0, 0), radius r0; sphere 1: centre (length, 0, 0), radius r1.
    p: (..., 3); length, r0, r1 broadcast against p[..., 0]. Works in the 2D half-plane
    (u along the axis, v radial distance): the side is the common tangent line with unit
    normal n = (sin a, cos a), sin a = (r0 - r1) / length; points whose projection falls
    before / after the tangent points are nearest a cap sphere. Exact outside and on the
    surface; inside, it is minus the distance to the nearest side line or cap.
    """
    u = p[..., 0]
    v = torch.sqrt(p[..., 1] ** 2 + p[..., 2] ** 2 + 1e-18)
    sin_a = (r0 - r1) / length
    cos_a = torch.sqrt(torch.clamp(1.0 - sin_a * sin_a, min=1e-9))
    # Position along the side line, measured from the tangent point on sphere 0.
    s = (u - r0 * sin_a) * cos_a - (v - r0 * cos_a) * sin_a
    side = u * sin_a + v * cos_a - r0
    cap0 = torch.sqrt(u * u + v * v) - r0
    cap1 = torch.sqrt((u - length) ** 2 + v * v) - r1
    return torch.where(s < 0, cap0, torch.where(s > length * cos_a, cap1, side))


def rounded_box_sdf(p: torch.Tensor, half_extents: torch.Tensor, radius: float) -> torch.Tensor:
    """Signed distance to a box of half extents `half_extents` (3,) with edges rounded by `radius`.

    The rounded box is the inner box (half_extents - radius) dilated by radius; exact.
    """
    q = p.abs() - (half_extents - radius)
    outside = torch.sqrt((torch.clamp(q, min=0.0) ** 2).sum(-1) + 1e-18)
    inside = torch.clamp(q.max(dim=-1).values, max=0.0)
    return outside + inside - radius
