"""Offline rendering of hands: three z-buffered views per PNG (no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..viz.raster import Canvas, look_rotation  # noqa: E402

SKIN = (0.93, 0.76, 0.65)
# (title, elevation, azimuth) in the wrist frame: +x fingers, +y thumb side, +z back of the hand.
VIEWS = (("back of the hand (+z)", 89.9, -90.0), ("thumb side (+y)", 0.0, 90.0), ("palm, three-quarter", -40.0, -60.0))


def render_views(meshes, title: str, path: str, points=(), views=VIEWS, size: int = 360) -> None:
    """meshes: [(vertices, faces, rgb)], points: [(pts, rgb)]; writes a PNG with one panel per view."""
    allv = np.concatenate([m[0] for m in meshes] + [p[0] for p in points])
    center = (allv.min(0) + allv.max(0)) / 2
    extent = 0.55 * (allv.max(0) - allv.min(0)).max()
    fig, axes = plt.subplots(1, len(views), figsize=(4.2 * len(views), 4.4))
    for ax, (name, elev, azim) in zip(np.atleast_1d(axes), views, strict=True):
        canvas = Canvas(look_rotation(elev, azim), center, extent, size)
        for v, f, rgb in meshes:
            canvas.mesh(v, f, rgb)
        for pts, rgb in points:
            canvas.points(pts, rgb)
        ax.imshow(canvas.image)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_hand_views(vertices: np.ndarray, faces: np.ndarray, title: str, path: str,
                      keypoints: np.ndarray | None = None) -> None:  # fmt: skip
    pts = [(keypoints, (0.1, 0.3, 0.9))] if keypoints is not None else []
    render_views([(vertices, faces, SKIN)], title, path, pts)
