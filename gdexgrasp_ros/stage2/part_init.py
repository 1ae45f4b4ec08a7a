"""Part-aware initial wrist poses without a learned generator (the paper's "part random init").

Each candidate faces a point of the contact part: the palm (wrist -z) looks along the inward
surface normal from `standoff` metres out, with a random roll about that normal. This is the
baseline the part-aware CVAE improves on, and the initialisation used until its weights exist.
"""

from __future__ import annotations

import numpy as np
import torch

from ..geometry.rotations import matrix_to_rot6d
from ..geometry.sampling import farthest_point_sampling

# Palm centre in the OpenHand wrist frame (under the middle of the palm): what we aim at the part.
PALM_CENTER = np.array([0.07, 0.0, -0.03])


def part_facing_poses(points: np.ndarray, normals: np.ndarray, part_mask: np.ndarray, k: int,
                      standoff: float = 0.02, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """K (rot6d (K, 6), trans (K, 3)) with the palm centre `standoff` m outside part points, facing them."""
    idx = np.flatnonzero(np.asarray(part_mask, bool))
    if len(idx) == 0:
        raise ValueError("the contact part has no points")
    rng = np.random.default_rng(seed)
    spread = farthest_point_sampling(points[idx], k)  # evenly over the part
    chosen = spread[np.arange(k) % len(spread)]
    p, n = points[idx][chosen], normals[idx][chosen]
    n = n / (np.linalg.norm(n, axis=1, keepdims=True) + 1e-12)
    z = n  # the back of the hand points away from the surface, the palm (-z) towards it
    roll = rng.uniform(0, 2 * np.pi, size=len(p))
    helper = np.where(np.abs(z[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    x0 = np.cross(helper, z)
    x0 /= np.linalg.norm(x0, axis=1, keepdims=True)
    y0 = np.cross(z, x0)
    x = np.cos(roll)[:, None] * x0 + np.sin(roll)[:, None] * y0
    y = np.cross(z, x)
    R = np.stack([x, y, z], axis=-1)
    trans = p + standoff * n - np.einsum("kij,j->ki", R, PALM_CENTER)
    return matrix_to_rot6d(torch.as_tensor(R, dtype=torch.float32)), torch.as_tensor(trans, dtype=torch.float32)
