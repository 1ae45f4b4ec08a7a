"""Sensor-cloud preprocessing: from a raw cloud to one object's points with outward normals.

Steps (each timed): drop non-finite points -> unit sanity check (millimetres?) -> optional
crop box -> the cloud's kind -> voxel downsample -> dominant (table) plane removal -> Euclidean
clustering -> target selection -> normals -> farthest-point sampling.

The kind (geometry/normals.py; DESIGN.md "Two kinds of cloud"): a "camera" cloud is one view,
its normals face the viewpoint; a "complete" cloud (mesh sample, fused views) has normals that
point out of the object, and a dominant plane is removed only when it is a support surface
reaching beyond the object (_support_plane), never a flat face or base of the object itself.
config.cloud_kind "auto" detects the kind (normals.cloud_kind_evidence). Normals given with the
points (a PointCloud2's normal_x/y/z) are trusted: kept through every step, only normalised.

Every kept point is an original input point (the first input point that falls in its voxel),
so ``indices`` map the output back into the flattened input and labels and pixels follow.
Units are metres; the viewpoint (the camera origin by default) is in the cloud's frame.
Failures raise CloudPreprocessError (a ValueError) with a message that says what went wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import open3d as o3d
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError, cKDTree

from ..geometry import normals as N
from ..geometry.sampling import farthest_point_sampling

TARGET_MODES = ("largest", "nearest", "label")
CLOUD_KIND_MODES = ("auto", *N.CLOUD_KINDS)
MILLIMETRE_MODES = ("error", "convert", "ignore")


class CloudPreprocessError(ValueError):
    """The cloud cannot be turned into an object (empty, wrong units, no object found)."""


class CloudUnitsError(CloudPreprocessError):
    """The cloud is not in metres (a request to fix, not an empty scene)."""


@dataclass
class PreprocessConfig:
    """Parameters of preprocess_cloud. Lengths in metres."""

    # Axis-aligned crop box (cloud frame, metres, applied after unit conversion); both or neither.
    crop_min: tuple[float, float, float] | None = None
    crop_max: tuple[float, float, float] | None = None
    # Unit check (the rule: _unit_scale). A cloud found to be in millimetres: "error" raises
    # CloudUnitsError, "convert" multiplies by 0.001, "ignore" skips the check. Thresholds, in the
    # cloud's units: typical point spacing above millimetre_spacing -> millimetres, below
    # metre_spacing -> metres; in between, a robust extent above millimetre_extent -> millimetres.
    millimetres: str = "error"
    millimetre_extent: float = 20.0
    millimetre_spacing: float = 0.02
    metre_spacing: float = 0.002
    voxel_size: float = 0.003  # voxel edge of the downsampling grid
    # RANSAC plane (seeded numpy), removed only if it holds > plane_min_fraction of the voxels.
    plane_distance: float = 0.008  # inlier distance threshold
    plane_ransac_n: int = 3  # points per hypothesis
    plane_iterations: int = 500  # hypotheses
    plane_score_points: int = 2000  # hypotheses are ranked by their inliers among this many random voxels
    plane_min_fraction: float = 0.15
    # Flatness test: at least this fraction of the inliers must lie within plane_distance / 2 of
    # the refitted plane. Sensor noise concentrates them there (0.86 at 3 mm noise); a band cut
    # through a curved object (more inliers than a small table patch in a tight crop) spreads
    # evenly (~0.5) and is then not removed.
    plane_min_core_fraction: float = 0.75
    # The object's lowest plane_distance is given back down to plane_margin_sigmas of the table's
    # own noise (robust sigma of the inliers' distances), at least plane_min_margin: a fixed
    # plane_distance shaved the lowest 8 mm off every object (half of a pair of pliers).
    plane_margin_sigmas: float = 4.0
    plane_min_margin: float = 0.002
    # Also drop points on the far side of the plane from the viewpoint (table edges, floor):
    # the camera sees the support surface from the side the objects stand on.
    remove_below_plane: bool = True
    # Euclidean clustering: points closer than cluster_eps are in the same object.
    cluster_eps: float = 0.015
    min_cluster_size: int = 50  # clusters with fewer voxels are ignored as clutter / sensor noise
    # A piece of the object that a thin, unseen link separates from it (a vase's foot under its
    # body) joins the target: a cluster within part_gap of it whose footprint on the support plane
    # lies, for at least part_footprint_share of its voxels, inside the target's footprint (its
    # convex outline, scaled about its centre so the farthest point moves out by cluster_eps).
    # Distractors stand beside the target, not under it.
    part_gap: float = 0.03
    part_footprint_share: float = 0.8
    # "largest": the cluster with most voxels; "nearest": the cluster with the point closest to
    # target_point (cloud frame, metres); "label": the cluster with most points carrying target_label.
    target: str = "largest"
    target_point: tuple[float, float, float] | None = None
    target_label: int | None = None
    num_points: int = 2048  # output size (farthest-point sampled, repeated when too few)
    # FPS costs num_points passes over its candidates (and slows sharply once they outgrow the
    # cache): a larger object is first reduced to this many voxels, drawn at random with seed.
    fps_max_candidates: int = 16384
    viewpoint: tuple[float, float, float] = (0.0, 0.0, 0.0)  # the camera origin in an optical-frame cloud
    normal_radius: float | None = 0.01  # neighbourhood radius for normals (None: knn only)
    normal_knn: int = 30  # at most this many neighbours for normals
    # "camera": one view, normals face the viewpoint; "complete": mesh sample or fused views, normals
    # point out and only a support plane beyond the object is removed; "auto": detected.
    cloud_kind: str = "auto"
    # Complete clouds: the dominant plane is a support surface (removed) when at most this share of
    # the off-plane voxels lies on its far side (under the objects, for a support round them) ...
    support_far_side: float = 0.05
    # ... and at least this share of its inliers is more than 2 cluster_eps from the off-plane
    # voxels' footprint on it (a table reaches beyond the object; a face or base of the object does not).
    support_beyond: float = 0.3
    seed: int = 0  # RANSAC and FPS-thinning seed: the same input gives the same output

    def __post_init__(self):
        if (self.crop_min is None) != (self.crop_max is None):
            raise ValueError("give both crop_min and crop_max, or neither")
        if self.crop_min is not None and np.any(np.asarray(self.crop_min) > np.asarray(self.crop_max)):
            raise ValueError(f"crop_min {self.crop_min} exceeds crop_max {self.crop_max}")
        if self.millimetres not in MILLIMETRE_MODES:
            raise ValueError(f"millimetres must be one of {MILLIMETRE_MODES}, got '{self.millimetres}'")
        if self.target not in TARGET_MODES:
            raise ValueError(f"target must be one of {TARGET_MODES}, got '{self.target}'")
        if self.cloud_kind not in CLOUD_KIND_MODES:
            raise ValueError(f"cloud_kind must be one of {CLOUD_KIND_MODES}, got '{self.cloud_kind}'")
        if self.target == "nearest" and self.target_point is None:
            raise ValueError("target='nearest' needs target_point")
        if self.target == "label" and self.target_label is None:
            raise ValueError("target='label' needs target_label")
        if self.normal_radius is not None and not self.normal_radius > 0:
            raise ValueError(f"normal_radius must be positive or None, got {self.normal_radius}")
        fractions = ("plane_min_fraction", "plane_min_core_fraction", "support_far_side", "support_beyond",
                     "part_footprint_share")  # fmt: skip
        if not all(0.0 <= getattr(self, name) <= 1.0 for name in fractions):
            raise ValueError(f"{', '.join(fractions)} are fractions in [0, 1]")
        for name in ("voxel_size", "plane_distance", "cluster_eps", "millimetre_extent", "metre_spacing",
                     "plane_margin_sigmas", "plane_min_margin", "part_gap"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.millimetre_spacing > self.metre_spacing:
            raise ValueError(
                f"millimetre_spacing ({self.millimetre_spacing}) must exceed metre_spacing ({self.metre_spacing})"
            )
        least = {"num_points": 1, "fps_max_candidates": 1, "min_cluster_size": 3, "normal_knn": 3,
                 "plane_ransac_n": 3, "plane_iterations": 1, "plane_score_points": 100}  # fmt: skip
        for name, minimum in least.items():
            if getattr(self, name) < minimum:
                raise ValueError(f"{name} must be at least {minimum}, got {getattr(self, name)}")


@dataclass
class PreprocessResult:
    """The target object (num_points rows) and where it came from in the input."""

    points: np.ndarray  # (num_points, 3) metres, original input points (scaled when converted)
    normals: np.ndarray  # (num_points, 3) unit: given, or towards the viewpoint (camera) / outward (complete)
    labels: np.ndarray | None  # (num_points,) the input labels of the kept points, None when not given
    indices: np.ndarray  # (num_points,) index of each point in the flattened input
    pixel_rc: np.ndarray | None  # (num_points, 2) (row, col) of each point for an organised input, else None
    padded: bool  # True when the object had fewer than num_points voxels and points were repeated
    num_unique: int  # distinct points in the output
    cluster_indices: np.ndarray  # flattened-input indices of ALL input points in the kept cluster's voxels
    plane: np.ndarray | None  # (4,) a, b, c, d of the removed plane (viewpoint on the positive side)
    num_clusters: int  # clusters found (of at least min_cluster_size voxels)
    scale: float  # factor applied to the input (0.001 after a millimetre conversion, else 1)
    input_shape: tuple  # shape of the points argument
    # The whole object at the voxel resolution (every kept voxel's point, its normal): the denser
    # cloud for work that needs small parts resolved (part localization); points == object_points[object_rows].
    object_points: np.ndarray | None = None  # (M, 3), M >= num_unique
    object_normals: np.ndarray | None = None  # (M, 3)
    object_indices: np.ndarray | None = None  # (M,) index of each in the flattened input
    object_rows: np.ndarray | None = None  # (num_points,) row of each output point in object_points
    timings_ms: dict[str, float] = field(default_factory=dict)  # per step, plus "total"
    cloud_kind: str = "camera"  # "camera" | "complete": what the cloud was taken to be
    kind_source: str = ""  # why: "configured", or "detected: <evidence>"
    normals_given: bool = False  # True: the normals came with the points (normalised), not estimated

    def cluster_mask(self) -> np.ndarray:
        """Bool mask over the input's leading shape ((H, W) for an organised cloud): the kept cluster."""
        mask = np.zeros(int(np.prod(self.input_shape[:-1])), dtype=bool)
        mask[self.cluster_indices] = True
        return mask.reshape(self.input_shape[:-1])


class _Timer:
    """Records milliseconds per named step; calls `check` after each (a caller's deadline, which may raise)."""

    def __init__(self, check=None):
        self.times: dict[str, float] = {}
        self._start = self._last = time.perf_counter()
        self._check = check

    def lap(self, name: str):
        now = time.perf_counter()
        self.times[name] = (now - self._last) * 1000
        self._last = now
        if self._check is not None:
            self._check()

    def total(self) -> dict[str, float]:
        self.times["total"] = (time.perf_counter() - self._start) * 1000
        return self.times


def _flatten_input(points, labels) -> tuple[np.ndarray, np.ndarray | None, tuple]:
    arr = np.asarray(points)
    if arr.ndim not in (2, 3) or arr.shape[-1] != 3:
        raise CloudPreprocessError(f"points must be (N, 3) or organised (H, W, 3), got shape {arr.shape}")
    flat = arr.reshape(-1, 3).astype(np.float64, copy=False)
    if labels is None:
        return flat, None, arr.shape
    lab = np.asarray(labels).reshape(-1)
    if not (np.issubdtype(lab.dtype, np.integer) or np.issubdtype(lab.dtype, np.bool_)):
        raise CloudPreprocessError(f"labels must be integers, got dtype {lab.dtype}")
    if len(lab) != len(flat):
        raise CloudPreprocessError(f"{len(lab)} labels for {len(flat)} points")
    return flat, lab.astype(np.int64, copy=False), arr.shape


# Unit check sample sizes: spacing queries, the k-d tree's points, the extent's points; below
# _UNIT_MIN_POINTS distinct spacings the extent alone decides.
_UNIT_QUERIES = 2048
_UNIT_TREE_MAX = 250_000
_UNIT_EXTENT_SAMPLE = 50_000
_UNIT_MIN_POINTS = 20


def _unit_scale(pts: np.ndarray, config: PreprocessConfig) -> float:
    """1.0 for metres; 0.001 for millimetres when conversion is configured, else CloudUnitsError.

    Two signals, both 1000x larger in millimetres:
    - spacing s: the 25th percentile, over up to 2048 points drawn with config.seed, of the
      distance from a point to its nearest distinct neighbour. A depth camera's neighbouring
      points are 0.1-20 mm apart: 1e-4..0.02 in metres, 0.1..20 in millimetres, whatever the
      object's size. A low percentile rather than the median, so that the points near the camera
      (the object to grasp) decide, not a sparse far background; not lower, because randomly
      sampled clouds (mesh samples) have a long short-distance tail (their 10th percentile is
      ~0.4x the median, the 25th ~0.65x).
    - extent E: the largest side of the box holding 99 % of the points on each axis (its 0.5th to
      99.5th percentiles), so that a few far outliers do not count.
    Millimetres when s > millimetre_spacing (0.02: a metre cloud that sparse could not be
    clustered at the default cluster_eps anyway, while a 15 mm part given in millimetres has
    s ~0.1-1 and E ~15). Metres when s < metre_spacing (0.002: no sensor samples 2 um apart, so a
    large extent there is far outliers, not millimetres). In between, millimetres when
    E > millimetre_extent (20: no table-top scene spans 20 m). With fewer than 20 points that
    have a distinct neighbour, E alone decides. Integer or byte-swapped coordinates never get
    here from a PointCloud2: the reader refuses them.
    """
    if config.millimetres == "ignore":
        return 1.0
    spacing = _point_spacing(pts, config)
    extent = _robust_extent(pts, config.seed)
    if spacing is not None and spacing > config.millimetre_spacing:
        evidence = (
            f"its points are typically {spacing:.3g} units apart (25th percentile of nearest-neighbour "
            f"distances, > {config.millimetre_spacing}; a camera's are 0.1-20 mm apart) across {extent:.3g} units"
        )
    elif (spacing is None or spacing >= config.metre_spacing) and extent > config.millimetre_extent:
        evidence = f"the cloud spans {extent:.1f} units (> {config.millimetre_extent}, 99 % of its points per axis)"
    else:
        return 1.0
    if config.millimetres == "convert":
        return 0.001
    raise CloudUnitsError(
        f"{evidence}: it is probably in millimetres, not metres; convert it, or set millimetres='convert' (x0.001)"
    )


def _robust_extent(pts: np.ndarray, seed: int) -> float:
    """Largest side of the 0.5th..99.5th percentile box (of up to _UNIT_EXTENT_SAMPLE points)."""
    if len(pts) > _UNIT_EXTENT_SAMPLE:
        pts = pts[np.random.default_rng(seed).choice(len(pts), _UNIT_EXTENT_SAMPLE, replace=False)]
    lo, hi = np.quantile(pts, [0.005, 0.995], axis=0)
    return float((hi - lo).max())


def _point_spacing(pts: np.ndarray, config: PreprocessConfig) -> float | None:
    """25th percentile of nearest-distinct-neighbour distances (_unit_scale); None: too few points."""
    n = len(pts)
    if n < _UNIT_MIN_POINTS:
        return None
    rng = np.random.default_rng(config.seed)
    query = np.sort(rng.choice(n, _UNIT_QUERIES, replace=False)) if n > _UNIT_QUERIES else np.arange(n)
    q = pts[query]

    def spacing(dist: np.ndarray) -> float | None:  # (queries, candidates) -> the statistic
        nearest = np.where(dist > 0, dist, np.inf).min(axis=1)
        if np.count_nonzero(np.isfinite(nearest)) < _UNIT_MIN_POINTS:
            return None
        return float(np.quantile(nearest, 0.25, method="lower"))

    # The neighbours in array order bound each distance from above; in a camera's row-major scan
    # they are the adjacent pixels, which settles "metres" without building a k-d tree.
    adjacent = [np.linalg.norm(pts[np.clip(query + k, 0, n - 1)] - q, axis=1) for k in (-1, 1)]
    bound = spacing(np.stack(adjacent, axis=1))
    if bound is not None and bound < config.metre_spacing:
        return bound
    # Larger clouds: a random subset of the points (spacing overestimated by at most ~sqrt(n / max)).
    tree_pts = pts if n <= _UNIT_TREE_MAX else pts[rng.choice(n, _UNIT_TREE_MAX, replace=False)]
    dist, _ = cKDTree(tree_pts, balanced_tree=False, compact_nodes=False).query(q, k=min(8, len(tree_pts)))
    return spacing(dist)


def _bounds(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis min and max (column by column: numpy's axis-0 reduction of (N, 3) is ~20x slower)."""
    return (np.array([points[:, k].min() for k in range(3)]), np.array([points[:, k].max() for k in range(3)]))


def voxel_representatives(points: np.ndarray, voxel_size: float) -> tuple[np.ndarray, np.ndarray]:
    """Voxel downsampling that keeps original points.

    Returns (first, inverse): first[v] is the lowest index of the points in voxel v (voxels in
    grid order), inverse[i] the voxel of point i.
    """
    lo, hi = _bounds(points)
    if float(np.prod((hi - lo) / voxel_size + 2)) > 2.0**62:
        raise CloudPreprocessError(f"a {hi - lo} m cloud has too many {voxel_size} m voxels; crop it")
    # Cells are non-negative, so truncation is floor. Key order y, x, z: a camera's row-major
    # scan then arrives nearly sorted, which the stable (run-exploiting) sort below is fast on.
    cx, cy, cz = (((points[:, k] - lo[k]) * (1.0 / voxel_size)).astype(np.int64) for k in range(3))
    keys = (cy * (cx.max() + 1) + cx) * (cz.max() + 1) + cz
    # A stable sort puts the lowest input index first in each voxel: deterministic representatives.
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    new_voxel = np.empty(len(keys), dtype=bool)
    new_voxel[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_voxel[1:])
    inverse = np.empty(len(points), dtype=np.int64)
    inverse[order] = np.cumsum(new_voxel) - 1
    return order[new_voxel], inverse


def _to_o3d(points: np.ndarray) -> o3d.geometry.PointCloud:
    return o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))


def _ransac_plane(points: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, float] | None:
    """RANSAC: the best of plane_iterations hypotheses, each a least-squares plane through
    plane_ransac_n random points, scored by its inliers among plane_score_points random points.

    numpy with a seeded generator rather than open3d's segment_plane: that one runs its
    iterations in parallel threads and returned different planes for the same input and seed.
    """
    rng = np.random.default_rng(config.seed)
    samples = points[rng.integers(0, len(points), size=(config.plane_iterations, config.plane_ransac_n))]
    centers = samples.mean(1)
    spread = samples - centers[:, None]
    values, vectors = np.linalg.eigh(np.einsum("hni,hnj->hij", spread, spread))
    normals = vectors[:, :, 0]  # smallest-variance direction of each sample
    # Collinear (or repeated) points define no plane: their two smallest variances are both ~0.
    proper = values[:, 1] > 1e-12 * np.maximum(values[:, 2], 1e-300)
    if not proper.any():
        return None
    normals, centers = normals[proper], centers[proper]
    offsets = -np.einsum("hi,hi->h", normals, centers)
    scored = points[rng.choice(len(points), size=min(len(points), config.plane_score_points), replace=False)]
    dist = scored @ normals.T + offsets  # (score points, hypotheses)
    best = int(np.argmax((np.abs(dist) <= config.plane_distance).sum(0)))  # first best on ties
    return normals[best], float(offsets[best])


def _fit_plane(points: np.ndarray, viewpoint: np.ndarray, config: PreprocessConfig) -> np.ndarray | None:
    """The dominant plane (a, b, c, d), unit normal towards the viewpoint; None if it is not dominant."""
    if len(points) < config.plane_ransac_n:
        return None
    hypothesis = _ransac_plane(points, config)
    if hypothesis is None:
        return None
    normal, offset = hypothesis
    inliers = np.abs(points @ normal + offset) <= config.plane_distance
    if inliers.sum() <= config.plane_min_fraction * len(points):
        return None
    # Least-squares refit on all the inliers: the sampled hypothesis is tilted by sensor noise.
    inlier_pts = points[inliers]
    center = inlier_pts.sum(0) / len(inlier_pts)
    centered = inlier_pts - center
    _, vecs = np.linalg.eigh(centered.T @ centered)
    normal = vecs[:, 0]
    if np.mean(np.abs(centered @ normal) < config.plane_distance / 2) < config.plane_min_core_fraction:
        return None  # a slice through a curved surface, not a support plane
    if np.dot(viewpoint - center, normal) < 0:
        normal = -normal
    return np.append(normal, -np.dot(normal, center))


def plane_margin(points: np.ndarray, plane: np.ndarray, config: PreprocessConfig) -> float:
    """How far from the plane points still belong to it (m): plane_margin_sigmas robust sigmas
    (1.4826 x the median absolute distance of the RANSAC inliers) of the surface's noise, clipped
    to [plane_min_margin, plane_distance]."""
    dist = np.abs(points @ plane[:3] + plane[3])
    inliers = dist[dist <= config.plane_distance]
    sigma = 1.4826 * float(np.median(inliers)) if len(inliers) else config.plane_distance
    return float(np.clip(config.plane_margin_sigmas * sigma, config.plane_min_margin, config.plane_distance))


def _off_plane_mask(points: np.ndarray, plane: np.ndarray | None, config: PreprocessConfig) -> np.ndarray:
    """Points kept after plane removal: off the plane and (optionally) on the viewpoint's side."""
    if plane is None:
        return np.ones(len(points), dtype=bool)
    dist = points @ plane[:3] + plane[3]
    if config.remove_below_plane:
        return dist > config.plane_distance
    return np.abs(dist) > config.plane_distance


def _grow_down(
    points: np.ndarray, members: np.ndarray, plane: np.ndarray | None, config: PreprocessConfig
) -> np.ndarray:
    """The object's voxels plus those of its lowest plane_distance that plane removal took: voxels
    between the plane's noise margin (plane_margin) and plane_distance are given back when they
    connect to the object through such voxels, within two voxel edges. Table noise away from the
    object stays with the table; a low object keeps its lower part."""
    if plane is None:
        return members
    dist = points @ plane[:3] + plane[3]
    low = np.flatnonzero((dist > plane_margin(points, plane, config)) & (dist <= config.plane_distance))
    if len(low) == 0:
        return members
    tree, taken = cKDTree(points[low]), np.zeros(len(low), dtype=bool)
    front = points[members]
    while len(front):
        hits = {j for near in tree.query_ball_point(front, 2 * config.voxel_size) for j in near}
        new = np.array(sorted(j for j in hits if not taken[j]), dtype=np.int64)
        taken[new] = True
        front = points[low[new]]
    return np.concatenate([members, low[taken]])


def _in_plane(plane: np.ndarray):
    """points (N, 3) -> their 2-D coordinates in the plane (a fixed tangent basis of its normal)."""
    e1, e2 = N.tangent_basis(plane[None, :3])
    return lambda p: np.stack([p @ e1[0], p @ e2[0]], axis=1)


def _support_plane(points: np.ndarray, plane: np.ndarray, config: PreprocessConfig) -> np.ndarray | None:
    """A complete cloud's dominant plane, if it is a support surface (a table under fused views),
    turned towards the objects; None if it is part of the object.

    A complete object has flat faces and bases that pass the flatness test and may hold more than
    plane_min_fraction of its voxels (a box's face, a pan's bottom, a tray's floor, a whole pair of
    scissors). Such a face is bounded by the object: it lies within the outline of the rest of the
    object projected onto the plane (the other side of the solid, or the walls or rim around it).
    A table reaches beyond the objects standing on it and has them on one side only. So the plane
    is removed only if at least support_beyond of its inliers lie outside the convex outline of the
    near side's voxels projected onto it and more than 2 cluster_eps from any of them, and at most
    support_far_side of the off-plane voxels lie on its far side. When those "beyond" inliers
    surround the near side (it lies inside their convex outline, as objects on a table do), only
    far-side voxels within 2 cluster_eps of the near side's voxels count: views from beside a table
    see its edge faces below its top, away from the objects (on 3 of 5 fused three-view mugs they
    were 11 % of the off-plane voxels and the whole table was kept as the object); a flat face of
    an object with parts on both sides away from each other (a Z-bracket's web) does not surround
    them, so all its far side counts. The plane is then oriented towards the objects (the viewpoint
    of a complete cloud, e.g. an object frame's origin on the plane, says nothing about sides).
    """
    dist = points @ plane[:3] + plane[3]
    above, below = dist > config.plane_distance, dist < -config.plane_distance
    inliers = ~(above | below)
    off = int(above.sum() + below.sum())
    if off == 0:
        return None
    flip = 1.0 if above.sum() >= below.sum() else -1.0
    side, far_side = (above, below) if flip > 0 else (below, above)
    flat = _in_plane(plane)
    objects, support, far = flat(points[side]), flat(points[inliers]), flat(points[far_side])
    tree = cKDTree(objects)
    near, _ = tree.query(support, distance_upper_bound=2 * config.cluster_eps)
    beyond = ~np.isfinite(near) & ~_inside_outline(objects, support)
    if np.mean(beyond) < config.support_beyond:
        return None
    limit = config.support_far_side * off
    if len(far) > limit:  # only then the outline test: most planes have (almost) nothing behind them
        if not np.all(_inside_outline(support[beyond], objects)):  # no support round the objects
            return None
        under, _ = tree.query(far, distance_upper_bound=2 * config.cluster_eps)
        if np.isfinite(under).sum() > limit:
            return None
    return flip * plane


def _inside_outline(outline: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which 2-D points (M, 2) lie inside the convex outline of `outline` (K, 2); none when the outline
    is degenerate (a line or a point)."""
    try:
        return Delaunay(outline).find_simplex(points) >= 0
    except QhullError:
        return np.zeros(len(points), dtype=bool)


def _clusters(points: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean clusters: labels per point (-1 for clusters below min_cluster_size), kept cluster ids.

    Linking all voxel pairs within eps is slow (~80 neighbours per voxel), so the linkage runs on
    one representative per coarse cell of edge eps / 2.5, and points take their cell's label.
    Points sharing a cell are within eps (diagonal 0.69 eps) and representatives are real points,
    so objects further than eps apart stay separate, as with exact linkage; representatives of
    occupied face-adjacent cells are at most sqrt(6) / 2.5 = 0.98 eps apart, so always linked, and
    a densely sampled surface stays one cluster.
    """
    first, inverse = voxel_representatives(points, config.cluster_eps / 2.5)
    pairs = cKDTree(points[first]).query_pairs(config.cluster_eps, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs), dtype=bool), (pairs[:, 0], pairs[:, 1])), shape=(len(first),) * 2)
    _, cell_labels = connected_components(graph, directed=False)
    labels = cell_labels[inverse].astype(np.int64)
    sizes = np.bincount(labels)
    small = sizes < config.min_cluster_size
    labels[small[labels]] = -1
    return labels, np.flatnonzero(~small)


def _with_separated_parts(points, cluster_labels, kept, target, plane, config: PreprocessConfig) -> np.ndarray:
    """Mask of the target cluster's points plus those of clusters that are pieces of it (see
    PreprocessConfig.part_gap): near it and standing within its footprint on the support plane."""
    mask = cluster_labels == target
    if plane is None or len(kept) < 2:
        return mask
    flat = _in_plane(plane)
    body = flat(points[mask])
    centre = body.mean(0)
    reach = np.linalg.norm(body - centre, axis=1).max()
    grown = centre + (body - centre) * (1.0 + config.cluster_eps / max(reach, 1e-9))
    try:
        outline = Delaunay(grown)
    except QhullError:  # the target projects onto a line: no footprint
        return mask
    tree = cKDTree(points[mask])
    for k in kept:
        if k == target:
            continue
        piece = cluster_labels == k
        gap, _ = tree.query(points[piece], distance_upper_bound=config.part_gap)
        if (
            np.isfinite(gap).any()
            and np.mean(outline.find_simplex(flat(points[piece])) >= 0) >= config.part_footprint_share
        ):
            mask |= piece
    return mask


def _select_cluster(points, cluster_labels, kept, point_labels, config: PreprocessConfig) -> int:
    """The id of the target cluster among the kept ones, per config.target."""
    if config.target == "largest":
        sizes = np.bincount(cluster_labels[cluster_labels >= 0], minlength=kept.max() + 1)
        return int(kept[np.argmax(sizes[kept])])  # argmax takes the lowest id on ties
    if config.target == "nearest":
        dist = np.linalg.norm(points - np.asarray(config.target_point, dtype=np.float64), axis=1)
        return int(kept[np.argmin([dist[cluster_labels == k].min() for k in kept])])
    carrying = (point_labels == config.target_label) & (cluster_labels >= 0)
    if not carrying.any():
        raise CloudPreprocessError(
            f"no point with label {config.target_label} is left in any cluster (removed as plane, clutter or noise)"
        )
    return int(np.argmax(np.bincount(cluster_labels[carrying])))


def estimate_normals(points: np.ndarray, viewpoint: np.ndarray, config: PreprocessConfig | None = None,
                     kind: str = "camera") -> np.ndarray:  # fmt: skip
    """Surface normals by local PCA, oriented for the kind of cloud: towards the viewpoint (the side
    a camera saw) for "camera", out of the object for "complete" (geometry/normals.py)."""
    config = config or PreprocessConfig()
    if kind not in N.CLOUD_KINDS:
        raise ValueError(f"kind must be one of {N.CLOUD_KINDS}, got '{kind}'")
    normals = N.estimate_normals(points, config.normal_radius, config.normal_knn)
    if kind == "complete":
        return N.orient_outward(points, normals)
    return N.orient_towards(points, normals, viewpoint)


def resolve_cloud_kind_of(points: np.ndarray, viewpoint, kind: str = "auto", organised: bool = False
                          ) -> tuple[str, str]:  # fmt: skip
    """(kind, source): the kind as configured ("configured"), or for "auto" the detected one
    ("detected: <evidence>", geometry/normals.py cloud_kind_evidence)."""
    if kind not in CLOUD_KIND_MODES:
        raise ValueError(f"cloud_kind must be one of {CLOUD_KIND_MODES}, got '{kind}'")
    if kind != "auto":
        return kind, "configured"
    detected, evidence = N.cloud_kind_evidence(points, viewpoint, organised)
    return detected, f"detected: {evidence}"


def given_normals(normals, flat_len: int) -> np.ndarray:
    """Normals that came with the points, flattened like them ((H, W, 3) -> (H * W, 3)); float64."""
    arr = np.asarray(normals, dtype=np.float64)
    if arr.ndim not in (2, 3) or arr.shape[-1] != 3 or arr.size != 3 * flat_len:
        raise CloudPreprocessError(f"normals must have the points' shape ({flat_len} points), got {arr.shape}")
    return arr.reshape(-1, 3)


def unit_normals(normals: np.ndarray, what: str = "normals") -> np.ndarray:
    """Given normals scaled to unit length; CloudPreprocessError if any is not finite or is zero."""
    length = np.linalg.norm(normals, axis=1)
    bad = ~(np.isfinite(length) & (length > 1e-12))
    if bad.any():
        raise CloudPreprocessError(
            f"{what}: {int(bad.sum())} of {len(normals)} normals are not finite or zero (first at row "
            f"{int(np.flatnonzero(bad)[0])}); send finite, non-zero normals or none (then they are estimated)"
        )
    return normals / length[:, None]


def _sample(points: np.ndarray, config: PreprocessConfig) -> tuple[np.ndarray, bool]:
    """FPS to num_points indices; with fewer points, all of them in FPS order cycled (padded=True)."""
    n = config.num_points
    candidates = np.arange(len(points))
    if len(points) > max(config.fps_max_candidates, n):
        rng = np.random.default_rng(config.seed)
        candidates = np.sort(rng.choice(len(points), size=max(config.fps_max_candidates, n), replace=False))
    order = candidates[farthest_point_sampling(points[candidates], n)]
    if len(order) == n:
        return order, False
    return np.resize(order, n), True


def _finite_points(flat: np.ndarray) -> np.ndarray:
    # x + y + z is finite exactly when all three are (inf - inf is NaN; only sums beyond 1e308,
    # garbage anyway, overflow); 20x faster than isfinite(flat).all(1).
    finite = np.flatnonzero(np.isfinite(flat[:, 0] + flat[:, 1] + flat[:, 2]))
    if len(finite) == 0:
        raise CloudPreprocessError(f"the cloud has no finite point (of {len(flat)})")
    return finite


def _crop(pts: np.ndarray, config: PreprocessConfig) -> np.ndarray | None:
    """Indices into pts inside the crop box; None when there is no crop box (keep all)."""
    if config.crop_min is None:
        return None
    inside = np.all((pts >= np.asarray(config.crop_min)) & (pts <= np.asarray(config.crop_max)), axis=1)
    if not inside.any():
        raise CloudPreprocessError(f"no point inside the crop box {config.crop_min} .. {config.crop_max}")
    return np.flatnonzero(inside)


def _clean(flat: np.ndarray, config: PreprocessConfig, timer: _Timer) -> tuple[np.ndarray, np.ndarray, float]:
    """Finite points in metres inside the crop box: (input indices, points, unit scale applied).

    The unit check runs before the crop: the crop box is in metres, and cropping a millimetre
    cloud with it would silently keep the wrong points.
    """
    src = _finite_points(flat)
    pts = np.take(flat, src, axis=0)  # take: several times faster than fancy indexing here
    timer.lap("finite")
    scale = _unit_scale(pts, config)
    if scale != 1.0:
        pts = pts * scale
    timer.lap("units")
    inside = _crop(pts, config)
    if inside is not None:
        src, pts = src[inside], np.take(pts, inside, axis=0)
    timer.lap("crop")
    return src, pts, scale


@dataclass
class _Segmentation:
    points: np.ndarray  # (M, 3) one original point per voxel of the target cluster
    source: np.ndarray  # (M,) their indices in the flattened input
    cluster_indices: np.ndarray  # flattened-input indices of every point in those voxels
    plane: np.ndarray | None
    num_clusters: int


def _segment(pts, src, labels, view, config: PreprocessConfig, timer: _Timer, kind: str = "camera") -> _Segmentation:
    """Voxelize, remove the support plane, cluster and pick the target cluster."""
    first, inverse = voxel_representatives(pts, config.voxel_size)
    vox_pts = pts[first]
    timer.lap("voxel")
    plane = _fit_plane(vox_pts, view, config)
    if kind == "complete" and plane is not None:
        plane = _support_plane(vox_pts, plane, config)
    off_plane = np.flatnonzero(_off_plane_mask(vox_pts, plane, config))
    if len(off_plane) == 0:
        raise CloudPreprocessError(
            f"nothing is left after removing the dominant plane ({len(vox_pts)} voxels)"
            + (f"; points beyond it from the viewpoint {view} were removed too" if config.remove_below_plane else "")
        )
    timer.lap("plane")
    cluster_labels, kept = _clusters(vox_pts[off_plane], config)
    if len(kept) == 0:
        raise CloudPreprocessError(
            f"no cluster of at least {config.min_cluster_size} voxels among {len(off_plane)} off-plane voxels"
        )
    timer.lap("cluster")
    off_labels = None if labels is None else labels[src[first[off_plane]]]
    target = _select_cluster(vox_pts[off_plane], cluster_labels, kept, off_labels, config)
    in_target = _with_separated_parts(vox_pts[off_plane], cluster_labels, kept, target, plane, config)
    members = _grow_down(vox_pts, off_plane[in_target], plane, config)  # voxel ids of the object
    in_cluster = np.zeros(len(first), dtype=bool)
    in_cluster[members] = True
    seg = _Segmentation(vox_pts[members], src[first[members]], src[in_cluster[inverse]], plane, len(kept))
    timer.lap("select")
    return seg


def preprocess_cloud(
    points: np.ndarray,
    config: PreprocessConfig | None = None,
    labels: np.ndarray | None = None,
    viewpoint: np.ndarray | None = None,
    check=None,
    normals: np.ndarray | None = None,
    cloud_kind: str | None = None,
    organised: bool | None = None,
) -> PreprocessResult:
    """Extract the target object from a cloud (N, 3) or organised (H, W, 3).

    labels: optional per-point integers (same leading shape), carried to the output and used by
    target='label'. viewpoint: where the sensor was, in the cloud's frame in metres (default
    config.viewpoint, the optical-frame origin); a camera cloud's normals face it and the plane
    side uses it. normals: optional per-point normals (the points' shape) that came with the cloud:
    trusted, kept through every step and only normalised (CloudPreprocessError if one of a finite
    point is not finite or zero). cloud_kind: "auto" | "camera" | "complete" (default
    config.cloud_kind). organised: whether the points are a depth image (an auto kind is then
    "camera"); default: whether they are (H, W, 3). check: called after each step (e.g. a
    deadline that raises), so a huge cloud stops early.
    """
    config = config or PreprocessConfig()
    timer = _Timer(check)
    flat, flat_labels, shape = _flatten_input(points, labels)
    flat_normals = None if normals is None else given_normals(normals, len(flat))
    if config.target == "label" and flat_labels is None:
        raise CloudPreprocessError("target='label' needs per-point labels")
    view = np.asarray(config.viewpoint if viewpoint is None else viewpoint, dtype=np.float64).reshape(3)
    src, pts, scale = _clean(flat, config, timer)
    if config.target == "label" and not np.any(flat_labels[src] == config.target_label):
        raise CloudPreprocessError(f"label {config.target_label} is not present in the (cropped) cloud")
    if flat_normals is not None:
        unit_normals(flat_normals[src], "the cloud's normals")  # refuse bad ones before the work
    organised = len(shape) == 3 if organised is None else organised
    kind, kind_source = resolve_cloud_kind_of(pts, view, config.cloud_kind if cloud_kind is None else cloud_kind,
                                              organised)  # fmt: skip
    timer.lap("kind")
    seg = _segment(pts, src, flat_labels, view, config, timer, kind)
    if flat_normals is None:
        object_normals = estimate_normals(seg.points, view, config, kind)
    else:
        object_normals = unit_normals(flat_normals[seg.source], "the cloud's normals")
    timer.lap("normals")
    pick, padded = _sample(seg.points, config)
    indices = seg.source[pick]
    timer.lap("fps")
    return PreprocessResult(
        points=seg.points[pick],
        normals=object_normals[pick],
        labels=None if flat_labels is None else flat_labels[indices],
        indices=indices,
        pixel_rc=np.stack(np.divmod(indices, shape[1]), axis=1) if len(shape) == 3 else None,
        padded=padded,
        num_unique=min(len(seg.points), config.num_points),
        cluster_indices=seg.cluster_indices,
        plane=seg.plane,
        num_clusters=seg.num_clusters,
        scale=scale,
        input_shape=tuple(shape),
        object_points=seg.points,
        object_normals=object_normals,
        object_indices=seg.source,
        object_rows=pick,
        timings_ms=timer.total(),
        cloud_kind=kind,
        kind_source=kind_source,
        normals_given=flat_normals is not None,
    )
