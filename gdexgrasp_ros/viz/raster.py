"""A small z-buffered software rasteriser for triangle meshes and points (orthographic, numpy).

matplotlib's 3D axes sort whole polygons by depth (painter's algorithm), which draws curled
fingers through the palm; a per-pixel depth test does not. Flat Lambert shading per face.
"""

from __future__ import annotations

import numpy as np


def look_rotation(elev_deg: float, azim_deg: float) -> np.ndarray:
    """World -> camera rotation for a camera on a sphere (elevation, azimuth), +z up on screen."""
    e, a = np.radians(elev_deg), np.radians(azim_deg)
    back = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])  # camera position direction
    up = np.array([0.0, 0.0, 1.0]) if abs(np.sin(e)) < 0.99 else np.array([-np.cos(a), -np.sin(a), 0.0])
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    return np.stack([right, true_up, back])  # rows: screen x, screen y, towards the viewer


class Canvas:
    """An RGB image with a depth buffer; draw meshes and points, then take .image."""

    def __init__(self, rotation: np.ndarray, center: np.ndarray, extent: float, size: int = 360,
                 background=(1.0, 1.0, 1.0)):  # fmt: skip
        self.R, self.center, self.size = rotation, np.asarray(center, float), size
        self.scale = (size - 1) / (2.0 * extent)
        self.image = np.ones((size, size, 3)) * np.asarray(background)
        self.depth = np.full((size, size), -np.inf)

    def project(self, pts: np.ndarray) -> np.ndarray:
        c = (pts - self.center) @ self.R.T
        px = c[:, 0] * self.scale + (self.size - 1) / 2
        py = (self.size - 1) / 2 - c[:, 1] * self.scale
        return np.stack([px, py, c[:, 2]], axis=1)

    def mesh(self, vertices: np.ndarray, faces: np.ndarray, colors, light=(0.3, 0.4, 0.85)) -> None:
        """colors: one RGB for all faces, or (F, 3)."""
        colors = np.broadcast_to(np.asarray(colors, float), (len(faces), 3))
        tri_w = vertices[faces]
        n = np.cross(tri_w[:, 1] - tri_w[:, 0], tri_w[:, 2] - tri_w[:, 0])
        n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-15
        lit = np.asarray(light, float) @ self.R  # light fixed relative to the camera
        lum = 0.3 + 0.7 * np.clip(n @ (lit / np.linalg.norm(lit)), 0, 1)
        shaded = np.clip(colors * lum[:, None], 0, 1)
        p = self.project(vertices)[faces]  # (F, 3, 3)
        for tri, col in zip(p, shaded, strict=True):
            self._triangle(tri, col)

    def points(self, pts: np.ndarray, colors, radius_px: int = 2) -> None:
        colors = np.broadcast_to(np.asarray(colors, float), (len(pts), 3))
        p = self.project(pts)
        for (x, y, z), col in zip(p, colors, strict=True):
            x0, x1 = int(max(x - radius_px, 0)), int(min(x + radius_px, self.size - 1))
            y0, y1 = int(max(y - radius_px, 0)), int(min(y + radius_px, self.size - 1))
            if x0 > x1 or y0 > y1:
                continue
            win = self.depth[y0 : y1 + 1, x0 : x1 + 1]
            mask = z + 1e-3 >= win
            win[mask] = z
            self.image[y0 : y1 + 1, x0 : x1 + 1][mask] = col

    def _triangle(self, tri: np.ndarray, color: np.ndarray) -> None:
        x0, x1 = int(max(np.floor(tri[:, 0].min()), 0)), int(min(np.ceil(tri[:, 0].max()), self.size - 1))
        y0, y1 = int(max(np.floor(tri[:, 1].min()), 0)), int(min(np.ceil(tri[:, 1].max()), self.size - 1))
        if x0 > x1 or y0 > y1:
            return
        xs, ys = np.meshgrid(np.arange(x0, x1 + 1) + 0.0, np.arange(y0, y1 + 1) + 0.0)
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = tri
        den = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
        if abs(den) < 1e-12:
            return
        w0 = ((by - cy) * (xs - cx) + (cx - bx) * (ys - cy)) / den
        w1 = ((cy - ay) * (xs - cx) + (ax - cx) * (ys - cy)) / den
        w2 = 1.0 - w0 - w1
        inside = (w0 >= -1e-6) & (w1 >= -1e-6) & (w2 >= -1e-6)
        z = w0 * az + w1 * bz + w2 * cz
        win = self.depth[y0 : y1 + 1, x0 : x1 + 1]
        draw = inside & (z > win)
        win[draw] = z[draw]
        self.image[y0 : y1 + 1, x0 : x1 + 1][draw] = color
