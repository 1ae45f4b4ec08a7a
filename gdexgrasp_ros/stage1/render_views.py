"""Rendered views of an object for image-based stage-1 backends: RGB, depth, and which point each pixel shows.

Built on the shared z-buffer rasteriser (viz/raster.py, orthographic). The open-vocabulary
part detector draws boxes on the RGB image and takes the points under them through
`point_index`; a chat backend sends the RGB image (`RenderedView.png()`) to a language model.

Objects with a mesh are drawn as shaded triangles; bare clouds as shaded splats. The camera
looks at the object's bounding-box centre from (elevation, azimuth) degrees with +z up on
screen. Depth is metres from the image plane, which sits `extent` in front of the centre.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..objects.part_object import PartObject
from ..viz.colors import part_colors
from ..viz.raster import Canvas, look_rotation

# Views around an object standing on a table: four sides from slightly above, and from high up.
DEFAULT_VIEWPOINTS = ((25.0, -60.0), (25.0, 30.0), (25.0, 120.0), (25.0, 210.0), (65.0, -60.0))
SURFACE_COLOR = (0.78, 0.74, 0.68)  # a neutral matte material, so colour says nothing about parts


@dataclass
class RenderedView:
    """One rendered image of an object and its pixel <-> point correspondence."""

    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) metres from the image plane, NaN where nothing is drawn
    point_index: np.ndarray  # (H, W) int64: the object point seen at the pixel, -1 for background
    visible: np.ndarray  # (N,) bool: the point is seen (not hidden behind the surface) in this view
    rotation: np.ndarray  # (3, 3) world -> camera (rows: screen x, screen y, towards the viewer)
    center: np.ndarray  # (3,) the point the camera looks at
    scale: float  # pixels per metre
    extent: float  # half the image width in metres (the image plane is this far in front of center)
    elevation: float
    azimuth: float

    @property
    def size(self) -> int:
        return self.rgb.shape[0]

    def pixel_to_world(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(M, 3) world points of pixels (row, col) on the drawn surface (NaN for background)."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        half = (self.size - 1) / 2
        toward = self.extent - self.depth[rows, cols]
        cam = np.stack([(cols - half) / self.scale, (half - rows) / self.scale, toward], axis=1)
        return cam @ self.rotation + self.center

    def points_in_box(self, box) -> np.ndarray:
        """Indices of the object points seen inside a pixel box (x0, y0, x1, y1), sorted."""
        x0, y0, x1, y1 = (float(v) for v in box)
        c0, c1 = max(int(np.floor(min(x0, x1))), 0), min(int(np.ceil(max(x0, x1))), self.size - 1)
        r0, r1 = max(int(np.floor(min(y0, y1))), 0), min(int(np.ceil(max(y0, y1))), self.size - 1)
        if c0 > c1 or r0 > r1:
            return np.zeros(0, dtype=np.int64)
        ids = self.point_index[r0 : r1 + 1, c0 : c1 + 1].ravel()
        return np.unique(ids[ids >= 0])

    def png(self) -> bytes:
        """The RGB image as PNG bytes (for a chat model)."""
        import matplotlib.image

        buf = io.BytesIO()
        matplotlib.image.imsave(buf, self.rgb, format="png")
        return buf.getvalue()


def _frame(obj: PartObject, margin: float) -> tuple[np.ndarray, float]:
    pts = obj.points if obj.mesh is None else np.concatenate([obj.points, obj.mesh.vertices])
    lo, hi = pts.min(0), pts.max(0)
    center = (lo + hi) / 2
    return center, max(float(np.linalg.norm(hi - lo)) / 2 * margin, 1e-6)


def _draw(canvas: Canvas, obj: PartObject, colors, splat_px: int) -> None:
    if obj.mesh is not None and len(obj.mesh.faces):
        canvas.mesh(obj.mesh.vertices, obj.mesh.faces, SURFACE_COLOR if colors is None else colors)
        return
    base = np.broadcast_to(np.asarray(SURFACE_COLOR if colors is None else colors, float), (len(obj), 3))
    if obj.normals is not None:
        light = np.array([0.3, 0.4, 0.85]) @ canvas.R
        lum = 0.3 + 0.7 * np.clip(np.abs(obj.normals @ (light / np.linalg.norm(light))), 0, 1)
        base = np.clip(base * lum[:, None], 0, 1)
    canvas.points(obj.points, base, splat_px)


def _visible_points(canvas: Canvas, points: np.ndarray, tolerance: float) -> np.ndarray:
    """Which points lie on the drawn front surface."""
    proj = canvas.project(points)
    cols = np.clip(np.round(proj[:, 0]).astype(np.int64), 0, canvas.size - 1)
    rows = np.clip(np.round(proj[:, 1]).astype(np.int64), 0, canvas.size - 1)
    inside = (proj[:, 0] >= -0.5) & (proj[:, 0] <= canvas.size - 0.5) & (proj[:, 1] >= -0.5) & (
        proj[:, 1] <= canvas.size - 0.5)  # fmt: skip
    # A point is hidden when the surface drawn at its pixel is nearer the viewer; look at the
    # nearest drawn depth in a small window so points on silhouettes are not lost.
    front = ndimage.maximum_filter(canvas.depth, size=3, mode="constant", cval=-np.inf)
    return inside & (proj[:, 2] >= front[rows, cols] - tolerance)


def _pixel_points(canvas: Canvas, points: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """(H, W) index of the visible point nearest each drawn pixel (in 3D), -1 on background."""
    index = np.full((canvas.size, canvas.size), -1, dtype=np.int64)
    drawn = np.isfinite(canvas.depth)
    if not seen.any() or not drawn.any():
        return index
    rows, cols = np.nonzero(drawn)
    half = (canvas.size - 1) / 2
    cam = np.stack([(cols - half) / canvas.scale, (half - rows) / canvas.scale, canvas.depth[rows, cols]], axis=1)
    world = cam @ canvas.R + canvas.center
    ids = np.flatnonzero(seen)
    _, nearest = cKDTree(points[ids]).query(world)
    index[rows, cols] = ids[nearest]
    return index


def render_view(obj: PartObject, elevation: float = 25.0, azimuth: float = -60.0, size: int = 320,
                colors=None, margin: float = 1.05) -> RenderedView:  # fmt: skip
    """Render one view. colors: None (neutral material), one RGB, per-face RGB for a mesh or per-point
    RGB for a cloud, or "parts" to colour by part label (for figures)."""
    if len(obj) == 0:
        raise ValueError("cannot render an object without points")
    if isinstance(colors, str):
        if colors != "parts":
            raise ValueError(f"colors must be None, an RGB array or 'parts', got {colors!r}")
        colors = part_colors(obj.mesh.face_parts if obj.mesh is not None else obj.part_ids)
    rotation = look_rotation(elevation, azimuth)
    center, extent = _frame(obj, margin)
    canvas = Canvas(rotation, center, extent, size=size)
    spacing = _spacing(obj.points)
    _draw(canvas, obj, colors, max(1, int(round(0.6 * spacing * canvas.scale))))
    seen = _visible_points(canvas, obj.points, tolerance=max(1.5 * spacing, 0.01 * extent))
    index = _pixel_points(canvas, obj.points, seen)
    depth = np.where(np.isfinite(canvas.depth), extent - canvas.depth, np.nan)
    rgb = (np.clip(canvas.image, 0, 1) * 255).round().astype(np.uint8)
    return RenderedView(rgb, depth, index, seen, rotation, center, float(canvas.scale), extent,
                        float(elevation), float(azimuth))  # fmt: skip


def render_views(obj: PartObject, viewpoints=DEFAULT_VIEWPOINTS, size: int = 320, colors=None) -> list[RenderedView]:
    """Render the object from each (elevation, azimuth) in degrees."""
    return [render_view(obj, float(e), float(a), size, colors) for e, a in viewpoints]


def _spacing(points: np.ndarray) -> float:
    if len(points) < 2:
        return 0.0
    dist, _ = cKDTree(points).query(points, 2)
    return float(np.median(dist[:, 1]))
