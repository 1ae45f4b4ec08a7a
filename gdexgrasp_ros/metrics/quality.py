"""Per-grasp quality report and the ranking score used to sort a result's grasps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..objects.part_object import PartMesh
from . import contact as M


@dataclass
class GraspQuality:
    penetration_depth: float  # m
    intersection_volume: float  # m^3, NaN without an object mesh
    simulation_displacement: float  # m, NaN when not simulated
    simulation_displacement_6dir: float  # m, NaN when not simulated
    part_contact_ratio: float  # 0..1
    force_closure_residual: float
    contact_count: int
    score: float  # 0..1, higher is better


def penetration_depth_cloud(hand_points: np.ndarray, object_points: np.ndarray, object_normals: np.ndarray,
                            radius: float = 0.02) -> float:  # fmt: skip
    """Deepest hand point behind the object's surface, judged from the nearest cloud point's normal.

    For partial camera clouds without a mesh; only points within `radius` of the cloud are judged
    (a far point's nearest neighbour may lie on a side the camera never saw).
    """
    d, idx = cKDTree(object_points).query(np.asarray(hand_points))
    depth = -np.einsum("ij,ij->i", np.asarray(hand_points) - object_points[idx], object_normals[idx])
    depth = depth[d < radius]
    return float(max(depth.max(initial=0.0), 0.0))


def ranking_score(part_ratio: float, depth: float, fc: float, contacts: int) -> float:
    """0..1: on the target part (half the weight), shallow (5 mm scale) and balanced (force closure)."""
    if contacts == 0:
        return 0.0
    return 0.5 * part_ratio + 0.3 * math.exp(-depth / 0.005) + 0.2 * math.exp(-fc)


def evaluate_grasp(hand_vertices: np.ndarray, object_points: np.ndarray, object_normals: np.ndarray,
                   part_mask: np.ndarray, mesh: PartMesh | None = None, hand_sdf=None) -> GraspQuality:  # fmt: skip
    """All geometric metrics of one grasp; mesh-based ones when the object's mesh is known."""
    if mesh is not None:
        depth = M.penetration_depth(hand_vertices, mesh)
        volume = M.intersection_volume(mesh, hand_sdf) if hand_sdf is not None else math.nan
    else:
        depth = penetration_depth_cloud(hand_vertices, object_points, object_normals)
        volume = math.nan
    ratio = M.part_contact_ratio(hand_vertices, object_points, part_mask)
    fc = M.force_closure_residual(hand_vertices, object_points, object_normals)
    count = M.contact_count(hand_vertices, object_points)
    return GraspQuality(depth, volume, math.nan, math.nan, ratio, fc, count, ranking_score(ratio, depth, fc, count))
