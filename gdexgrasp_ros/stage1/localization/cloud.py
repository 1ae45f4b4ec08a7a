"""Point-cloud helpers for part localization: sampling density, neighbourhoods, normals, components."""

from __future__ import annotations

import numpy as np
import open3d as o3d
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


def point_spacing(points: np.ndarray, k: int = 6) -> float:
    """Typical distance between neighbouring surface samples (median over points of the mean
    distance to the k nearest others). Duplicate points are ignored."""
    pts = np.unique(np.asarray(points, dtype=np.float64), axis=0)
    if len(pts) < 2:
        raise ValueError("need at least two distinct points to measure their spacing")
    k = min(k, len(pts) - 1)
    dist, _ = cKDTree(pts).query(pts, k + 1)
    return float(np.median(dist[:, 1:].mean(1)))


def neighbour_pairs(points: np.ndarray, radius: float) -> np.ndarray:
    """(M, 2) index pairs i < j of points closer than radius."""
    return cKDTree(points).query_pairs(radius, output_type="ndarray").reshape(-1, 2)


def connected_parts(points: np.ndarray, mask: np.ndarray, radius: float) -> tuple[np.ndarray, int]:
    """Connected components of the masked points (linked when closer than radius).

    Returns a label per point (-1 outside the mask), components numbered by decreasing size
    (ties by lowest point index, so the numbering is deterministic), and their count.
    """
    idx = np.flatnonzero(mask)
    labels = np.full(len(points), -1, dtype=np.int64)
    if len(idx) == 0:
        return labels, 0
    pairs = neighbour_pairs(points[idx], radius)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(idx), len(idx)))
    count, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp, minlength=count)
    first = np.full(count, len(idx))
    np.minimum.at(first, comp, np.arange(len(idx)))
    order = np.lexsort((first, -sizes))  # biggest first, then by first point
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count)
    labels[idx] = rank[comp]
    return labels, count


def estimate_normals(points: np.ndarray, k: int = 16) -> np.ndarray:
    """Unit normals from local planes (open3d), not yet oriented (signs arbitrary)."""
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64)))
    pcd.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=int(min(k, max(len(points) - 1, 3)))))
    normals = np.asarray(pcd.normals, dtype=np.float64)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 0, normals / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))


def propagate_signs(points: np.ndarray, normals: np.ndarray, decided: np.ndarray, k: int = 10) -> np.ndarray:
    """Flip undecided normals to agree with their decided neighbours (nearest decided first).

    decided: (N,) bool, the normals already known to point outwards. Undecided points whose
    neighbourhood has no decided point keep their sign.
    """
    out = normals.copy()
    if decided.all() or not decided.any():
        return out
    tree = cKDTree(points[decided])
    ref = normals[decided]
    und = np.flatnonzero(~decided)
    _, nn = tree.query(points[und], min(k, int(decided.sum())))
    nn = nn.reshape(len(und), -1)
    agree = np.einsum("ij,ikj->ik", out[und], ref[nn]).sum(1)
    out[und[agree < 0]] *= -1
    return out
