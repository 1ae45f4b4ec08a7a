"""What one depth camera says about the space around the surface it saw.

A camera view is one-sided: the space between the sensor and each seen point is free, the space
behind it is unknown. For thickness (part localization) and for fingers (stage 3) the unknown
back matters: a kettle's body seen from one side is a 2 cm strip to anything that only reads the
points, and nothing stops a finger from passing through where the back would be.

ViewVolume renders the seen points into a depth image from the sensor and assumes, per pixel,
that the object extends behind its front surface by a thickness prior: the depth a round
cross-section would have there, 2 sqrt(d (2R - d)), with d the pixel's distance to the
silhouette's edge and R the radius of the largest disc inside the silhouette that covers the
pixel (a cylinder's width behind its axis, zero at its rim). Edges include depth
discontinuities, so a handle seen in front of a body is a thin thing of its own, not the
body's front. Everything outside the silhouette, and in front of the surface, is free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .normals import tangent_basis

# A jump in front depth between neighbouring pixels larger than this (plus a few pixels' slope)
# separates two surfaces: an occlusion boundary, which the thickness prior treats as an edge.
DEPTH_JUMP_M = 0.015
PIXEL_SPACINGS = 1.5  # pixel size in point spacings: a sparse cloud still fills most pixels
MAX_PIXELS = 512  # per image side
SUPPORT_MARGIN_M = 0.01  # seen points this close above the lowest one rest on the support


@dataclass
class ViewVolume:
    """The object's estimated extent behind one camera view (a perspective depth image)."""

    sensor: np.ndarray  # (3,) sensor position, in the cloud's frame
    axes: np.ndarray  # (3, 3) rows: image u, image v, optical axis (towards the object)
    pixel: float  # pixel size in tangent-plane units (metres at unit depth)
    lo: np.ndarray  # (2,) tangent coordinates of pixel (0, 0)'s corner
    front: np.ndarray  # (H, W) depth along the optical axis of the seen surface; inf off the silhouette
    behind: np.ndarray  # (H, W) metres the object is assumed to extend behind its front surface

    @classmethod
    def from_points(cls, points: np.ndarray, sensor, spacing: float, up=None) -> ViewVolume:
        """points: the seen surface (N, 3); sensor: where the camera was, same frame; spacing:
        the typical distance between neighbouring points (metres); up: the support's up axis
        when the object stands on one (its lowest points rest there)."""
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 3 or len(pts) == 0 or not np.isfinite(pts).all():
            raise ValueError(f"a view volume needs (N, 3) finite points, got shape {pts.shape}")
        sensor = np.asarray(sensor, dtype=np.float64).reshape(3)
        if not np.isfinite(sensor).all():
            raise ValueError(f"the sensor position must be finite, got {sensor}")
        if not (np.isfinite(spacing) and spacing > 0):
            raise ValueError(f"the point spacing must be a positive length in metres, got {spacing}")
        if up is not None:
            up = np.asarray(up, dtype=np.float64).reshape(3)
            if not (np.isfinite(up).all() and np.linalg.norm(up) > 1e-9):
                raise ValueError(f"the up axis must be a finite non-zero vector, got {up}")
            up = up / np.linalg.norm(up)
        axis = pts.mean(0) - sensor
        distance = float(np.linalg.norm(axis))
        if not np.isfinite(distance) or distance < 1e-6:
            raise ValueError("the sensor must lie away from the points it saw")
        optical = axis / distance
        axes = np.stack([*(b[0] for b in tangent_basis(optical[None])), optical])  # image u, v, optical
        uv, z = _project(pts, sensor, axes)
        if np.any(z <= 0):
            raise ValueError("some points lie behind the sensor: wrong sensor position or frame")
        lo, hi = uv.min(0), uv.max(0)
        pixel = max(PIXEL_SPACINGS * spacing / distance, float((hi - lo).max()) / MAX_PIXELS)
        lo = lo - 2 * pixel
        shape = tuple(int(v) for v in np.ceil((hi - lo) / pixel).astype(int) + 3)
        front = _front_depth(uv, z, lo, pixel, shape)
        support = None
        if up is not None:
            support = _below_support_contact(front, pts, sensor, axes, lo, pixel, up)
        behind = _thickness_prior(front, pixel * distance, support)
        if up is not None:
            behind = behind * _slant(front.shape, axes, lo, pixel, up)
        return cls(sensor, axes, pixel, lo, front, behind)

    def _lookup(self, queries: np.ndarray):
        uv, z = _project(np.asarray(queries, dtype=np.float64), self.sensor, self.axes)
        ij = np.floor((uv - self.lo) / self.pixel).astype(np.int64)
        shape = np.array(self.front.shape)
        valid = (z > 0) & np.all((ij >= 0) & (ij < shape), axis=1)
        ij = np.where(valid[:, None], ij, 0)
        front = np.where(valid, self.front[ij[:, 0], ij[:, 1]], np.inf)
        behind = np.where(valid, self.behind[ij[:, 0], ij[:, 1]], 0.0)
        return z, front, behind

    def back_points(self) -> np.ndarray:
        """(M, 3) the assumed back surface: per silhouette pixel, its centre's ray at the front
        depth plus the extent behind (bounds the assumed object)."""
        on = np.isfinite(self.front)
        rays = _pixel_rays(self.front.shape, self.axes, self.lo, self.pixel)[on]
        return self.sensor + (self.front[on] + self.behind[on])[:, None] * rays

    def surface_at(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(front, behind) at each query's pixel: the seen surface's depth along the optical axis
        (inf off the silhouette) and the extent assumed behind it (metres)."""
        _, front, behind = self._lookup(queries)
        return front, behind

    def depth_inside(self, queries: np.ndarray) -> np.ndarray:
        """(M,) how deep each query lies in the assumed object (metres, the nearer of its front
        surface and its assumed back along the ray); <= 0 outside it (in front, beyond the back,
        or off the silhouette)."""
        z, front, behind = self._lookup(queries)
        with np.errstate(invalid="ignore"):
            depth = np.minimum(z - front, front + behind - z)
        return np.where(np.isfinite(depth), depth, -np.inf)

    def inside(self, queries: np.ndarray) -> np.ndarray:
        return self.depth_inside(queries) > 0


def _project(points: np.ndarray, sensor: np.ndarray, axes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    local = (points - sensor) @ axes.T
    z = local[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = local[:, :2] / z[:, None]
    return uv, z


def _front_depth(uv: np.ndarray, z: np.ndarray, lo: np.ndarray, pixel: float, shape: tuple) -> np.ndarray:
    """Nearest depth per pixel; pixels a sparse cloud left empty inside the silhouette take their
    nearest filled neighbour's depth (a closing decides which are inside)."""
    ij = np.floor((uv - lo) / pixel).astype(np.int64)
    front = np.full(shape, np.inf)
    np.minimum.at(front, (ij[:, 0], ij[:, 1]), z)
    seen = np.isfinite(front)
    silhouette = ndimage.binary_closing(seen, structure=np.ones((3, 3)), iterations=1) | seen
    _, (ii, jj) = ndimage.distance_transform_edt(~seen, return_indices=True)
    filled = front[ii, jj]
    return np.where(silhouette, filled, np.inf)


def _pixel_rays(shape: tuple, axes: np.ndarray, lo: np.ndarray, pixel: float) -> np.ndarray:
    """(H, W, 3) the ray through each pixel's centre, scaled to unit depth along the optical axis."""
    ij = np.indices(shape).reshape(2, -1).T
    uv = lo + (ij + 0.5) * pixel
    return (uv[:, :1] * axes[0] + uv[:, 1:] * axes[1] + axes[2]).reshape(*shape, 3)


def _slant(shape: tuple, axes: np.ndarray, lo: np.ndarray, pixel: float, up: np.ndarray) -> np.ndarray:
    """Per pixel, how much longer a ray's path through an upright body is than the body is wide:
    1 / cos of the ray's angle to the support (capped at 2, 60 degrees). A camera looking down
    at 45 degrees crosses a mug's body along 1.4 of its diameter."""
    rays = _pixel_rays(shape, axes, lo, pixel)
    rays = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    return 1.0 / np.maximum(np.sqrt(np.maximum(1.0 - (rays @ up) ** 2, 0.0)), 0.5)


def _below_support_contact(front, points, sensor, axes, lo, pixel, up, margin: float = SUPPORT_MARGIN_M) -> np.ndarray:
    """(H, W) off-silhouette pixels below where the object meets its support in the image.

    The silhouette's lower edge there is where the object stands on the table, not a rim it
    curves away behind: the object goes on behind it (a mug's base), so that edge is no edge
    for the thickness prior. Those pixels are swept from the contact downwards in the image."""
    on = np.isfinite(front)
    lowest = float((points @ up).min())
    rays = _pixel_rays(front.shape, axes, lo, pixel).reshape(-1, 3)
    height = ((sensor + np.where(on.reshape(-1), front.reshape(-1), 0.0)[:, None] * rays) @ up).reshape(front.shape)
    contact = on & (height <= lowest + margin)
    down = -np.array([up @ axes[0], up @ axes[1]])
    if np.linalg.norm(down) < 1e-6:  # looking straight down: the base is hidden under the object
        return np.zeros_like(on)
    down /= np.linalg.norm(down)
    swept = contact.copy()
    h, w = contact.shape
    for step in range(1, max(h, w)):
        di, dj = (int(v) for v in np.round(down * step))
        if abs(di) >= h or abs(dj) >= w:
            break
        swept[max(0, di) : h + min(0, di), max(0, dj) : w + min(0, dj)] |= \
            contact[max(0, -di) : h - max(0, di), max(0, -dj) : w - max(0, dj)]  # fmt: skip
    return swept & ~on


def _thickness_prior(front: np.ndarray, pixel_m: float, support: np.ndarray | None = None) -> np.ndarray:
    """Per pixel, the depth a round cross-section would have behind the front surface (metres);
    support: off-silhouette pixels that are no edge (below the object's support contact)."""
    on = np.isfinite(front)
    # Occlusion boundaries: a neighbour much nearer or farther is another surface.
    edge = np.zeros_like(on)
    jump = DEPTH_JUMP_M + 3.0 * pixel_m
    for axis in (0, 1):
        a = np.diff(np.where(on, front, np.nan), axis=axis)
        cut = ~(np.abs(a) <= jump)  # NaN (an edge of the silhouette) counts as a cut
        lead = [slice(None)] * 2
        lead[axis] = slice(0, -1)
        trail = [slice(None)] * 2
        trail[axis] = slice(1, None)
        edge[tuple(lead)] |= cut & on[tuple(lead)]
        edge[tuple(trail)] |= cut & on[tuple(trail)]
    if support is not None:  # the support's pixels are part of the object for what follows
        edge &= ~ndimage.binary_dilation(support, structure=np.ones((3, 3)))
        on_ext = on | support
    else:
        on_ext = on
    interior = on_ext & ~edge
    # d: distance to the nearest edge or miss, half a pixel counted for the edge pixel itself.
    d = (ndimage.distance_transform_edt(interior) + 0.5) * pixel_m * on_ext
    # R: radius of the largest inscribed disc covering the pixel (opening by discs of each radius).
    radius = np.where(on, 0.5 * pixel_m, 0.0)
    for r_px in range(1, int(d.max() / pixel_m) + 1):
        centres = d >= r_px * pixel_m
        if not centres.any():
            break
        covered = ndimage.distance_transform_edt(~centres) <= r_px
        radius = np.where(covered & on, np.maximum(radius, r_px * pixel_m), radius)
    d = np.where(on, d, 0.0)
    d = np.minimum(d, radius)
    return np.where(on, 2.0 * np.sqrt(np.maximum(d * (2.0 * radius - d), 0.0)), 0.0)
