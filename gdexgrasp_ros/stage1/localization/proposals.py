"""Candidate parts of an unlabelled object (proposals), from three geometric cues.

- Thickness: at each opening radius the object splits into the points a ball of that radius
  sweeps ("core") and the thinner rest; each connected piece of either is a candidate. A mug's
  handle is a thin piece at most radii, a screwdriver's handle the core once the shaft is thin.
- The top of an upright object: lids and caps sit on the body's top, bounded by a change of the
  body's cross-section (a step, a neck, a crease) or by the flat top face itself. Candidates are
  the points of the body's column above such changes.
- Concave creases (convexity.py): patches merged up to a few concavity levels.

Proposals overlap; the namer picks one per part name. Near-duplicates are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from .cloud import connected_parts
from .convexity import LEVELS, concavity_partitions
from .shape import ShapeAnalysis

SECTORS = 12  # angular sectors around the body's axis for cross-section profiles
COLUMN_COVERAGE = 0.75  # a height bin belongs to the body's column when this many sectors hold points
DUPLICATE_IOU = 0.95


@dataclass
class Proposal:
    mask: np.ndarray  # (N,) bool
    kind: str  # "thin", "thin-union", "core", "top", "top-face", "crease" (features.KINDS)
    scale: float = 0.0  # opening radius (metres) for thickness proposals
    info: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.mask.sum())


def min_part_points(n: int) -> int:
    """Smallest candidate: a handful of points, more on dense clouds (a bottle cap is ~2 %)."""
    return max(4, int(np.ceil(0.003 * n)))


def thickness_proposals(shape: ShapeAnalysis) -> list[Proposal]:
    out: list[Proposal] = []
    smallest = min_part_points(shape.n)
    # Both thinness tests at every radius: the loose one keeps whole appendages, the tangent-ball
    # one also finds small parts flush against the body (a trigger under a spray head).
    tests = list(zip(shape.scales, shape.thin, strict=True)) + list(zip(shape.scales, shape.thin_tangent, strict=True))
    for radius, thin in tests:
        thin_labels, thin_count = connected_parts(shape.points, thin, shape.link_radius)
        pieces = [thin_labels == k for k in range(thin_count) if np.sum(thin_labels == k) >= smallest]
        out += [Proposal(m, "thin", float(radius), {"piece": i}) for i, m in enumerate(pieces)]
        out += [Proposal(m, "thin-union", float(radius), {"pieces": 2}) for m in _twin_pieces(shape, pieces)]
        out += _core_pieces(shape, ~thin, float(radius), smallest)
    return out


def _twin_pieces(shape: ShapeAnalysis, pieces: list[np.ndarray]) -> list[np.ndarray]:
    """Unions of two alike pieces at the same height (a pot's pair of handles, scissor rings):
    one part made of two. Unlike pieces (a teapot's handle and spout) stay apart."""
    descriptors = []
    for m in pieces:
        pts = shape.points[m]
        spread = np.sqrt(np.maximum(np.linalg.eigvalsh(np.cov(pts.T)), 0.0))[::-1] if len(pts) > 3 else np.zeros(3)
        descriptors.append((spread, float(np.mean(shape.height[m])), int(m.sum())))
    span = max(shape.z_max - shape.z_min, 1e-9)
    out = []
    for i in range(len(pieces)):
        for j in range(i + 1, len(pieces)):
            (si, hi, ni), (sj, hj, nj) = descriptors[i], descriptors[j]
            alike = np.all(np.abs(si - sj) <= 0.25 * np.maximum(si, sj) + shape.spacing)
            if alike and abs(hi - hj) <= 0.1 * span and min(ni, nj) >= 0.6 * max(ni, nj):
                out.append(pieces[i] | pieces[j])
    return out


def _core_pieces(shape: ShapeAnalysis, thick: np.ndarray, radius: float, smallest: int) -> list[Proposal]:
    """The biggest thick piece, and other thick pieces that a thin part keeps well away from it
    (a hook at the end of a shaft). Thick pieces cut off the body by bands along its edges lie
    right next to it and are fragments, not parts."""
    labels, count = connected_parts(shape.points, thick, shape.link_radius)
    if count == 0:
        return []
    main = labels == 0
    out = [Proposal(main, "core", radius, {"piece": 0})] if smallest <= main.sum() < shape.n else []
    tree = cKDTree(shape.points[main])
    for k in range(1, count):
        mask = labels == k
        if mask.sum() < smallest:
            continue
        gap = float(tree.query(shape.points[mask])[0].min())
        if gap > 2 * radius + 2 * shape.spacing:
            out.append(Proposal(mask, "core", radius, {"piece": k}))
    return out


@dataclass
class ColumnProfile:
    """The body's cross-section along the up axis."""

    center: np.ndarray  # (2,) horizontal position of the axis
    edges: np.ndarray  # (B + 1,) bin boundaries (heights, metres)
    radius: np.ndarray  # (B,) median over occupied sectors of the outermost point's distance to the axis
    coverage: np.ndarray  # (B,) fraction of sectors holding points
    radial: np.ndarray  # (N,) each point's distance to the axis
    bins: np.ndarray  # (N,) each point's bin
    facing_up: np.ndarray  # (B,) mean of normal . up over the bin's points


def column_profile(shape: ShapeAnalysis) -> ColumnProfile:
    # The axis passes through the thick part, so handles and spouts do not pull it sideways.
    thick = shape.thickness >= np.median(shape.scales) if len(shape.scales) else np.ones(shape.n, bool)
    flat = shape.horizontal(shape.points)
    center = flat[thick].mean(0) if thick.any() else flat.mean(0)
    rel = flat - center
    radial = np.linalg.norm(rel, axis=1)
    sector = ((np.arctan2(rel[:, 1], rel[:, 0]) + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
    height = shape.z_max - shape.z_min
    n_bins = int(np.clip(height / shape.spacing, 12, 80))
    edges = np.linspace(shape.z_min, shape.z_max + 1e-9, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, shape.height, side="right") - 1, 0, n_bins - 1)
    outer = np.full((n_bins, SECTORS), np.nan)
    for b, s, r in zip(bins, sector, radial, strict=True):
        if not r <= outer[b, s]:  # NaN-aware max
            outer[b, s] = r
    occupied = np.isfinite(outer)
    coverage = occupied.mean(1)
    radius = np.array([np.median(row[np.isfinite(row)]) if np.isfinite(row).any() else 0.0 for row in outer])
    up = shape.normals @ shape.up
    counts = np.bincount(bins, minlength=n_bins)
    facing_up = np.bincount(bins, weights=up, minlength=n_bins) / np.maximum(counts, 1)
    return ColumnProfile(center, edges, radius, coverage, radial, bins, facing_up)


def _cut_candidates(profile: ColumnProfile, max_cuts: int = 8) -> list[tuple[int, float]]:
    """Bin boundaries in the column's upper half where the body changes: (bin, strength).

    Strength is the larger of the relative change of the cross-section radius (a cap on a
    narrow neck steps out a millimetre: relative to the neck that is a lot) and the change of
    how much the surface faces up (a lid's flat top meeting a curved shoulder).
    """
    column = np.flatnonzero(profile.coverage >= COLUMN_COVERAGE)
    if len(column) < 4:
        return []
    top = int(column.max())
    lowest = max(int(column.min() + 0.45 * (top - column.min())), 1)
    strength = []
    for b in range(lowest, top + 1):
        r_below, r_above = profile.radius[b - 1], profile.radius[b]
        step = abs(r_above - r_below) / max(r_above, r_below, 1e-9)
        turn = abs(profile.facing_up[b] - profile.facing_up[b - 1]) / 2.0
        strength.append((b, max(step, turn)))
    # No suppression of neighbours: a lid's rim and its knob are one bin apart and both count.
    peaks = [(b, s) for b, s in strength if s >= 0.05]
    peaks.sort(key=lambda bs: (-bs[1], bs[0]))
    return peaks[:max_cuts]


def _top_slab(shape: ShapeAnalysis, profile: ColumnProfile, cut_bin: int) -> np.ndarray:
    """Points of the body's column at or above a bin boundary (side appendages excluded)."""
    above = profile.bins >= cut_bin
    column = above & (profile.coverage[profile.bins] >= 0.5)
    if not column.any():
        return np.zeros(shape.n, dtype=bool)
    reach = 1.1 * np.max(profile.radius[cut_bin:][profile.coverage[cut_bin:] >= 0.5], initial=0.0)
    return above & (profile.radial <= reach + 2 * shape.spacing)


def top_proposals(shape: ShapeAnalysis) -> list[Proposal]:
    out: list[Proposal] = []
    profile = column_profile(shape)
    for cut_bin, strength in _cut_candidates(profile):
        mask = _top_slab(shape, profile, cut_bin)
        if mask.sum() >= min_part_points(shape.n):
            out.append(Proposal(mask, "top", 0.0, {"cut": float(profile.edges[cut_bin]), "strength": strength}))
    face = top_face(shape)
    if face.sum() >= min_part_points(shape.n):
        out.append(Proposal(face, "top-face"))
    return out


def top_face(shape: ShapeAnalysis, min_up: float = 0.8) -> np.ndarray:
    """The connected upward-facing surface holding the object's highest upward-facing point."""
    facing = (shape.normals @ shape.up >= min_up) & (shape.relative_height() >= 0.5)
    if not facing.any():
        return facing
    labels, _ = connected_parts(shape.points, facing, shape.link_radius)
    highest = np.flatnonzero(facing)[np.argmax(shape.height[facing])]
    return labels == labels[highest]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.sum(a | b)
    return float(np.sum(a & b) / union) if union else 0.0


def deduplicate(proposals: list[Proposal]) -> list[Proposal]:
    kept: list[Proposal] = []
    for p in proposals:
        if not any(_iou(p.mask, q.mask) >= DUPLICATE_IOU for q in kept):
            kept.append(p)
    return kept


def crease_proposals(shape: ShapeAnalysis) -> list[Proposal]:
    out = []
    for level, labels in zip(LEVELS, concavity_partitions(shape), strict=True):
        ids, counts = np.unique(labels, return_counts=True)
        for part, count in zip(ids, counts, strict=True):
            if min_part_points(shape.n) <= count < shape.n:
                out.append(Proposal(labels == part, "crease", 0.0, {"level": level}))
    return out


def stands_out(shape: ShapeAnalysis, mask: np.ndarray, tree: cKDTree | None = None) -> bool:
    """A part reaches away from the rest somewhere: some of its points are farther than
    1.5 spacings from every other point. Bands along convex edges never do."""
    if mask.all():
        return True
    tree = tree if tree is not None else cKDTree(shape.points[~mask])
    dist, _ = tree.query(shape.points[mask])
    return bool(np.max(dist) > 1.5 * shape.spacing)


def generate_proposals(shape: ShapeAnalysis) -> list[Proposal]:
    candidates = thickness_proposals(shape) + top_proposals(shape) + crease_proposals(shape)
    return deduplicate([p for p in candidates if stands_out(shape, p.mask)])
