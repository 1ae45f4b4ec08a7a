"""What the geometric localizer knows about an unlabelled object: frame, normals, solid, thickness.

Everything is computed once per object (ShapeAnalysis) and shared by proposal generation and
segment naming. Lengths stay in metres (a handle is graspable because it is 1-4 cm thick, not
because it is 10 % of the object); positions are also given relative to the object's extent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...geometry.rotations import up_frame
from ...geometry.visibility import ViewVolume
from ...objects.part_object import PartObject
from .cloud import estimate_normals, point_spacing, propagate_signs
from .solid import SolidConfig, VoxelSolid


@dataclass
class ShapeConfig:
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)  # the object's up axis (z: standing on a table)
    # Where the sensor was (cloud frame) when the cloud is one camera view; None for a whole object.
    viewpoint: tuple[float, float, float] | None = None
    # With a viewpoint: take the camera's thickness prior behind the seen surface as solid
    # (geometry.visibility), so a body seen from one side is as thick as it is wide.
    assume_back: bool = True
    # Opening radii as fractions of the largest inscribed ball: thin parts appear at every scale
    # from about their own radius up.
    scale_fractions: tuple[float, ...] = (0.15, 0.25, 0.35, 0.5, 0.65, 0.8)
    min_scale_voxels: float = 1.5  # radii finer than this are below what the voxels resolve
    # A point is "thin" at radius rho when the opening misses it by more than this: convex edges
    # are missed by up to (sqrt(2) - 1) rho, the voxels add about one.
    gap_fraction: float = 0.45
    gap_voxels: float = 1.0
    link_spacings: float = 2.2  # points closer than this many spacings are connected
    normal_knn: int = 16
    solid: SolidConfig = field(default_factory=SolidConfig)


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).reshape(3)
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n == 0:
        raise ValueError(f"the up axis must be a non-zero vector, got {v}")
    return v / n


class ShapeAnalysis:
    """Per-object geometry: oriented normals, the voxel solid, per-point thickness and thinness."""

    def __init__(self, obj: PartObject, config: ShapeConfig | None = None):
        self.config = config or ShapeConfig()
        self.points = np.asarray(obj.points, dtype=np.float64)
        if len(self.points) < 16:
            raise ValueError(f"geometric localization needs at least 16 points, got {len(self.points)}")
        self.n = len(self.points)
        self.up = _unit(self.config.up)
        frame = up_frame(self.up)
        self.e1, self.e2 = frame[:, 0], frame[:, 1]
        self.spacing = point_spacing(self.points)
        self.link_radius = self.config.link_spacings * self.spacing
        view, volume = None, None
        if self.config.viewpoint is not None:
            view = np.asarray(self.config.viewpoint) - self.points.mean(0)
            if self.config.assume_back:
                try:
                    volume = ViewVolume.from_points(self.points, self.config.viewpoint, self.spacing, self.up)
                except ValueError:  # a sensor among or behind the points: assume nothing behind them
                    volume = None
        floor = (self.up, float((self.points @ self.up).min()))
        self.solid = VoxelSolid(self.points, self.spacing, self.config.solid, view, volume, floor)
        self.normals = self._outward_normals(obj.normals)
        self.height = self.points @ self.up
        self.z_min, self.z_max = float(self.height.min()), float(self.height.max())
        self.extent = float(np.linalg.norm(self.points.max(0) - self.points.min(0)))
        self.scales = self._scales()
        self.gaps = np.stack([self.solid.opening_gap(self.points, r) for r in self.scales]) if len(self.scales) else \
            np.zeros((0, self.n))  # fmt: skip
        self.thin = self.gaps > (self.config.gap_fraction * self.scales[:, None] + self.config.gap_voxels *
                                 self.solid.voxel)  # fmt: skip
        self.thickness = self._thickness()
        self.thin_tangent = self._tangent_thin()
        self.half_thickness = self._half_thickness()

    def _outward_normals(self, given: np.ndarray | None) -> np.ndarray:
        """Given normals are trusted; otherwise estimated and turned outwards using the solid."""
        if given is not None and len(given) == self.n and np.all(np.isfinite(given)):
            return np.asarray(given, dtype=np.float64)
        normals = estimate_normals(self.points, self.config.normal_knn)
        normals, decided = self.solid.orient_normals(self.points, normals)
        return propagate_signs(self.points, normals, decided)

    def _scales(self) -> np.ndarray:
        depth = self.solid.max_depth
        floor = self.config.min_scale_voxels * self.solid.voxel
        radii = sorted({round(f * depth, 9) for f in self.config.scale_fractions if f * depth >= floor})
        return np.asarray(radii, dtype=np.float64)

    def _thickness(self) -> np.ndarray:
        """Per point, the largest opening radius that still covers it (0 when none does): the
        radius of the thickest ball-swept part the point lies on (metres)."""
        thick = np.zeros(self.n)
        for radius, thin in zip(self.scales, self.thin, strict=True):
            thick[~thin] = radius
        return thick

    def _tangent_thin(self) -> np.ndarray:
        """(S, N) bool: the ball of each radius touching the surface at the point (centred
        radius * normal inside) does not fit in the solid, and the point is off the opening."""
        out = np.zeros((len(self.scales), self.n), dtype=bool)
        for k, radius in enumerate(self.scales):
            depth = self.solid.lookup(self.solid.depth, self.points - radius * self.normals)
            # Near a convex edge of something thick the tangent ball sticks out too, but a ball
            # a little deeper fits: such points are within ~0.2 radius of the opening.
            out[k] = (depth < radius - self.solid.voxel) & (self.gaps[k] > 0.2 * radius + self.solid.voxel)
        return out

    def _half_thickness(self, steps: int = 32) -> np.ndarray:
        """Per point, the largest inscribed-ball radius met walking inwards along the normal
        until leaving the solid (the radius of the handle, plate or body the point lies on)."""
        voxel = self.solid.voxel
        t = np.linspace(0.0, 2.0 * self.solid.max_depth + 2 * voxel, steps)
        probes = self.points[None] - t[:, None, None] * self.normals[None]
        depth = self.solid.lookup(self.solid.depth, probes.reshape(-1, 3)).reshape(steps, self.n)
        left = np.cumsum((depth == 0) & (t[:, None] > 2.5 * voxel), axis=0) > 0
        return np.max(np.where(left, 0.0, depth), axis=0)

    # -- coordinates ---------------------------------------------------------------------------
    def relative_height(self, points: np.ndarray | None = None) -> np.ndarray:
        h = self.height if points is None else np.asarray(points) @ self.up
        return (h - self.z_min) / max(self.z_max - self.z_min, 1e-12)

    def horizontal(self, points: np.ndarray) -> np.ndarray:
        """(M, 2) coordinates in the plane perpendicular to up."""
        return np.stack([points @ self.e1, points @ self.e2], axis=1)
