"""Parts bounded by concave creases (the minima rule): agglomerative merging of surface patches.

Where a handle, a trigger or a lid meets the body the surface folds inwards. For two nearby
points a, b with outward normals, c = (n_a - n_b) . (p_a - p_b) / |p_a - p_b| is positive on
convex or flat surface and strongly negative across a concave crease. Small patches
(supervoxels) are merged in order of the mean concavity of their shared boundary, so a single
convex-looking link never joins two parts; the partitions reached at a few concavity levels are
candidate parts.
"""

from __future__ import annotations

import heapq

import numpy as np
from scipy.spatial import cKDTree

from ...geometry.sampling import farthest_point_sampling
from .cloud import neighbour_pairs
from .shape import ShapeAnalysis

POINTS_PER_PATCH = 6
LEVELS = (0.05, 0.15, 0.3)  # mean boundary concavity at which partitions are recorded


def patches(shape: ShapeAnalysis) -> np.ndarray:
    """Patch id per point: nearest of evenly spread seeds, preferring seeds that face the same way."""
    seeds = farthest_point_sampling(shape.points, max(shape.n // POINTS_PER_PATCH, 2))
    k = min(4, len(seeds))
    dist, near = cKDTree(shape.points[seeds]).query(shape.points, k)
    dist, near = dist.reshape(shape.n, k), near.reshape(shape.n, k)
    turn = 1.0 - np.einsum("ij,ikj->ik", shape.normals, shape.normals[seeds][near])
    cost = dist / shape.spacing + 2.0 * turn  # a patch should not wrap around an edge
    return near[np.arange(shape.n), np.argmin(cost, axis=1)]


def pair_concavity(shape: ShapeAnalysis, pairs: np.ndarray) -> np.ndarray:
    a, b = pairs[:, 0], pairs[:, 1]
    d = shape.points[a] - shape.points[b]
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)
    convexity = np.einsum("ij,ij->i", shape.normals[a] - shape.normals[b], d)
    return np.maximum(-convexity, 0.0)


class _Merger:
    """Average-linkage agglomeration over a patch adjacency graph (edge = summed concavity, count)."""

    def __init__(self, n_patches: int, edges: dict[tuple[int, int], list[float]]):
        self.parent = list(range(n_patches))
        self.adj: dict[int, dict[int, list[float]]] = {i: {} for i in range(n_patches)}
        for (i, j), (total, count) in edges.items():
            self.adj[i][j] = [total, count]
            self.adj[j][i] = [total, count]
        self.heap = [(t / c, i, j) for (i, j), (t, c) in edges.items()]
        heapq.heapify(self.heap)

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def merge_below(self, level: float) -> None:
        while self.heap and self.heap[0][0] <= level:
            cost, i, j = heapq.heappop(self.heap)
            if self.find(i) != i or self.find(j) != j or j not in self.adj[i]:
                continue  # stale entry
            total, count = self.adj[i][j]
            if abs(total / count - cost) > 1e-12:
                continue
            self._union(i, j)

    def _union(self, keep: int, gone: int) -> None:
        self.parent[gone] = keep
        del self.adj[keep][gone]
        for other, (total, count) in self.adj.pop(gone).items():
            if other == keep:
                continue
            del self.adj[other][gone]
            merged = self.adj[keep].get(other, [0.0, 0])
            merged = [merged[0] + total, merged[1] + count]
            self.adj[keep][other] = merged
            self.adj[other][keep] = merged
            heapq.heappush(self.heap, (merged[0] / merged[1], min(keep, other), max(keep, other)))

    def labels(self) -> np.ndarray:
        return np.array([self.find(i) for i in range(len(self.parent))])


def concavity_partitions(shape: ShapeAnalysis, levels=LEVELS) -> list[np.ndarray]:
    """Per level, a part id per point (parts = patches merged across boundaries flatter than the level)."""
    patch = patches(shape)
    pairs = neighbour_pairs(shape.points, shape.link_radius)
    across = patch[pairs[:, 0]] != patch[pairs[:, 1]]
    pairs = pairs[across]
    concave = pair_concavity(shape, pairs)
    edges: dict[tuple[int, int], list[float]] = {}
    for (a, b), c in zip(patch[pairs], concave, strict=True):
        key = (int(min(a, b)), int(max(a, b)))
        entry = edges.setdefault(key, [0.0, 0])
        entry[0] += float(c)
        entry[1] += 1
    merger = _Merger(int(patch.max()) + 1, edges)
    out = []
    for level in levels:
        merger.merge_below(level)
        out.append(merger.labels()[patch])
    return out
