"""`gdexgrasp-objects gallery -o gallery.png`: every procedural category, coloured by part."""

from __future__ import annotations

import argparse
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ..viz.colors import part_color, part_colors  # noqa: E402
from ..viz.raster import Canvas, look_rotation  # noqa: E402
from .procedural import ALL_CATEGORIES, UNSEEN_CATEGORIES, generate_mesh  # noqa: E402


def render_gallery(path: str, seed: int = 0, size: int = 260, categories: list[str] | None = None) -> None:
    cats = list(categories or ALL_CATEGORIES)
    cols = min(5, len(cats))
    rows = int(np.ceil(len(cats) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.5 * rows), squeeze=False)
    for ax, cat in zip(axes.ravel(), tqdm(cats, desc="gallery"), strict=False):
        mesh, names = generate_mesh(cat, seed)
        v = mesh.vertices
        center = (v.min(0) + v.max(0)) / 2
        extent = 0.6 * (v.max(0) - v.min(0)).max()
        canvas = Canvas(look_rotation(25, -60), center, extent, size)
        canvas.mesh(v, mesh.faces, part_colors(mesh.face_parts))
        ax.imshow(canvas.image)
        size_cm = (v.max(0) - v.min(0)).max() * 100
        split = " (unseen)" if cat in UNSEEN_CATEGORIES else ""
        ax.set_title(f"{cat}{split}\n{size_cm:.0f} cm", fontsize=9)
        ax.legend(handles=[Patch(color=part_color(i), label=n) for i, n in enumerate(names)], fontsize=6,
                  loc="lower left", frameon=False)  # fmt: skip
        ax.axis("off")
    for ax in axes.ravel()[len(cats) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gdexgrasp-objects", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("gallery", help="render every procedural category coloured by part")
    g.add_argument("-o", "--output", required=True)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--categories", default="", help="comma-separated categories (default: all)")
    args = parser.parse_args(argv)
    cats = [c.strip() for c in args.categories.split(",") if c.strip()] or None
    unknown = [c for c in cats or [] if c not in ALL_CATEGORIES]
    if unknown:
        parser.error(f"unknown categories {unknown}; known: {sorted(ALL_CATEGORIES)}")
    render_gallery(args.output, args.seed, categories=cats)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
