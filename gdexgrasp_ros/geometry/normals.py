"""Surface normals of point clouds: estimation, and which way they point.

A cloud is one of two kinds (DESIGN.md, "Two kinds of cloud"):
- "camera": one sensor view. Every point was seen from the sensor, so its normal faces the
  sensor: orient_towards(points, normals, viewpoint).
- "complete": a mesh sample or fused views, with no single viewpoint; normals point out of the
  object: orient_outward(points, normals). Orienting such a cloud towards "the sensor" (the
  frame origin, usually the object's centre or base) turns most normals inward.
detect_cloud_kind(points, viewpoint) tells the two apart when the caller does not say.

estimate_normals gives unoriented PCA normals (open3d); one of the two orientations follows.
Lengths are metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d
from scipy.sparse import coo_matrix, diags
from scipy.sparse.linalg import cg
from scipy.spatial import cKDTree

CLOUD_KINDS = ("camera", "complete")


def point_spacing(points: np.ndarray, k: int = 6) -> float:
    """Typical distance between neighbouring samples: the median over points of the mean distance
    to their k nearest distinct neighbours (duplicates ignored)."""
    pts = np.unique(np.asarray(points, dtype=np.float64).reshape(-1, 3), axis=0)
    if len(pts) < 2:
        raise ValueError("need at least two distinct points to measure their spacing")
    k = min(k, len(pts) - 1)
    dist, _ = cKDTree(pts).query(pts, k + 1)
    return float(np.median(dist[:, 1:].mean(1)))


def estimate_normals(points: np.ndarray, radius: float | None = 0.01, knn: int = 30) -> np.ndarray:
    """Unit normals by local PCA (open3d), signs arbitrary: at most knn neighbours within radius
    (radius None: the knn nearest). A point without a usable neighbourhood gets +z."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(pts) == 0:
        return np.zeros((0, 3))
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    knn = int(max(3, min(knn, len(pts) - 1))) if len(pts) > 3 else 3
    param = o3d.geometry.KDTreeSearchParamKNN(knn) if radius is None else \
        o3d.geometry.KDTreeSearchParamHybrid(float(radius), knn)  # fmt: skip
    cloud.estimate_normals(param)
    normals = np.asarray(cloud.normals, dtype=np.float64).copy()
    if len(normals) != len(pts):  # open3d gives none for a cloud too small to fit planes to
        return np.tile([0.0, 0.0, 1.0], (len(pts), 1))
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    ok = np.isfinite(length[:, 0]) & (length[:, 0] > 1e-12)
    normals[ok] /= length[ok]
    normals[~ok] = (0.0, 0.0, 1.0)
    return normals


def orient_towards(points: np.ndarray, normals: np.ndarray, viewpoint) -> np.ndarray:
    """The normals flipped where needed to face the viewpoint ((viewpoint - p) . n >= 0): the side
    a camera saw."""
    view = np.asarray(viewpoint, dtype=np.float64).reshape(3)
    normals = np.asarray(normals, dtype=np.float64)
    facing = np.einsum("ij,ij->i", view - np.asarray(points, dtype=np.float64), normals)
    return np.where(facing[:, None] < 0, -normals, normals)


@dataclass(frozen=True)
class OutwardConfig:
    """Parameters of orient_outward; lengths in point spacings (point_spacing)."""

    views: int = 48  # ray directions, spread evenly over the sphere
    splat: float = 1.5  # half-width of each point's square in its tangent plane
    ray_spacing: float = 0.7  # between the parallel rays of one direction
    max_rays_per_view: int = 40_000  # rays are spaced further apart on a larger object
    falloff: float = 0.5  # a hit at distance r from its point weighs exp(-(r / falloff)^2)
    full_vote: float = 1.0  # a point's own votes count fully from this total hit weight on
    neighbours: int = 16  # graph links per point, at most ...
    link_spacings: float = 2.5  # ... this far
    tangent: float = 0.35  # same surface: each within this slope (|offset| / distance) of the other's tangent plane
    facing: float = 0.65  # facing layers: each at least this slope off the other's tangent plane, ...
    layer: float = 0.2  # ... and this far off it (also the largest opposite offset two same-surface points may have)
    vote_weight: float = 1.0  # weight of a point's own (full) votes against its links in the global balance


def orient_outward(points: np.ndarray, normals: np.ndarray, spacing: float | None = None,
                   config: OutwardConfig | None = None) -> np.ndarray:  # fmt: skip
    """The normals of a complete cloud, each flipped where needed to point out of the object.

    Two steps (the "outward check" first, then consistency):

    1. Seen from outside. Each point becomes a small square in its tangent plane (1.5 spacings
       half-width, so a surface's squares overlap into a closed skin), and parallel rays are cast
       at the object from 48 directions spread over the sphere (open3d ray casting). A ray comes
       from outside, so the first square it hits is seen from outside, and that point's normal
       must face where the ray came from: one vote, weighted by |cos| of the angle (grazing hits
       count less) and by how near its point the ray hit the square (a hit at a square's rim may
       have slipped through a gap in the skin of a thin wall's near side). Outward is thus judged
       by a global criterion, "reachable from outside", not by distance from a centre or a
       viewpoint, so it holds for non-convex shapes (the inner side of a handle is seen through
       its hole, the inside of a mug through its opening) and for thin ones: the two sides of a
       blade are seen from opposite directions, and because ray hits are exact the near side of
       a wall thinner than the point spacing still hides its far side.
    2. Consistency. Points no ray reaches (a closed cavity, a surface inside another part) or
       with mixed votes are settled by their neighbours in a signed graph: two points on the same
       surface (each in the other's tangent plane, and not two parallel layers with opposite
       offsets) must agree; two facing layers (nearly parallel normals, each on the other's normal
       line: the two sides of a thin wall, or two surfaces across a narrow gap) must point
       opposite ways, which is true whether the space between them is material or air. Only the
       nearest facing layer on each side is linked. The signs are those of the real x minimising
       sum w_ij (x_i - s_ij x_j)^2 + sum c_i (x_i - v_i)^2 (links with their sign s_ij, votes v_i
       with their confidence c_i; one sparse linear solve): every link and vote counts in one
       global balance, so a well-seen neighbourhood overrules a few wrong votes, and a closed
       cavity takes the orientation most of its facing links give it rather than that of its
       first decided points (the greedy local majority this replaced left up to 1.7x as many
       inward normals on real hollow shapes). A part no link or ray reaches points away from the
       cloud's centroid.

    A sheet thinner than about a fifth of the spacing is one layer of points: either side is
    out, and its sign is the better-seen one. normals need not be unit; the result has their lengths.
    """
    cfg = config or OutwardConfig()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    nrm = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    if len(nrm) != len(pts):
        raise ValueError(f"{len(nrm)} normals for {len(pts)} points")
    away = np.einsum("ij,ij->i", pts - pts.mean(0), nrm) if len(pts) else np.zeros(0)
    if len(np.unique(pts, axis=0)) < 4:
        return np.where(away[:, None] < 0, -nrm, nrm)
    s = float(spacing) if spacing is not None else point_spacing(pts)
    length = np.linalg.norm(nrm, axis=1, keepdims=True)
    unit = np.where(length > 1e-12, nrm / np.maximum(length, 1e-12), [0.0, 0.0, 1.0])  # a zero normal: any plane
    centred = pts - (pts.max(0) + pts.min(0)) / 2  # ray casting is in float32
    votes, weight = _visibility_votes(centred, unit, s, cfg)
    prior = votes / np.maximum(weight, 1e-12) * np.minimum(1.0, weight / cfg.full_vote)
    signs = _propagate(len(pts), *_signed_links(centred, unit, s, cfg), prior, cfg.vote_weight)
    signs[signs == 0] = np.where(away[signs == 0] < 0, -1.0, 1.0)
    return nrm * signs[:, None]


def _sphere_directions(n: int) -> np.ndarray:
    """n unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = np.pi * (1.0 + 5.0**0.5) * i
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def tangent_basis(normals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning each normal's orthogonal plane."""
    ref = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    u = np.cross(normals, ref)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u, np.cross(normals, u)


def _splat_scene(points: np.ndarray, normals: np.ndarray, half: float) -> o3d.t.geometry.RaycastingScene:
    """Ray-casting scene of one square (two triangles: 2i, 2i + 1) per point in its tangent plane."""
    u, v = tangent_basis(normals)
    corners = [points + half * (a * u + b * v) for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    vertices = np.stack(corners, axis=1).reshape(-1, 3)
    base = 4 * np.arange(len(points))[:, None]
    faces = np.concatenate([base + [0, 1, 2], base + [0, 2, 3]], axis=1).reshape(-1, 3)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    return scene


def _visibility_votes(points: np.ndarray, normals: np.ndarray, s: float, cfg: OutwardConfig):
    """Per point: the sum of signed hit weights (+: the normal faced the ray's origin) and of weights."""
    scene = _splat_scene(points, normals, cfg.splat * s)
    margin = 2 * cfg.splat * s
    reach = float(np.linalg.norm(points, axis=1).max()) + margin
    votes, weight = np.zeros(len(points)), np.zeros(len(points))
    for d in _sphere_directions(cfg.views):
        e1, e2 = (b[0] for b in tangent_basis(d[None]))
        a, b = points @ e1, points @ e2
        step = cfg.ray_spacing * s
        cells = (np.ptp(a) + 2 * margin) * (np.ptp(b) + 2 * margin) / step**2
        step *= max(1.0, float(np.sqrt(cells / cfg.max_rays_per_view)))
        ga, gb = np.meshgrid(np.arange(a.min() - margin, a.max() + margin, step),
                             np.arange(b.min() - margin, b.max() + margin, step))  # fmt: skip
        origins = ga.reshape(-1, 1) * e1 + gb.reshape(-1, 1) * e2 - reach * d
        rays = np.hstack([origins, np.broadcast_to(d, origins.shape)]).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays))
        prim = hit["primitive_ids"].numpy()
        ok = prim != scene.INVALID_ID
        pid = (prim[ok] // 2).astype(np.int64)
        where = origins[ok] + hit["t_hit"].numpy()[ok, None].astype(np.float64) * d
        off = np.linalg.norm(where - points[pid], axis=1)
        cos = normals[pid] @ d
        w = np.abs(cos) * np.exp(-((off / (cfg.falloff * s)) ** 2))
        votes += np.bincount(pid, weights=-np.sign(cos) * w, minlength=len(points))
        weight += np.bincount(pid, weights=w, minlength=len(points))
    return votes, weight


def _signed_links(points: np.ndarray, normals: np.ndarray, s: float, cfg: OutwardConfig):
    """Graph links (i, j, sign, weight): sign +1 when i and j must point the same way, -1 opposite
    ways, relative to their current (unoriented) normals."""
    n = len(points)
    k = min(cfg.neighbours, n - 1)
    _, nb = cKDTree(points).query(points, k + 1, distance_upper_bound=cfg.link_spacings * s)
    nb = nb[:, 1:]
    ok = nb < n
    i = np.repeat(np.arange(n), k)[ok.ravel()]
    j = nb[ok]
    d = points[j] - points[i]
    dist = np.maximum(np.linalg.norm(d, axis=1), 1e-12)
    off_i = np.einsum("ij,ij->i", d, normals[i])  # j's offset from i's tangent plane
    off_j = -np.einsum("ij,ij->i", d, normals[j])  # i's offset from j's tangent plane
    c = np.einsum("ij,ij->i", normals[i], normals[j])
    # On one smooth surface each point lies on the same side of the other's tangent plane (both
    # behind on a convex patch, both in front on a concave one): with the normals made to agree
    # (sign of c), the product of the offsets is >= 0. Two parallel layers give opposite sides.
    kappa = off_i * off_j * np.sign(c)
    slope = np.maximum(np.abs(off_i), np.abs(off_j)) / dist
    low = np.minimum(np.abs(off_i), np.abs(off_j))
    same = (slope < cfg.tangent) & (np.abs(c) > 0.5) & (kappa > -((cfg.layer * s) ** 2))
    facing = (np.abs(c) > 0.8) & (kappa < 0) & (low / dist > cfg.facing) & (low > cfg.layer * s)
    # Only the nearest facing layer on each side of i (a layer further on has its own relation).
    nearest = np.zeros(len(i), dtype=bool)
    for side in (1.0, -1.0):
        m = facing & (np.sign(off_i) == side)
        best = np.full(n, np.inf)
        np.minimum.at(best, i[m], np.abs(off_i[m]))
        nearest |= m & (np.abs(off_i) <= 1.3 * best[i] + cfg.layer * s)
    sign = np.where(same, np.sign(c), np.where(nearest, -np.sign(c), 0.0))
    weight = np.where(same, np.abs(c) * (1.0 - slope), np.abs(c))
    keep = sign != 0
    return i[keep], j[keep], sign[keep], weight[keep]


def _propagate(n: int, i, j, sign, weight, prior: np.ndarray, vote_weight: float) -> np.ndarray:
    """Signs (+1 / -1; 0 where nothing decides) minimising the signed-graph energy (orient_outward):
    the solution of (D - W_signed + vote_weight C) x = vote_weight C sign(prior), with C = |prior|."""
    half = 0.5 * weight  # each directed link counts half in both directions: a symmetric system
    rows, cols = np.concatenate([i, j]), np.concatenate([j, i])
    signed = coo_matrix((np.concatenate([half * sign, half * sign]), (rows, cols)), shape=(n, n)).tocsr()
    degree = np.bincount(rows, weights=np.concatenate([half, half]), minlength=n)
    confidence = vote_weight * np.abs(prior)
    # Symmetric positive definite (a signed Laplacian is positive semi-definite; the diagonal adds
    # the votes and a small ridge for points nothing reaches), so conjugate gradients converge.
    system = (diags(degree + confidence + 1e-9) - signed).tocsr()
    x, _ = cg(system, confidence * np.sign(prior), rtol=1e-8, maxiter=10 * n)
    return np.where(np.abs(x) > 1e-9, np.sign(x), 0.0)


# -- which kind of cloud ----------------------------------------------------------------------------
DETECT_MAX_POINTS = 4000  # the visibility tests run on at most this many points (a seeded subset)
CAMERA_ZBUFFER_SHARE = 0.8  # a camera view: at least this share is in front in its depth cells ...
CAMERA_HPR_SHARE = 0.9  # ... and visible by hidden-point removal


def detect_cloud_kind(points: np.ndarray, viewpoint, organised: bool = False) -> str:
    """The kind of cloud: "camera" (one view from the viewpoint) or "complete" (see cloud_kind_evidence)."""
    return cloud_kind_evidence(points, viewpoint, organised)[0]


def cloud_kind_evidence(points: np.ndarray, viewpoint, organised: bool = False, seed: int = 0) -> tuple[str, str]:
    """(kind, why), by the first rule that applies:

    1. An organised (H, W) cloud is a depth image: "camera".
    2. Fewer than 10 finite points: "camera" (nothing to tell by; the orientation that needs nothing else).
    3. A viewpoint within the cloud's bounding box (grown by 2 % of its diagonal, at least 1 cm) is no
       sensor position: a camera sees its points from outside them, and an object-frame cloud's origin
       is the object's centre or base: "complete".
    4. Seen from the viewpoint, a camera's points are all in front: nothing it returned is hidden
       behind another of its points. Two visibility tests on at most 4000 points: a depth buffer
       (directions binned in cells of 1.5 point spacings; a point more than 2 spacings behind its
       cell's nearest is hidden; camera views keep 0.85-0.97 in front, complete clouds 0.22-0.77 in
       our renders and mesh samples) and open3d's hidden-point removal (camera views 0.99-1.0 visible,
       complete clouds 0.43-0.87, sparse ones highest). "camera" only when both say so (at least 0.8
       and 0.9); a flat or degenerate cloud hidden-point removal cannot take counts as visible.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.isfinite(pts).all(axis=1)]
    view = np.asarray(viewpoint, dtype=np.float64).reshape(3)
    if organised:
        return "camera", "an organised cloud is a depth image"
    if len(pts) < 10:
        return "camera", f"too few points ({len(pts)}) to tell; assumed one camera view"
    lo, hi = pts.min(0), pts.max(0)
    grow = max(0.01, 0.02 * float(np.linalg.norm(hi - lo)))
    if np.all(view >= lo - grow) and np.all(view <= hi + grow):
        return "complete", f"the viewpoint {_fmt(view)} lies within the cloud's bounds"
    if len(pts) > DETECT_MAX_POINTS:
        pts = pts[np.random.default_rng(seed).choice(len(pts), DETECT_MAX_POINTS, replace=False)]
    front = _front_share(pts, view)
    if front < CAMERA_ZBUFFER_SHARE:
        return "complete", f"{100 * front:.0f} % of the points are in front seen from the viewpoint {_fmt(view)}"
    visible = _hpr_share(pts, view)
    if visible < CAMERA_HPR_SHARE:
        return "complete", f"{100 * visible:.0f} % of the points are visible from the viewpoint {_fmt(view)}"
    return "camera", f"all but {100 * (1 - min(front, visible)):.0f} % of the points face the viewpoint {_fmt(view)}"


def _front_share(pts: np.ndarray, view: np.ndarray, cell: float = 1.5, depth: float = 2.0) -> float:
    """Share of the points nearest (within depth spacings) in their direction cell seen from view;
    0 when the points surround the viewpoint (no single camera sees them all)."""
    d = pts - view
    r = np.linalg.norm(d, axis=1)
    if np.any(r < 1e-9):
        return 0.0
    u = d / r[:, None]
    axis = u.mean(0)
    if np.linalg.norm(axis) < 1e-9:
        return 0.0
    axis /= np.linalg.norm(axis)
    c = u @ axis
    if c.min() < 0.2:  # more than ~78 degrees off the mean direction
        return 0.0
    s = point_spacing(pts)
    e1, e2 = (b[0] for b in tangent_basis(axis[None]))
    size = cell * s / float(np.median(r))  # gnomonic-plane cell: about cell spacings at the typical range
    ix = np.floor((u @ e1) / c / size).astype(np.int64)
    iy = np.floor((u @ e2) / c / size).astype(np.int64)
    _, cells = np.unique(np.stack([ix, iy], axis=1), axis=0, return_inverse=True)
    cells = cells.reshape(-1)
    nearest = np.full(cells.max() + 1, np.inf)
    np.minimum.at(nearest, cells, r)
    return float(np.mean(r <= nearest[cells] + depth * s))


def _hpr_share(pts: np.ndarray, view: np.ndarray) -> float:
    """Share of the points open3d's hidden-point removal finds visible from view (1 when it cannot run)."""
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    radius = 1000.0 * max(float(np.linalg.norm(np.ptp(pts, axis=0))), float(np.linalg.norm(pts - view, axis=1).max()))
    try:
        _, visible = cloud.hidden_point_removal(view, radius)
    except RuntimeError:  # qhull refuses flat or collinear inputs
        return 1.0
    return len(visible) / len(pts)


def _fmt(v: np.ndarray) -> str:
    return "(" + ", ".join(f"{x:.3g}" for x in v) + ")"
