"""Initial wrist poses without a learned generator: the palm placed over surface points, facing them.

`palm_facing_poses` is the one place that turns (target point, outward direction, roll) into a
wrist pose for any HandModel: the hand's palm_point goes `standoff` metres out along the
direction and its palm_normal looks back along it. The generators in `generation.py` choose
the targets (points of the contact part, or of the whole object) and the directions.
`push_clear` then moves hands that start inside a complete object back out along their approach.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from ..geometry.inside import InsideTest
from ..geometry.rotations import matrix_to_rot6d, rot6d_to_matrix
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


def push_clear(rot6d: torch.Tensor, trans: torch.Tensor, hand: HandModel, joints: torch.Tensor, test: InsideTest,
               tolerance: float = 0.001, step: float = 0.005,
               max_rounds: int = 40) -> tuple[torch.Tensor, np.ndarray]:  # fmt: skip
    """Hands that start inside the object, moved back along their approach until they are clear.

    A hand is inside when its palm point or any vertex (posed with `joints` (D,)) lies deeper than
    `tolerance` metres inside the complete cloud of `test`. Each round moves every such hand away
    from the object along its palm normal (the reverse of its approach) by its deepest vertex's
    depth plus `step`; beyond the cloud's box everything is outside, so it ends. Returns the new
    translations (K, 3) and how far each hand was moved (K,) metres.
    """
    away = -(rot6d_to_matrix(rot6d) @ hand.palm_normal.to(rot6d)).detach()  # (K, 3)
    trans = trans.detach().clone()
    moved = np.zeros(len(trans))
    todo = np.arange(len(trans))
    q = joints.to(trans).expand(len(trans), -1)
    with torch.no_grad():
        for _ in range(max_rounds):
            out = hand.forward(rot6d[todo], trans[todo], q[todo])
            palm = rot6d_to_matrix(rot6d[todo]) @ hand.palm_point.to(trans) + trans[todo]
            depth = test.depth(torch.cat([out.vertices, palm[:, None]], 1)).max(1)
            inside = depth > tolerance
            if not inside.any():
                break
            todo = todo[inside]
            push = depth[inside] + step
            trans[todo] += away[todo] * torch.as_tensor(push, dtype=trans.dtype, device=trans.device)[:, None]
            moved[todo] += push
    return trans, moved
