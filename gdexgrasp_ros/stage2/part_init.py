"""Initial wrist poses without a learned generator: the palm placed over surface points, facing them.

`palm_facing_poses` is the one place that turns (target point, outward direction, roll) into a
wrist pose for any HandModel: the hand's palm_point goes `standoff` metres out along the
direction and its palm_normal looks back along it. The generators in `generation.py` choose
the targets (points of the contact part, or of the whole object) and the directions.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from ..geometry.rotations import matrix_to_rot6d
from ..geometry.sampling import farthest_point_sampling
from ..hand.base import HandModel


def palm_facing_poses(targets: np.ndarray, outward: np.ndarray, roll: np.ndarray, hand: HandModel,
                      standoff: np.ndarray | float) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(rot6d (K, 6), trans (K, 3)): palm point `standoff` m out from each target along `outward`,
    the palm facing the target, rolled by `roll` radians about the direction."""
    z = outward / (np.linalg.norm(outward, axis=1, keepdims=True) + 1e-12)
    helper = np.where(np.abs(z[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    x0 = np.cross(helper, z)
    x0 /= np.linalg.norm(x0, axis=1, keepdims=True)
    y0 = np.cross(z, x0)
    x = np.cos(roll)[:, None] * x0 + np.sin(roll)[:, None] * y0
    frame = np.stack([x, np.cross(z, x), z], axis=-1)  # z: away from the surface
    # Turn the hand so its palm normal is the frame's -z (for the OpenHand this is the identity).
    palm_n = hand.palm_normal.detach().cpu().double().numpy()
    to_frame = Rotation.align_vectors([[0.0, 0.0, -1.0]], [palm_n])[0].as_matrix()
    R = frame @ to_frame
    palm = hand.palm_point.detach().cpu().double().numpy()
    standoff = np.broadcast_to(np.asarray(standoff, dtype=float), (len(z),))
    trans = targets + standoff[:, None] * z - np.einsum("kij,j->ki", R, palm)
    return matrix_to_rot6d(torch.as_tensor(R, dtype=torch.float32)), torch.as_tensor(trans, dtype=torch.float32)


def spread_targets(points: np.ndarray, normals: np.ndarray, mask: np.ndarray, k: int):
    """K (points, normals) spread evenly (farthest-point sampling) over the masked points."""
    idx = np.flatnonzero(np.asarray(mask, bool))
    if len(idx) == 0:
        raise ValueError("no points to place the hand at")
    spread = farthest_point_sampling(points[idx], k)
    chosen = idx[spread[np.arange(k) % len(spread)]]
    return points[chosen], normals[chosen]


def tilted(directions: np.ndarray, max_angle: float, rng: np.random.Generator) -> np.ndarray:
    """Unit directions tilted by a uniform random angle up to max_angle (radians), random azimuth."""
    d = directions / (np.linalg.norm(directions, axis=1, keepdims=True) + 1e-12)
    helper = np.where(np.abs(d[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    u = np.cross(helper, d)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(d, u)
    az = rng.uniform(0.0, 2 * np.pi, len(d))
    tilt = rng.uniform(0.0, max_angle, len(d))
    side = np.cos(az)[:, None] * u + np.sin(az)[:, None] * v
    return np.cos(tilt)[:, None] * d + np.sin(tilt)[:, None] * side
