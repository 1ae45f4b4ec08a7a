"""The solid an object's surface points enclose, on a voxel grid, and its thickness at every scale.

Surface samples are sparse (2048 points over a whole object), so the solid is not found by a
flood fill, which one gap between samples would let leak. Instead the sampled surface is
thickened into a shell, and a voxel is inside when the shell blocks most of the 26 grid
directions from it: a gap between samples lets a few rays through, never most. Open
containers (a bucket) count as filled, which is what their parts look like to a hand.

Thickness is measured by morphological opening: the part of the solid covered by balls of
radius rho that fit inside it. A surface point that no such ball comes near lies on something
thinner than 2 rho (a handle, a trigger, a rim) at that scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ...geometry.visibility import ViewVolume

# The 26 grid directions (all offsets in {-1, 0, 1}^3 but zero).
DIRECTIONS = tuple(d for d in np.ndindex(3, 3, 3) if d != (1, 1, 1))
DIRECTIONS = tuple(tuple(int(c) - 1 for c in d) for d in DIRECTIONS)


@dataclass
class SolidConfig:
    voxel_fraction: float = 0.5  # voxel edge as a fraction of the point spacing
    # The sampled surface is thickened by this many voxels before the inside test; it must close
    # the largest gaps between random samples (about 1.25 spacings) and is eroded again after.
    shell_voxels: float = 2.5
    # A voxel is inside when at least this fraction of the 26 directions hits the shell: the hole
    # of a mug handle is blocked in ~8 (the handle's plane), a bucket's cavity in ~17.
    blocked_fraction: float = 0.6
    max_voxels: int = 3_000_000  # coarser voxels beyond this (a stray far point must not explode memory)
    pad_voxels: int = 4


def _shift_or(grid: np.ndarray, direction: tuple[int, int, int], step: int) -> np.ndarray:
    """out[v] = grid[v] | grid[v + step * direction] (outside the grid counts as empty)."""
    out = grid.copy()
    dst, src = [], []
    for axis, d in enumerate(direction):
        n, s = grid.shape[axis], d * step
        if s >= 0:
            dst.append(slice(0, max(n - s, 0)))
            src.append(slice(s, n))
        else:
            dst.append(slice(-s, n))
            src.append(slice(0, max(n + s, 0)))
    out[tuple(dst)] |= grid[tuple(src)]
    return out


def blocked_directions(shell: np.ndarray, directions=DIRECTIONS) -> np.ndarray:
    """Per voxel, how many of the grid directions hit the shell (the voxel itself included).

    A ray's "any shell ahead" is an OR over its whole length, built by doubling: after the
    step-k pass each voxel holds the OR over the next 2k voxels.
    """
    count = np.zeros(shell.shape, dtype=np.int16)
    length = max(shell.shape)
    for direction in directions:
        ahead, step = shell, 1
        while step < length:
            ahead = _shift_or(ahead, direction, step)
            step *= 2
        count += ahead
    return count


def _facing(view_direction) -> tuple:
    """The grid directions that can hit a one-sided surface from behind: all of them for a whole
    object, those not pointing away from the sensor for a single view."""
    if view_direction is None:
        return DIRECTIONS
    v = np.asarray(view_direction, dtype=np.float64).reshape(3)
    v = v / max(np.linalg.norm(v), 1e-12)
    return tuple(d for d in DIRECTIONS if np.dot(d, v) / np.linalg.norm(d) > -0.3)


class VoxelSolid:
    """The solid enclosed by surface points: occupancy, distance to the outside, lookups."""

    def __init__(self, points: np.ndarray, spacing: float, config: SolidConfig | None = None,
                 view_direction: np.ndarray | None = None, view_volume: ViewVolume | None = None,
                 floor: tuple[np.ndarray, float] | None = None):  # fmt: skip
        """view_direction: for a cloud seen from one side (a depth camera), the unit direction from
        the object towards the sensor; the unseen back is then taken to be closed wherever the
        seen surface and its sides enclose it (rays leaving away from the sensor are ignored).
        view_volume: the camera's thickness prior (geometry.visibility): what it assumes behind
        the seen surface is solid too, above floor = (up, lowest height) when given."""
        self.config = config or SolidConfig()
        pts = np.asarray(points, dtype=np.float64)
        # The grid spans what the camera's prior assumes behind the seen surface too.
        bounds = pts if view_volume is None else np.concatenate([pts, view_volume.back_points()])
        if floor is not None and view_volume is not None:
            up, lowest = floor
            up = np.asarray(up, dtype=np.float64)
            bounds = bounds[bounds @ up >= lowest - spacing]
        lo_b, hi_b = bounds.min(0), bounds.max(0)
        extent = hi_b - lo_b
        voxel = spacing * self.config.voxel_fraction
        span = extent + 2 * (self.config.pad_voxels + 1) * voxel
        if np.prod(span / voxel) > self.config.max_voxels:
            voxel = float((np.prod(span) / self.config.max_voxels) ** (1 / 3)) * 1.01
        self.voxel = float(voxel)
        pad = self.config.pad_voxels
        self.origin = lo_b - pad * self.voxel
        self.shape = tuple(int(v) for v in np.ceil((hi_b - self.origin) / self.voxel).astype(int) + pad + 1)
        occupied = np.zeros(self.shape, dtype=bool)
        occupied[tuple(self.index(pts).T)] = True
        shell = ndimage.distance_transform_edt(~occupied) <= self.config.shell_voxels
        directions = _facing(view_direction)
        inside = blocked_directions(shell, directions) >= self.config.blocked_fraction * len(directions)
        if view_volume is not None:
            inside |= self._assumed_behind(view_volume, floor)
        thick = inside | shell
        # Undo the thickening: erode by the shell radius, keeping the sampled voxels themselves.
        self.solid = (ndimage.distance_transform_edt(thick) > self.config.shell_voxels) | occupied
        self.depth = ndimage.distance_transform_edt(self.solid) * self.voxel  # metres to the outside

    def centres(self) -> np.ndarray:
        """(X*Y*Z, 3) centre of every voxel, in grid order."""
        idx = np.indices(self.shape).reshape(3, -1).T
        return self.origin + (idx + 0.5) * self.voxel

    def _assumed_behind(self, view_volume: ViewVolume, floor) -> np.ndarray:
        centres = self.centres()
        inside = view_volume.inside(centres)
        if floor is not None:
            up, lowest = floor
            inside &= centres @ np.asarray(up, dtype=np.float64) >= lowest
        return inside.reshape(self.shape)

    def index(self, points: np.ndarray) -> np.ndarray:
        idx = np.floor((np.asarray(points) - self.origin) / self.voxel).astype(np.int64)
        return np.clip(idx, 0, np.array(self.shape) - 1)

    def lookup(self, grid: np.ndarray, points: np.ndarray) -> np.ndarray:
        return grid[tuple(self.index(points).T)]

    def inside(self, points: np.ndarray) -> np.ndarray:
        return self.lookup(self.solid, points)

    @property
    def max_depth(self) -> float:
        """Radius of the largest ball inside the solid (metres)."""
        return float(self.depth.max())

    def opening_gap(self, points: np.ndarray, radius: float) -> np.ndarray:
        """Distance (metres) from each point to the opening of the solid by a ball of `radius`:
        the union of all such balls inside the solid. 0 on the opening."""
        centres = self.depth >= radius
        if not centres.any():
            return np.full(len(points), np.inf)
        opened = ndimage.distance_transform_edt(~centres) * self.voxel <= radius
        gap = ndimage.distance_transform_edt(~opened) * self.voxel
        return self.lookup(gap, points)

    def orient_normals(self, points: np.ndarray, normals: np.ndarray, step: float | None = None):
        """Normals flipped to point out of the solid where the solid says which way is out.

        Returns (normals, decided): decided marks points where exactly one side was inside.
        """
        step = 1.5 * self.voxel if step is None else step
        ahead = self.inside(points + step * normals)
        behind = self.inside(points - step * normals)
        out = normals.copy()
        out[ahead & ~behind] *= -1
        return out, ahead != behind
