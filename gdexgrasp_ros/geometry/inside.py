"""Inside / outside of a complete, outward-oriented point cloud, and how deep a point lies inside.

Only for complete clouds (mesh samples, fused views) whose normals point outward. A camera
view's unseen back is unknown, so nothing here applies to it.

Method, two regimes by the distance d to the nearest cloud point (s: the cloud's point spacing):
- Away from the surface (d >= `near` = NEAR_SPACINGS * s): the generalised winding number of a
  point cloud (Barill et al., SIGGRAPH 2018)
      w(q) = sum_i a_i (p_i - q) . n_i / (4 pi (|p_i - q|^2 + e_i^2)^(3/2)),
  a_i the surface area point i stands for (from the spacing of its same-side neighbours), e_i
  half its disc radius (a regulariser). w is the solid angle under which q sees the surface from
  behind, over 4 pi: ~1 inside, ~0 outside, anywhere, however far from the surface, so a hand
  wholly inside a large body or in a container's cavity is judged right, and a few flipped
  normals only dent it. w is smooth away from the surface: it is computed on a grid (nodes filled
  on first use) and read back by trilinear interpolation; an ambiguous value (between 0.25 and
  0.75) gets the direct sum.
- Close to the surface (d < near): the sum is dominated by the few nearest points and reads about
  0.5 inside a wall thinner than the spacing. There the K_NEAR nearest points' tangent planes
  decide: inside when q lies behind the nearest point's plane and behind most of them (weights
  exp(-|q - p_j|^2 / h^2), h = max(d, s)). Inside a thin wall it lies behind both sides' planes.
  The planes also decide up to WALL_SPACINGS * s out where the nearest point lies on a thin wall
  (a facing point within that distance: a plate, a cup's wall, a thin tube) or the winding number
  stays ambiguous: a wall thinner than the spacing reads about 0.5 and the grid's nodes around it
  all lie outside.
On the 25 procedural categories (2048 samples each) it agrees with the mesh (trimesh `contains`)
on 99.7 % of queries drawn uniformly in 1.2 x the bounding box (each category >= 99.2 %) and on
99.2 % of queries scattered 1 cm (s.d.) about the surface; nearly all disagreements lie within 3 mm
of the surface, where 2048 samples cannot resolve it. On the vertices of optimised handle grasps
(6 categories, 48 hands), the deepest inside depth is within 1.4 mm of the mesh's.

Depth of a point judged inside (metres; 0 outside), as the optimizer's reverse penetration and the
grasp metrics use it: its depth under the nearest cloud point's tangent plane, -(q - p) . n; where
that plane puts it outside (beyond a corner, or a flipped normal), its distance to the nearest
point |q - p| instead, so an inside point always has a depth. The plane depth is exact on a flat
surface and within a fraction of a millimetre on smooth curved ones; the nearest-point distance
alone would report up to a point spacing for a vertex just under the surface.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict

import numpy as np
import torch
from scipy.spatial import cKDTree

K_AREA = 10  # same-side neighbours that estimate the area each point stands for
K_NEAR = 8  # neighbours whose tangent planes decide close to the surface
NEAR_SPACINGS = 0.75  # "near the surface": closer than this many point spacings to the nearest point
WALL_SPACINGS = 2.0  # near thin walls and where w stays ambiguous, the planes decide this far out (spacings)
GRID_NODES = 24000  # at most this many winding-number grid nodes per cloud
PITCH_SPACINGS = 2.0  # winding-number grid pitch, in point spacings (at least)
AMBIGUOUS = (0.25, 0.75)  # interpolated winding numbers between these get the direct sum


def point_areas(points: np.ndarray, normals: np.ndarray, k: int = K_AREA) -> np.ndarray:
    """Area (m^2) each point of an oriented cloud stands for, from its k nearest same-side neighbours.

    a_i = pi r_i^2 / k, r_i the distance to the k-th nearest neighbour on the same side of the
    surface (normals within 90 degrees: the other side of a thin wall must not make this side look
    denser); for uniform random samples pi r_k^2 / k is an unbiased estimate of the area per point.
    Fewer same-side points among the 2k nearest: the last of them, with its count. Then averaged
    over the same-side neighbours to smooth sampling noise.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    nrm = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    looked = min(2 * k, len(pts) - 1)
    if looked < 2:
        return np.full(len(pts), 1e-6)
    dist, idx = cKDTree(pts).query(pts, k=looked + 1)  # the point itself comes first
    same = np.einsum("ij,ikj->ik", nrm, nrm[idx]) > 0.0
    count = np.cumsum(same[:, 1:], axis=1)  # same-side neighbours up to each rank
    rank = np.where(count[:, -1] >= k, np.argmax(count >= k, axis=1), np.argmax(count == count[:, -1:], axis=1))
    used = np.maximum(count[np.arange(len(pts)), rank], 1)
    radius = np.maximum(dist[np.arange(len(pts)), rank + 1], 1e-6)
    area = math.pi * radius**2 / used
    return (area[idx] * same).sum(1) / same.sum(1)


def winding_number(queries, points, normals, areas=None, chunk: int = 256, dtype: torch.dtype = torch.float32):
    """Generalised winding number (~1 inside, ~0 outside) of queries (..., 3) w.r.t. an oriented cloud.

    Direct sum over all points, `chunk` queries at a time (a chunk x N matrix each; small chunks
    stay in cache), computed in `dtype` about the cloud's centroid (float32 is ample for a value
    compared with 0.5). numpy in -> numpy float64 out; torch in -> torch out on the queries' device
    and dtype. `areas` (N,) default to point_areas(points, normals).
    """
    as_torch = isinstance(queries, torch.Tensor)
    pts_np, nrm_np = _numpy(points), _numpy(normals)
    a_np = point_areas(pts_np, nrm_np) if areas is None else _numpy(areas).reshape(-1)
    origin = pts_np.mean(0)
    device = queries.device if as_torch else torch.device("cpu")
    t = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device)  # noqa: E731
    p, n, a = t(pts_np - origin), t(nrm_np), t(a_np)
    q = (queries.detach().to(dtype) - t(origin) if as_torch else t(_numpy(queries) - origin)).reshape(-1, 3)
    eps2 = a / math.pi * 0.25  # half the disc radius, squared
    pn, pp = (p * n).sum(-1), (p * p).sum(-1)
    out = torch.empty(len(q), dtype=dtype, device=device)
    with torch.no_grad():
        for s in range(0, len(q), chunk):
            qc = q[s : s + chunk]
            d2 = ((qc * qc).sum(-1, keepdim=True) - 2.0 * qc @ p.T + pp).clamp_min(0.0)
            out[s : s + chunk] = ((pn - qc @ n.T) * a * torch.rsqrt(d2 + eps2) ** 3).sum(-1) / (4.0 * math.pi)
    out = out.reshape(tuple(queries.shape[:-1]))
    return out.to(queries.dtype) if as_torch else out.double().cpu().numpy()


class InsideTest:
    """Inside test and inside depth for one complete, outward-oriented cloud (built once, queried often)."""

    def __init__(self, points: np.ndarray, normals: np.ndarray, grid_nodes: int = GRID_NODES):
        self.points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        self.normals = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
        if len(self.points) < K_NEAR + 1 or len(self.normals) != len(self.points):
            raise ValueError(f"an inside test needs over {K_NEAR} points with one normal each")
        self.areas = point_areas(self.points, self.normals)
        self.spacing = float(np.median(np.sqrt(self.areas)))  # m between neighbouring points
        self.near = NEAR_SPACINGS * self.spacing
        self.tree = cKDTree(self.points)
        # Points on a wall (plate, tube) thinner than WALL_SPACINGS: facing points within that distance.
        reach = WALL_SPACINGS * self.spacing
        dist, idx = self.tree.query(self.points, k=2 * K_NEAR, distance_upper_bound=reach)
        found = np.isfinite(dist)
        facing = np.einsum("ij,ikj->ik", self.normals, self.normals[np.where(found, idx, 0)]) < -0.5
        self.thin = (facing & found).any(1)
        lo, hi = self.points.min(0), self.points.max(0)
        self.pitch = max(PITCH_SPACINGS * self.spacing, float(np.prod(hi - lo + 2 * self.near) / grid_nodes) ** (1 / 3))
        self.lo = lo - self.near - self.pitch
        shape = np.ceil((hi + self.near + self.pitch - self.lo) / self.pitch).astype(int) + 1
        # Winding numbers at the grid nodes, computed on first use (NaN until then): queries of
        # one goal touch only the nodes around the hand's paths.
        self.grid = np.full(tuple(shape), np.nan)

    # -- queries ---------------------------------------------------------------------------------
    def classify(self, queries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inside (M,) bool, nearest distance (M,) m, nearest index (M,)) for queries (..., 3) flattened."""
        q = _numpy(queries).reshape(-1, 3)
        dist, idx = self.tree.query(q)
        inside = np.zeros(len(q), dtype=bool)
        vote = (dist < self.near) | (self.thin[idx] & (dist < WALL_SPACINGS * self.spacing))
        far = np.flatnonzero(~vote)
        if len(far):
            w = self._interpolate(q[far])
            unsure = (w > AMBIGUOUS[0]) & (w < AMBIGUOUS[1])
            if unsure.any():
                w[unsure] = winding_number(q[far[unsure]], self.points, self.normals, self.areas)
            inside[far] = w > 0.5
            # Still ambiguous close by: a wall thinner than the spacing reads about 0.5; the planes decide.
            vote[far] = (w > AMBIGUOUS[0]) & (w < AMBIGUOUS[1]) & (dist[far] < WALL_SPACINGS * self.spacing)
        voters = np.flatnonzero(vote)
        if len(voters):
            inside[voters] = self._behind_planes(q[voters], *self.tree.query(q[voters], k=K_NEAR))
        return inside, dist, idx

    def contains(self, queries):
        """Inside (...,) bool: numpy in -> numpy out, torch in -> torch out on its device."""
        inside = self.classify(queries)[0].reshape(tuple(queries.shape[:-1]))
        return torch.as_tensor(inside, device=queries.device) if isinstance(queries, torch.Tensor) else inside

    def depth(self, queries) -> np.ndarray:
        """Inside depth (...,) m (numpy): depth_below_nearest when inside, else 0."""
        q = _numpy(queries).reshape(-1, 3)
        inside, _, idx = self.classify(q)
        depth = depth_below_nearest(q - self.points[idx], self.normals[idx])
        return np.where(inside, depth, 0.0).reshape(tuple(queries.shape[:-1]))

    def _behind_planes(self, q, dist, idx) -> np.ndarray:
        """Inside (M,) by the K_NEAR nearest points' tangent planes: behind the nearest one's and behind
        most of them (weighted by distance). The nearest plane alone errs where the samples are sparse;
        the vote alone errs just outside a thin, curved part (a handle), whose far side's planes are
        close by and tilted so that the point lies behind them."""
        h = np.maximum(dist[:, :1], self.spacing)
        along = np.einsum("mkj,mkj->mk", q[:, None] - self.points[idx], self.normals[idx])
        return (along[:, 0] < 0.0) & ((np.exp(-((dist / h) ** 2)) * np.sign(along)).sum(1) < 0.0)

    def _interpolate(self, q) -> np.ndarray:
        """Trilinear winding number from the grid (0 outside the grid: beyond the cloud's box)."""
        u = (q - self.lo) / self.pitch
        shape = np.array(self.grid.shape)
        base = np.floor(u).astype(int)
        ok = (base >= 0).all(1) & (base < shape - 1).all(1)
        b, f = base[ok], u[ok] - base[ok]
        corners = np.array(list(np.ndindex(2, 2, 2)))  # (8, 3)
        flat = np.ravel_multi_index(tuple((b[:, None] + corners[None]).transpose(2, 0, 1)), self.grid.shape)
        values = self.grid.reshape(-1)  # a view: filling it fills the grid
        todo = np.unique(flat[np.isnan(values[flat])])
        if len(todo):
            nodes = self.lo + self.pitch * np.stack(np.unravel_index(todo, self.grid.shape), -1)
            values[todo] = winding_number(nodes, self.points, self.normals, self.areas)
        weight = np.prod(np.where(corners[None], f[:, None], 1.0 - f[:, None]), axis=2)  # (M, 8)
        w = np.zeros(len(q))
        w[ok] = (weight * values[flat]).sum(1)
        return w


def depth_below_nearest(offset, normal):
    """Depth (...,) m of points judged inside, from the offset q - p (..., 3) to their nearest cloud
    point and its outward normal: -offset . n where positive, else |offset| (module docstring).
    numpy or torch (differentiable: the optimizer's reverse penetration uses it)."""
    plane = -(offset * normal).sum(-1)
    dist = ((offset * offset).sum(-1) + 1e-18) ** 0.5
    return plane * (plane > 0) + dist * (plane <= 0)


def plane_or_point_distance(offset, normal, spacing: float):
    """Signed distance (...,) m from the offsets q - p (..., 3) to their nearest points' surface: the
    tangent-plane distance (q - p) . n where q lies within `spacing` of p's normal line, else |q - p|
    (beyond an edge; counted as outside). numpy or torch."""
    plane = (offset * normal).sum(-1)
    dist = ((offset * offset).sum(-1) + 1e-18) ** 0.5
    lateral_sq = dist * dist - plane * plane
    near_line = lateral_sq * (lateral_sq > 0) <= spacing * spacing
    return plane * near_line + dist * ~near_line


def surface_distance(queries: torch.Tensor, points: torch.Tensor, normals: torch.Tensor, index, spacing: float):
    """Signed distance (...,) m of queries (..., 3) to an oriented cloud's surface, negative behind it.

    From the nearest point p and its outward normal n (index: a geometry.nearest.NearestIndex over
    points): the tangent-plane distance (q - p) . n where q lies within `spacing` of p's normal line
    (exact on a flat patch, so a touch is seen at millimetres although points lie `spacing` apart),
    else the distance |q - p| (beyond an edge; counted as outside). A local test for points that
    approach the surface from outside (closing fingers); geometry.inside.InsideTest judges anywhere.
    """
    idx = index.indices(queries)
    return plane_or_point_distance(queries - points[idx], normals[idx], spacing)


_CACHE: OrderedDict[str, InsideTest] = OrderedDict()
_CACHE_SIZE = 4


def inside_test_for(points: np.ndarray, normals: np.ndarray) -> InsideTest:
    """The InsideTest of a cloud, built once: the generator, the optimizer and the metrics of one
    goal share it (keyed by the cloud's bytes; the last few clouds are kept)."""
    pts = np.ascontiguousarray(points, dtype=np.float64)
    nrm = np.ascontiguousarray(normals, dtype=np.float64)
    key = hashlib.sha1(pts.tobytes() + nrm.tobytes()).hexdigest()
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    test = _CACHE[key] = InsideTest(pts, nrm)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return test


def inside_depth(queries, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Depth (...,) m under the surface of queries judged inside the cloud (depth_below_nearest), 0 outside."""
    return inside_test_for(points, normals).depth(queries)


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)
