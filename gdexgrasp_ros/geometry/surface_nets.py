"""Closed triangle meshes from a signed distance function (naive surface nets).

One vertex per grid cell that the surface crosses (the mean of its edge crossings, then
projected onto the surface along the SDF gradient), one quad per crossed grid edge. For a
closed surface resolved by the grid this gives a closed, consistently oriented mesh whose
face normals point outward (towards positive SDF). Deterministic: no randomness anywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SdfFn = Callable[[np.ndarray], np.ndarray]  # (M, 3) -> (M,)

_CORNERS = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.abs(_CORNERS[a] - _CORNERS[b]).sum() == 1]


def surface_nets(sdf: SdfFn, lo, hi, spacing: float, project_steps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Mesh the zero level set of `sdf` inside the box [lo, hi]; returns (vertices (V,3), faces (F,3))."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    axes = [np.arange(lo[d], hi[d] + spacing, spacing) for d in range(3)]
    shape = tuple(len(a) for a in axes)
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    values = sdf(grid.reshape(-1, 3)).reshape(shape)
    if (values[[0, -1]] <= 0).any() or (values[:, [0, -1]] <= 0).any() or (values[:, :, [0, -1]] <= 0).any():
        raise ValueError("the surface touches the meshing box: enlarge [lo, hi]")

    cell_index, vertices = _cell_vertices(grid, values)
    faces = _edge_quads(values, cell_index)
    vertices = surface_projection(sdf, vertices, project_steps, spacing)
    return vertices, faces


def _cell_vertices(grid, values):
    nx, ny, nz = values.shape
    corner_vals = np.stack([values[i : nx - 1 + i, j : ny - 1 + j, k : nz - 1 + k] for i, j, k in _CORNERS], -1)
    corner_pts = np.stack([grid[i : nx - 1 + i, j : ny - 1 + j, k : nz - 1 + k] for i, j, k in _CORNERS], -2)
    inside = corner_vals <= 0
    active = inside.any(-1) & ~inside.all(-1)
    cell_index = np.full(active.shape, -1, dtype=np.int64)
    cell_index[active] = np.arange(active.sum())
    cv, cp = corner_vals[active], corner_pts[active]
    acc = np.zeros((cv.shape[0], 3))
    cnt = np.zeros((cv.shape[0], 1))
    for a, b in _EDGES:
        va, vb = cv[:, a], cv[:, b]
        crosses = (va <= 0) != (vb <= 0)
        t = np.where(crosses, va / np.where(crosses, va - vb, 1.0), 0.0)[:, None]
        acc += np.where(crosses[:, None], cp[:, a] + t * (cp[:, b] - cp[:, a]), 0.0)
        cnt += crosses[:, None]
    return cell_index, acc / cnt


def _edge_quads(values, cell_index):
    quads = []
    for axis in range(3):
        u, v = (axis + 1) % 3, (axis + 2) % 3  # right-handed (axis, u, v)
        lo_v = np.take(values, np.arange(values.shape[axis] - 1), axis=axis)
        hi_v = np.take(values, np.arange(1, values.shape[axis]), axis=axis)
        crossing = (lo_v <= 0) != (hi_v <= 0)
        idx = np.argwhere(crossing)
        # Only edges with all four neighbouring cells inside the grid.
        ok = (idx[:, u] >= 1) & (idx[:, v] >= 1) & (idx[:, u] < values.shape[u] - 1) & (idx[:, v] < values.shape[v] - 1)
        idx = idx[ok]
        outward = lo_v[tuple(idx.T)] <= 0  # inside at the low end: normal along +axis
        ring = []
        for du, dv in ((-1, -1), (0, -1), (0, 0), (-1, 0)):
            c = idx.copy()
            c[:, u] += du
            c[:, v] += dv
            ring.append(cell_index[tuple(c.T)])
        ring = np.stack(ring, -1)
        ring[~outward] = ring[~outward][:, ::-1]
        quads.append(ring)
    q = np.concatenate(quads)
    if (q < 0).any():
        raise RuntimeError("surface nets: a crossed edge borders an inactive cell")
    return np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])


def surface_projection(sdf: SdfFn, pts: np.ndarray, steps: int, spacing: float) -> np.ndarray:
    """Move points onto the zero level set along the (central-difference) SDF gradient."""
    eps = 1e-4 * spacing
    for _ in range(steps):
        d = sdf(pts)
        grad = np.stack([(sdf(pts + e) - sdf(pts - e)) / (2 * eps) for e in np.eye(3) * eps], -1)
        grad /= np.linalg.norm(grad, axis=-1, keepdims=True) + 1e-12
        pts = pts - d[:, None] * grad
    return pts
