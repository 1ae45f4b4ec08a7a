"""The benchmark's PNGs: a grid of best grasps (rows = preset / mode, columns = category) and
quality against optimizer iterations. Offline and ROS-free: the rasteriser of viz/raster.py draws
each cell, PIL lays the grid out and writes the text, matplotlib (Agg) draws the curves.

Grid cell layout (size = the main view's side in pixels):

    +-------------------+---------+
    |                   |  back   |   main: from the hand's side (object centroid -> hand centroid,
    |   main view       | (size/2)|   raised 25 deg, turned 40 deg so the hand leaves its contact
    |   (size x size)   +---------+   visible); back: the opposite side; top: from above, the hand
    |                   |  top    |   towards the bottom edge. No hand: a fixed oblique view.
    |                   | (size/2)|   An object over 2.5 hand lengths (a broom): the main view
    +-------------------+---------+   frames the hand's surroundings, back and top the whole.
    | caption (2 lines at most)   |
    +-----------------------------+

Colours: the target part orange, the rest light grey (viz.scene_render.object_point_colors, as in
the demo's scene render), the hand shaded in the best-grasp green of the RViz markers. A caption in
red marks a cell without a hand (the goal failed; the caption is then the error code).
"""

from __future__ import annotations

import math
import pathlib
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..viz.markers import RANK_COLORS
from ..viz.raster import Canvas, look_rotation
from ..viz.scene_render import front_faces, object_point_colors

HAND_RGB = tuple(float(c) for c in RANK_COLORS[0])  # the best grasp's colour in RViz (green)
TARGET_RGB = tuple(float(c) for c in object_point_colors(np.array([1]), 1)[0])  # the target part (orange)
OTHER_RGB = tuple(float(c) for c in object_point_colors(np.array([0]), 1)[0])  # the rest, dimmed grey
RAISE_DEG = 25.0  # the main view looks from the hand's side, this much from above
TURN_DEG = 40.0  # and this much around the vertical, so the hand does not cover its contact
DEFAULT_VIEW = (25.0, -60.0)  # (elevation, azimuth) when there is no hand
ZOOM_RATIO = 2.5  # an object this many hand lengths long is shown near the hand in the main view
MAX_POINTS = (2500, 1200)  # object points drawn in the main / small views (evenly subsampled)

# Layout in pixels (see grid_shape and cell_box).
ROW_LABEL_W = 150
COL_LABEL_H = 26
TITLE_H = 30
CAPTION_H = 34
GAP = 6
FRAME_RGB = (205, 205, 205)
TEXT_RGB = (30, 30, 30)
FAIL_RGB = (185, 30, 30)
HINT_RGB = (150, 150, 150)


@dataclass
class GridCell:
    """One grid cell: the best grasp of one (row, column) combination, in the object's frame."""

    row: str  # e.g. "full / inferred" (preset / mode)
    column: str  # e.g. "teapot" (category)
    object_points: np.ndarray  # (N, 3) metres, object frame (+z up)
    part_mask: np.ndarray  # (N,) bool: the ground-truth target part
    hand_vertices: np.ndarray | None  # (V, 3) the best grasp's hand surface; None = no grasp (goal failed)
    hand_faces: np.ndarray | None  # (F, 3)
    caption: str  # short, e.g. "pen 0.31 cm  held  on-part" or the error code


# -- layout -------------------------------------------------------------------------------------
def cell_width(size: int) -> int:
    return size + size // 2


def cell_height(size: int) -> int:
    return size + CAPTION_H


def _header_h(title: str) -> int:
    return (TITLE_H if title else 0) + COL_LABEL_H


def grid_shape(n_rows: int, n_cols: int, size: int = 220, title: str = "") -> tuple[int, int]:
    """(width, height) in pixels of render_grasp_grid's image."""
    return ROW_LABEL_W + n_cols * (cell_width(size) + GAP), _header_h(title) + n_rows * (cell_height(size) + GAP)


def cell_box(row: int, col: int, size: int = 220, title: str = "") -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a cell's views and caption in the image, right/bottom exclusive."""
    x = ROW_LABEL_W + col * (cell_width(size) + GAP)
    y = _header_h(title) + row * (cell_height(size) + GAP)
    return x, y, x + cell_width(size), y + cell_height(size)


# -- text ---------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _font(px: int, bold: bool = False):
    """DejaVu Sans (shipped with matplotlib) at px pixels; PIL's default font if it cannot be found."""
    try:
        from matplotlib import font_manager

        path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans",
                                                                 weight="bold" if bold else "normal"))  # fmt: skip
        return ImageFont.truetype(path, px)
    except (ImportError, OSError, ValueError):
        return ImageFont.load_default(size=px)


def _clip(draw: ImageDraw.ImageDraw, line: str, font, width: int, more: bool) -> str:
    """line cut to width, ending in an ellipsis when it was cut or text follows (more)."""
    if not more and draw.textlength(line, font=font) <= width:
        return line
    while line and draw.textlength(line + "…", font=font) > width:
        line = line[:-1]
    return line.rstrip() + "…"


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int, max_lines: int) -> list[str]:
    """Greedy wrap to `width` pixels at spaces, and after underscores in a word too long for a line
    ("no_prior_guidance"); lines that still do not fit, and the last when text is left over, end in "…"."""
    text = str(text)
    if draw.textlength(text, font=font) <= width:
        return [text]  # as given, spaces kept
    tokens = []  # (separator before, piece)
    for word in text.split():
        parts = re.findall(r"[^_]*_|[^_]+", word) if draw.textlength(word, font=font) > width else [word]
        tokens += [(" " if i == 0 else "", part) for i, part in enumerate(parts)]
    lines: list[str] = []
    while tokens and len(lines) < max_lines:
        line = tokens.pop(0)[1]
        while tokens and draw.textlength(line + "".join(tokens[0]), font=font) <= width:
            line += "".join(tokens.pop(0))
        lines.append(line)
    return [_clip(draw, line, font, width, bool(tokens) and i == len(lines) - 1) for i, line in enumerate(lines)]


def _text_block(draw, box, text: str, font, fill, max_lines: int, align: str = "center") -> None:
    """Wrapped text centred vertically in box (left, top, right, bottom)."""
    left, top, right, bottom = box
    lines = _wrap(draw, text, font, right - left - 4, max_lines)
    line_h = font.size + 2 if hasattr(font, "size") else 12
    y = top + max(0, (bottom - top - line_h * len(lines)) // 2)
    for line in lines:
        w = draw.textlength(line, font=font)
        x = left + 2 if align == "left" else left + (right - left - w) / 2
        draw.text((x, y), line, font=font, fill=fill)
        y += line_h


# -- one cell -----------------------------------------------------------------------------------
def _finite_points(cell: GridCell) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(cell.object_points, float).reshape(-1, 3)
    mask = np.asarray(cell.part_mask, bool).reshape(-1)
    if len(mask) != len(pts):  # a malformed mask colours nothing rather than the wrong points
        mask = np.zeros(len(pts), bool)
    keep = np.isfinite(pts).all(1)
    return pts[keep], mask[keep]


def _hand_mesh(cell: GridCell) -> tuple[np.ndarray, np.ndarray] | None:
    """The hand's vertices and the faces whose corners are all finite; None when nothing is left."""
    if cell.hand_vertices is None or cell.hand_faces is None:
        return None
    v = np.asarray(cell.hand_vertices, float).reshape(-1, 3)
    f = np.asarray(cell.hand_faces).reshape(-1, 3).astype(np.int64)
    if not len(v) or not len(f):
        return None
    f = f[((f >= 0) & (f < len(v))).all(1)]
    f = f[np.isfinite(v[f]).all(axis=(1, 2))]
    return (v, f) if len(f) else None


def _views(pts: np.ndarray, hand) -> list[tuple[float, float]]:
    """(elevation, azimuth) of the main, back and top views."""
    elev, azim = DEFAULT_VIEW
    if hand is not None and len(pts):
        v, f = hand
        d = v[np.unique(f)].mean(0) - pts.mean(0)
        horizontal = math.hypot(d[0], d[1])
        if np.linalg.norm(d) > 1e-6:
            azim = math.degrees(math.atan2(d[1], d[0])) + TURN_DEG if horizontal > 1e-6 else DEFAULT_VIEW[1]
            elev = float(np.clip(math.degrees(math.atan2(d[2], horizontal)) + RAISE_DEG, -60.0, 85.0))
    back_elev = float(np.clip(elev, -45.0, 45.0))
    return [(elev, azim), (back_elev, azim + 180.0), (89.9, azim)]


def _fit(R: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, float]:
    """Canvas centre and half-extent that frame pts (their screen-space box) with a small margin."""
    p = pts @ R.T
    lo, hi = p[:, :2].min(0), p[:, :2].max(0)
    mid = (lo + hi) / 2
    return R.T @ np.array([mid[0], mid[1], 0.0]), 0.54 * max(float((hi - lo).max()), 1e-3)


def _framed(pts: np.ndarray, hand) -> np.ndarray:
    """The points a view frames: the object and the hand's vertices near it (a hand far off is cut
    rather than shrinking the object to a few pixels)."""
    if hand is None:
        return pts
    v = hand[0][np.unique(hand[1])]
    if not len(pts):
        return v
    lo, hi = pts.min(0), pts.max(0)
    margin = max(0.5 * float((hi - lo).max()), 0.06)
    near = v[((v >= lo - margin) & (v <= hi + margin)).all(1)]
    return np.concatenate([pts, near])


def _near_hand(pts: np.ndarray, hand) -> np.ndarray | None:
    """For an object much larger than the hand (a broom, an umbrella): the hand and the object points
    around it, which the main view frames (the small views keep the whole object). None otherwise."""
    if hand is None or not len(pts):
        return None
    v = hand[0][np.unique(hand[1])]
    lo, hi = v.min(0), v.max(0)
    hand_extent = float((hi - lo).max())
    if float((pts.max(0) - pts.min(0)).max()) <= ZOOM_RATIO * hand_extent:
        return None
    margin = 0.5 * hand_extent
    near = pts[((pts >= lo - margin) & (pts <= hi + margin)).all(1)]
    return np.concatenate([v, near])


def _subsample(n: int, limit: int) -> np.ndarray:
    return np.arange(n) if n <= limit else np.linspace(0, n - 1, limit).round().astype(int)


def _render_view(pts, colors, hand, framed, elev: float, azim: float, size: int, max_points: int,
                 radius: int) -> np.ndarray:  # fmt: skip
    if not len(framed):
        return np.ones((size, size, 3))
    R = look_rotation(elev, azim)
    center, extent = _fit(R, framed)
    canvas = Canvas(R, center, extent, size)
    if hand is not None:
        v, f = hand
        canvas.mesh(v, f[front_faces(v, f, R[2])], HAND_RGB)
    idx = _subsample(len(pts), max_points)
    if len(idx):
        canvas.points(pts[idx], colors[idx], radius_px=radius)
    return canvas.image


def render_cell(cell: GridCell, size: int = 220) -> np.ndarray:
    """The cell's views as one (size, size + size // 2, 3) uint8 image: main view left, back and top right."""
    pts, mask = _finite_points(cell)
    colors = object_point_colors(mask.astype(int), 1)
    hand = _hand_mesh(cell)
    whole = _framed(pts, hand)
    zoomed = _near_hand(pts, hand)
    (e0, a0), (e1, a1), (e2, a2) = _views(pts, hand)
    small = size // 2
    r_small = 1 if small >= 80 else 0
    out = np.ones((size, cell_width(size), 3))
    out[:, :size] = _render_view(pts, colors, hand, whole if zoomed is None else zoomed, e0, a0, size,
                                 MAX_POINTS[0], 1)  # fmt: skip
    out[:small, size:] = _render_view(pts, colors, hand, whole, e1, a1, small, MAX_POINTS[1], r_small)
    out[small : 2 * small, size:] = _render_view(pts, colors, hand, whole, e2, a2, small, MAX_POINTS[1], r_small)
    return (out * 255).round().clip(0, 255).astype(np.uint8)


# -- the grid -----------------------------------------------------------------------------------
def _ordered(values) -> list[str]:
    return list(dict.fromkeys(values))


def render_grasp_grid(cells: list[GridCell], path, title: str = "", size: int = 220) -> None:
    """One PNG: rows x columns (first-appearance order) of render_cell images with their captions,
    row labels at the left, column labels on top, the title above. A missing combination is a blank
    cell with "-"; of two cells with the same row and column the first is drawn."""
    size = max(int(size), 40)
    rows, cols = _ordered(c.row for c in cells), _ordered(c.column for c in cells)
    by_key: dict[tuple[str, str], GridCell] = {}
    for c in cells:
        by_key.setdefault((c.row, c.column), c)
    width, height = grid_shape(max(len(rows), 1), max(len(cols), 1), size, title)
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    label_font, caption_font, hint_font = _font(14, True), _font(12), _font(10)
    if title:
        _text_block(draw, (GAP, 0, width - GAP, TITLE_H), title, _font(16, True), TEXT_RGB, 1)
    if not cells:
        _text_block(draw, (0, _header_h(title), width, height), "no cells", label_font, HINT_RGB, 1)
    top = TITLE_H if title else 0
    for j, col in enumerate(cols):
        x0, _, x1, _ = cell_box(0, j, size, title)
        _text_block(draw, (x0, top, x1, top + COL_LABEL_H), col, label_font, TEXT_RGB, 1)
    small = size // 2
    for i, row in enumerate(rows):
        _, y0, _, _ = cell_box(i, 0, size, title)
        _text_block(draw, (4, y0, ROW_LABEL_W - 4, y0 + size), row, _font(13, True), TEXT_RGB, 5, align="left")
        for j, col in enumerate(cols):
            x0, y0, x1, y1 = cell_box(i, j, size, title)
            cell = by_key.get((row, col))
            if cell is not None:
                image.paste(Image.fromarray(render_cell(cell, size)), (x0, y0))
                draw.text((x0 + size + 3, y0 + 1), "back", font=hint_font, fill=HINT_RGB)
                draw.text((x0 + size + 3, y0 + small + 1), "top", font=hint_font, fill=HINT_RGB)
                fill = FAIL_RGB if _hand_mesh(cell) is None else TEXT_RGB
                _text_block(draw, (x0, y0 + size, x1, y1), cell.caption, caption_font, fill, 2)
                draw.line((x0 + size, y0, x0 + size, y0 + size - 1), fill=FRAME_RGB)
                draw.line((x0 + size, y0 + small, x1 - 1, y0 + small), fill=FRAME_RGB)
            else:  # no result for this combination
                _text_block(draw, (x0, y0, x1, y0 + size), "-", _font(max(size // 6, 12), True), HINT_RGB, 1)
            draw.rectangle((x0, y0, x1 - 1, y0 + size - 1), outline=FRAME_RGB)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


# -- quality against iterations -----------------------------------------------------------------
def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def iteration_summary(rows: list[dict], metric: str) -> list[tuple[int, float, float, float, int]]:
    """(iterations, mean, q25, q75, n) per measured iteration count, ascending; NaN / None / missing
    values are left out (n counts the rest; mean and quartiles are NaN where n is 0). Rows without a
    finite "iterations" are skipped."""
    groups: dict[int, list[float]] = {}
    for row in rows:
        it = _number(row.get("iterations"))
        if not math.isfinite(it):
            continue
        values = groups.setdefault(int(it), [])
        value = _number(row.get(metric))
        if math.isfinite(value):
            values.append(value)
    out = []
    for it in sorted(groups):
        v = np.asarray(groups[it], float)
        if len(v):
            q25, q75 = np.percentile(v, [25, 75])
            out.append((it, float(v.mean()), float(q25), float(q75), len(v)))
        else:
            out.append((it, math.nan, math.nan, math.nan, 0))
    return out


def render_quality_vs_iterations(rows: list[dict], path,
                                 metrics=("penetration_cm", "part_accuracy", "held_share", "latency_s")) -> None:  # fmt: skip
    """One subplot per metric: the mean against total optimizer iterations with its 25-75 % band,
    markers at the measured counts (the x ticks), n per point in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = tuple(metrics)
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(4.0 * max(len(metrics), 1), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=False):
        summary = iteration_summary(rows, metric)
        counts = [s[0] for s in summary]
        ok = [s for s in summary if s[4] > 0]
        if ok:
            x = np.array([s[0] for s in ok], float)
            mean, q25, q75 = (np.array([s[k] for s in ok]) for k in (1, 2, 3))
            ax.fill_between(x, q25, q75, color="tab:blue", alpha=0.2, linewidth=0, label="25-75 %")
            n = ", ".join(str(s[4]) for s in ok)
            ax.plot(x, mean, "-o", color="tab:blue", markersize=5, label=f"mean (n = {n})")
            ax.legend(fontsize=7, loc="best")
        else:
            ax.text(0.5, 0.5, "not computed", ha="center", va="center", transform=ax.transAxes, color="grey")
        positive = [c for c in counts if c > 0]
        if positive and max(positive) / min(positive) > 10:
            ax.set_xscale("symlog", linthresh=min(positive))
        if counts:
            ax.set_xticks(counts)
            ax.set_xticklabels([str(c) for c in counts], fontsize=8, rotation=45 if len(counts) > 6 else 0)
            ax.minorticks_off()
        ax.set_xlabel("optimizer iterations")
        ax.set_title(metric, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[0][len(metrics) :]:
        ax.axis("off")
    fig.tight_layout()
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
