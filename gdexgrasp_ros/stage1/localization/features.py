"""A fixed-length description of a candidate part, the input of the part-name models.

What distinguishes part names is mostly relative: a handle sticks out sideways or arches over
the top, touching the rest at one or two places; a lid sits on the top and faces up; a trigger
is small and hangs below something. Thickness is kept in metres (a hand grips 1-4 cm), the rest
is relative to the object, so one model serves mugs and suitcases.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .cloud import connected_parts, neighbour_pairs
from .convexity import pair_concavity
from .proposals import Proposal, column_profile
from .shape import ShapeAnalysis

KINDS = ("thin", "thin-union", "core", "top", "top-face", "crease")
# What a human hand closes around: a bar of about 2 cm diameter (7-17 mm radius within one
# standard deviation in log space) and at least a palm's width (8 cm) long.
GRIP_RADIUS_M = 0.011
GRIP_LOG_SIGMA = 0.45
PALM_WIDTH_M = 0.08

# What the fitted part-name models take (part_models.py was fitted on exactly these).
MODEL_FEATURES = (
    "bias",
    "log_fraction",
    "log_thickness_m",
    "log_thickness_m_sq",
    "thickness_vs_rest",
    "log_length_m",
    "length_vs_object",
    "width_vs_length",
    "depth_vs_length",
    "axis_vertical",
    "height_mean",
    "height_min",
    "height_max",
    "rises_above_rest",
    "sinks_below_rest",
    "offset_from_axis",
    "reach_vs_rest",
    "facing_up",
    "facing_up_share",
    "facing_down_share",
    "contact_share",
    "one_contact",
    "two_contacts",
    "protrusion",
    "concave_boundary",
    "largest",
    "grasp_thickness",
    "grasp_length",
    "hand_fits",
    "log_cross_section_m",
    "loop_bulge",
    "covers_below",
    "covers_below_sq",
) + tuple(f"kind_{k}" for k in KINDS)
# Read only by the rule families (naming.RULE_FAMILIES), so adding one needs no refit:
# overhang, the share of the part's points with the rest of the object above them.
RULE_FEATURES = ("overhang",)
FEATURES = MODEL_FEATURES + RULE_FEATURES
# Overhang: something at least this much higher (m) within this horizontal radius (spacings,
# at least OVERHANG_MIN_RADIUS_M) covers a point.
OVERHANG_RISE_M = 0.01
OVERHANG_RADIUS_SPACINGS = 2.0
OVERHANG_MIN_RADIUS_M = 0.006


class ProposalFeatures:
    """Computes FEATURES for proposals of one object (shared per-object quantities cached)."""

    def __init__(self, shape: ShapeAnalysis):
        self.shape = shape
        self.profile = column_profile(shape)
        self.extent = max(shape.extent, 1e-9)
        self.neighbours = cKDTree(shape.points).query_ball_point(shape.points, shape.link_radius)
        self.concave = self._point_concavity()
        self._above = self._columns()

    def _columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(point, other point) pairs where the other lies over the point (see OVERHANG_*)."""
        shape = self.shape
        radius = max(OVERHANG_RADIUS_SPACINGS * shape.spacing, OVERHANG_MIN_RADIUS_M)
        pairs = cKDTree(shape.horizontal(shape.points)).query_pairs(radius, output_type="ndarray").reshape(-1, 2)
        # Each unordered pair once, oriented (lower, higher) where the rise is enough. The pair count
        # grows with the square of the points stacked in one column (a tall thin part).
        i, j = pairs[:, 0], pairs[:, 1]
        rise = shape.height[j] - shape.height[i]
        up, down = rise > OVERHANG_RISE_M, rise < -OVERHANG_RISE_M
        below = np.concatenate([i[up], j[down]]).astype(np.int32)
        above = np.concatenate([j[up], i[down]]).astype(np.int32)
        return below, above

    def _overhang(self, mask: np.ndarray) -> float:
        """Share of the part's points under some point of the rest (a trigger hangs below a barrel
        or a spray head; a nozzle or a chuck at the front has nothing over it)."""
        below, above = self._above
        keep = mask[below] & ~mask[above]
        covered = np.zeros(self.shape.n, dtype=bool)
        covered[below[keep]] = True
        return float(covered[mask].mean()) if mask.any() else 0.0

    def _point_concavity(self) -> np.ndarray:
        """Per point, the strongest concavity towards a neighbour (0 on convex or flat surface)."""
        shape = self.shape
        pairs = neighbour_pairs(shape.points, shape.link_radius)
        concave = pair_concavity(shape, pairs)
        out = np.zeros(shape.n)
        np.maximum.at(out, pairs[:, 0], concave)
        np.maximum.at(out, pairs[:, 1], concave)
        return out

    def _contacts(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Points of the proposal next to the rest, which contact place each is in, and how many."""
        touching = np.zeros(self.shape.n, dtype=bool)
        rest = ~mask
        for i in np.flatnonzero(mask):
            if rest[self.neighbours[i]].any():
                touching[i] = True
        labels, count = connected_parts(self.shape.points, touching, 2.0 * self.shape.link_radius)
        return touching, labels, count

    def _bulge(self, mask: np.ndarray, labels: np.ndarray) -> float:
        """For a part touching the rest at two places: how far it bows away from the straight line
        between them, relative to their distance (a loop ~0.3-0.5; a straight bar ~0)."""
        a = self.shape.points[labels == 0].mean(0)
        b = self.shape.points[labels == 1].mean(0)
        ab = b - a
        length = float(np.linalg.norm(ab))
        if length < 1e-9:
            return 0.0
        t = np.clip((self.shape.points[mask] - a) @ ab / length**2, 0.0, 1.0)
        off = self.shape.points[mask] - (a + t[:, None] * ab)
        return float(np.linalg.norm(off, axis=1).max() / length)

    def __call__(self, proposal: Proposal, largest: bool = False) -> np.ndarray:
        mask = proposal.mask
        f = dict.fromkeys(FEATURES, 0.0)
        f["bias"] = 1.0
        f["log_fraction"] = float(np.log(mask.mean()))
        f["largest"] = float(largest)
        f[f"kind_{proposal.kind}"] = 1.0
        vals = self._shape_features(mask, f)
        self._position_features(mask, f)
        self._contact_features(mask, f)
        self._grip_features(mask, vals, f)
        return np.array([f[name] for name in FEATURES], dtype=np.float64)

    def _shape_features(self, mask: np.ndarray, f: dict) -> np.ndarray:
        """Thickness (metres and against the rest) and principal extents; returns the variances."""
        shape = self.shape
        thick = float(np.median(shape.half_thickness[mask]))
        rest_thick = float(np.median(shape.half_thickness[~mask])) if (~mask).any() else thick
        f["log_thickness_m"] = float(np.log(max(thick, 1e-4) / 0.01))  # centred on 1 cm
        f["log_thickness_m_sq"] = f["log_thickness_m"] ** 2
        f["thickness_vs_rest"] = float(np.log(max(thick, 1e-4) / max(rest_thick, 1e-4)))
        pts = shape.points[mask]
        centred = pts - pts.mean(0)
        vals, vecs = np.linalg.eigh(centred.T @ centred / max(len(pts), 1))
        spread = np.sqrt(np.maximum(vals[::-1], 0.0)) * 4.0  # ~ full extent along each principal axis
        f["log_length_m"] = float(np.log(max(spread[0], 1e-4) / 0.1))
        f["length_vs_object"] = spread[0] / self.extent
        f["width_vs_length"] = spread[1] / max(spread[0], 1e-9)
        f["depth_vs_length"] = spread[2] / max(spread[0], 1e-9)
        f["axis_vertical"] = abs(float(vecs[:, -1] @ shape.up))
        return vals

    def _position_features(self, mask: np.ndarray, f: dict) -> None:
        """Where the part is: height, above/below the rest, off the body's axis, facing up or down."""
        shape = self.shape
        rel = shape.relative_height()
        f["height_mean"], f["height_min"], f["height_max"] = rel[mask].mean(), rel[mask].min(), rel[mask].max()
        radial = self.profile.radial
        if (~mask).any():
            f["rises_above_rest"] = float(rel[mask].max() - rel[~mask].max())
            f["sinks_below_rest"] = float(rel[~mask].min() - rel[mask].min())
            dist, _ = cKDTree(shape.points[~mask]).query(shape.points[mask])
            f["protrusion"] = float(np.percentile(dist, 90)) / self.extent
        reach = max(float(np.percentile(radial[~mask], 95)) if (~mask).any() else 0.0, 1e-9)
        centre = shape.horizontal(shape.points[mask]).mean(0)
        f["offset_from_axis"] = float(np.linalg.norm(centre - self.profile.center)) / reach
        f["covers_below"] = self._covers_below(mask)
        f["covers_below_sq"] = f["covers_below"] ** 2
        f["overhang"] = self._overhang(mask)
        f["reach_vs_rest"] = float(np.percentile(radial[mask], 95)) / reach
        up = shape.normals[mask] @ shape.up
        f["facing_up"] = float(up.mean())
        f["facing_up_share"] = float(np.mean(up > 0.8))
        f["facing_down_share"] = float(np.mean(up < -0.8))

    def _covers_below(self, mask: np.ndarray) -> float:
        """log(the part's reach from the body's axis / the reach of what lies just below it).

        About 0 for a lid or cap (it covers the opening under it), well below 0 for a knob on a
        lid, above 0 for something sticking out sideways (a handle, a spout)."""
        shape, radial = self.shape, self.profile.radial
        low = float(np.percentile(shape.height[mask], 5))
        band = max(3.0 * shape.spacing, 0.05 * (shape.z_max - shape.z_min))
        below = ~mask & (shape.height < low) & (shape.height >= low - band)
        if not below.any():
            below = ~mask
        if not below.any():
            return 0.0
        reach = float(np.percentile(radial[mask], 95))
        under = float(np.percentile(radial[below], 90))
        return float(np.clip(np.log(max(reach, 1e-6) / max(under, 1e-6)), -2.0, 2.0))

    def _contact_features(self, mask: np.ndarray, f: dict) -> None:
        """How the part meets the rest: how much of it touches, at how many places, across a crease."""
        touching, labels, count = self._contacts(mask)
        f["contact_share"] = float(touching[mask].mean())
        f["one_contact"] = float(count == 1)
        f["two_contacts"] = float(count == 2)
        f["loop_bulge"] = self._bulge(mask, labels) if count == 2 else 0.0
        f["concave_boundary"] = float(self.concave[touching].mean()) if touching.any() else 0.0

    def _grip_features(self, mask: np.ndarray, variances: np.ndarray, f: dict) -> None:
        """Does a hand fit: cross-section radius and length against a hand's."""
        thick = float(np.exp(f["log_thickness_m"]) * 0.01)
        length = float(np.exp(f["log_length_m"]) * 0.1)
        # Radius of the part's cross-section from its own points: a tube's points lie ~r/sqrt(2)
        # (std) from its axis along the thinnest direction. Sparse clouds blur the voxel solid of
        # a thin part into what it is attached to; this does not.
        section = float(np.sqrt(2.0 * max(variances[0], 0.0)))
        f["log_cross_section_m"] = float(np.log(max(min(section, thick), 1e-4) / 0.01))
        f["grasp_thickness"] = float(np.exp(-(np.log(thick / GRIP_RADIUS_M) ** 2) / (2 * GRIP_LOG_SIGMA**2)))
        f["grasp_length"] = float(min(length / PALM_WIDTH_M, 1.0))
        f["hand_fits"] = f["grasp_thickness"] * f["grasp_length"]

    def matrix(self, proposals: list[Proposal]) -> np.ndarray:
        if not proposals:
            return np.zeros((0, len(FEATURES)))
        biggest = int(np.argmax([p.size for p in proposals]))
        return np.stack([self(p, i == biggest) for i, p in enumerate(proposals)])
