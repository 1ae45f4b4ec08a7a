"""Loss terms of the prior-guided optimization, one function each (torch, batched over K hands).

Units: distances in metres, angles in radians; every term returns a (K,) tensor.
Thresholds are tolerances: penetration shallower than c_pen / c_revpen is not penalised.
"""

from __future__ import annotations

import torch

from ..geometry.force_closure import force_closure_residual
from ..geometry.inside import depth_below_nearest
from ..hand.contact_map import contact_from_distance


def contact_loss(vert_dist_to_part: torch.Tensor, prior_contact: torch.Tensor, n_vertices: int) -> torch.Tensor:
    """L_contact = mean_j C_j * min_i ||v_j - O^P_i||  (metres).

    vert_dist_to_part (K, S): distance of the S scored vertices to the nearest contact-part
    point; prior_contact (S,): their prior contact C_j. Vertices outside S have C_j = 0, so the
    mean runs over all n_vertices of the hand.
    """
    return (prior_contact * vert_dist_to_part).sum(-1) / n_vertices


def contact_map_loss(vert_dist_to_object: torch.Tensor, prior_contact: torch.Tensor, prior_std: torch.Tensor,
                     n_vertices: int) -> torch.Tensor:  # fmt: skip
    """L_cmap = mean_j exp(-sigma_j) |C_hat_j - C_j|  (dimensionless, 0..1).

    C_hat is the current contact map (GraspTTA form) from each vertex's object distance.
    """
    c_hat = contact_from_distance(vert_dist_to_object)
    return (torch.exp(-prior_std) * (c_hat - prior_contact).abs()).sum(-1) / n_vertices


def force_closure_loss(
    contact_points: torch.Tensor, contact_normals: torch.Tensor, center: torch.Tensor
) -> torch.Tensor:
    """L_fc = || G c ||: geometry.force_closure.force_closure_residual (its docstring has G and the units)."""
    return force_closure_residual(contact_points, contact_normals, center)


def penetration_loss(object_sdf_in_hand: torch.Tensor, c_pen: float) -> torch.Tensor:
    """L_pen = sum_i max(0, -SD_hand(o_i) - c_pen)  (metres): object points inside the hand."""
    return torch.relu(-object_sdf_in_hand - c_pen).sum(-1)


REVPEN_RADIUS_M = 0.02  # a camera view's L_revpen judges only hand vertices this near a cloud point


def reverse_penetration_loss(vertices: torch.Tensor, nearest_points: torch.Tensor, nearest_normals: torch.Tensor,
                             c_revpen: float, radius: float = REVPEN_RADIUS_M) -> torch.Tensor:  # fmt: skip
    """L_revpen for camera clouds = sum_j max(0, -(v_j - o_j) . n_j - c_revpen)  (metres): hand vertices
    inside the object.

    Inside test from the nearest object point o_j and its outward normal n_j: robust on partial
    clouds because only vertices within `radius` of the surface are judged (a far vertex's
    nearest point may lie on a side the camera never saw). Complete clouds use
    inside_penetration_loss, which judges every vertex.
    """
    diff = vertices - nearest_points
    depth = -(diff * nearest_normals).sum(-1)
    near = (diff.norm(dim=-1) < radius).to(depth.dtype)
    return (torch.relu(depth - c_revpen) * near).sum(-1)


def inside_penetration_loss(vertices: torch.Tensor, nearest_points: torch.Tensor, nearest_normals: torch.Tensor,
                            inside: torch.Tensor, c_revpen: float) -> torch.Tensor:  # fmt: skip
    """L_revpen for complete clouds = sum_j [v_j inside] max(0, depth_j - c_revpen)  (metres).

    Every scored vertex is judged, however far from the surface: `inside` (K, S) bool comes from
    geometry.inside (winding number; refreshed with the correspondences). depth_j =
    -(v_j - o_j) . n_j under the nearest point's tangent plane, or ||v_j - o_j|| where that plane
    disagrees with the inside test (geometry.inside.depth_below_nearest), so a hand wholly inside a
    body, or in a wall, is driven out towards the nearest surface.
    """
    depth = depth_below_nearest(vertices - nearest_points, nearest_normals)
    return (torch.relu(depth - c_revpen) * inside.to(depth.dtype)).sum(-1)


def unseen_back_loss(depth_along_ray: torch.Tensor, front: torch.Tensor, behind: torch.Tensor, judged: torch.Tensor,
                     c_revpen: float) -> torch.Tensor:  # fmt: skip
    """L_back for camera clouds = sum_j [judged_j] max(0, min(z_j - f_j, f_j + b_j - z_j) - c_revpen)  (metres).

    The unseen back of a single view: z_j is hand vertex j's depth along the camera's optical
    axis, f_j the depth of the surface the camera saw at its pixel and b_j how far the object is
    assumed to extend behind it (geometry.visibility.ViewVolume: a round cross-section as wide
    as the silhouette there). A vertex between the two pays its depth to the nearer of them, so
    a finger through where the back would be is driven out. `judged`: the vertices L_revpen does
    not judge (farther than its radius from every cloud point), so no depth is counted twice.
    """
    depth = torch.minimum(depth_along_ray - front, front + behind - depth_along_ray)
    return (torch.relu(depth - c_revpen) * judged.to(depth.dtype)).sum(-1)


def joint_limit_loss(joints: torch.Tensor, limits: torch.Tensor) -> torch.Tensor:
    """L_joint = sum_d max(0, q_d - upper_d) + max(0, lower_d - q_d)  (radians)."""
    return (torch.relu(joints - limits[:, 1]) + torch.relu(limits[:, 0] - joints)).sum(-1)


def closeness_loss(fingertip_dist_to_object: torch.Tensor) -> torch.Tensor:
    """L_close = mean over fingertip pad vertices of their object distance (metres).

    The "without prior guidance" ablation's attraction term: fingers to the object, anywhere.
    """
    return fingertip_dist_to_object.mean(-1)
