"""gdexgrasp-bench figures: the grasp grid PNG (layout, colours, blank and failed cells, NaN input)
and the quality-vs-iterations plot with its summary."""

import math

import numpy as np
import pytest
import trimesh
from PIL import Image

from gdexgrasp_ros.benchmark import figures as F

SIZE = 80  # small views keep the rasteriser's per-triangle loop short


def sphere_points(n=600, radius=0.05, center=(0.0, 0.0, 0.05)):
    """Evenly spread points on a sphere (Fibonacci lattice, deterministic); the +z cap is the target part."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    a = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z**2)
    pts = radius * np.stack([r * np.cos(a), r * np.sin(a), z], 1) + center
    return pts, z > 0.6


def box_hand(center, extent=0.04):
    box = trimesh.creation.box([extent] * 3)
    return np.asarray(box.vertices) + center, np.asarray(box.faces)


def cell(row, col, hand_center=(0.09, 0.0, 0.05), caption="pen 0.31 cm  held  on-part"):
    pts, mask = sphere_points()
    v, f = box_hand(np.asarray(hand_center)) if hand_center is not None else (None, None)
    return F.GridCell(row, col, pts, mask, v, f, caption)


def hand_pixels(img: np.ndarray) -> np.ndarray:
    """Pixels that are a shade (flat Lambert, 0.3..1 of full brightness) of the hand's colour."""
    p = img.astype(float) / 255
    h = np.asarray(F.HAND_RGB)
    lum = p @ h / (h @ h)
    return (lum > 0.25) & (np.abs(p - lum[..., None] * h).max(-1) < 0.02)


def color_pixels(img: np.ndarray, rgb) -> np.ndarray:
    return (np.abs(img.astype(int) - np.round(np.asarray(rgb) * 255)) <= 1).all(-1)


def crop(img: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return img[y0:y1, x0:x1]


def test_grid_layout_colours_blank_and_failed_cells(tmp_path):
    # Rows "b" then "a" (first appearance, not sorted); ("a", "y") is missing; ("a", "x") failed.
    cells = [cell("b", "x"), cell("b", "y", hand_center=(-0.09, 0.0, 0.05)),
             cell("a", "x", hand_center=None, caption="NO_GRASP")]  # fmt: skip
    path = tmp_path / "grid.png"
    F.render_grasp_grid(cells, path, title="bench", size=SIZE)
    img = np.asarray(Image.open(path).convert("RGB"))
    width = F.ROW_LABEL_W + 2 * (SIZE + SIZE // 2 + F.GAP)
    height = F.TITLE_H + F.COL_LABEL_H + 2 * (SIZE + F.CAPTION_H + F.GAP)
    assert img.shape == (height, width, 3)
    assert F.grid_shape(2, 2, SIZE, "bench") == (width, height)

    with_hand, other_side = crop(img, F.cell_box(0, 0, SIZE, "bench")), crop(img, F.cell_box(0, 1, SIZE, "bench"))
    failed, blank = crop(img, F.cell_box(1, 0, SIZE, "bench")), crop(img, F.cell_box(1, 1, SIZE, "bench"))
    assert hand_pixels(with_hand).sum() > 200 and hand_pixels(other_side).sum() > 200
    assert hand_pixels(failed).sum() == 0 and hand_pixels(blank).sum() == 0
    assert color_pixels(with_hand, F.TARGET_RGB).sum() > 20 and color_pixels(failed, F.TARGET_RGB).sum() > 20
    assert color_pixels(with_hand, F.OTHER_RGB).sum() > 50
    assert color_pixels(blank, F.TARGET_RGB).sum() == 0 and color_pixels(blank, F.OTHER_RGB).sum() == 0
    # The failed cell's caption is in the failure colour, the others' are not.
    assert color_pixels(failed[SIZE:], np.asarray(F.FAIL_RGB) / 255).any()
    assert not color_pixels(with_hand[SIZE:], np.asarray(F.FAIL_RGB) / 255).any()
    # The hand and the part colours are distinct from each other and from the rest.
    assert not hand_pixels(np.round(np.array([[F.TARGET_RGB, F.OTHER_RGB]]) * 255).astype(np.uint8)).any()

    F.render_grasp_grid(cells, tmp_path / "again.png", title="bench", size=SIZE)
    assert np.array_equal(img, np.asarray(Image.open(tmp_path / "again.png").convert("RGB")))  # no random colours


def test_main_view_follows_the_hand():
    """The main view looks from the hand's side: a hand anywhere around a round object looks the same
    (a fixed camera would see it whole on one side and behind the object on the other)."""
    shares = []
    for azimuth in (0, 90, 180, 270):
        a = np.radians(azimuth)
        c = cell("r", "c", hand_center=(0.085 * np.cos(a), 0.085 * np.sin(a), 0.05))
        shares.append(hand_pixels(F.render_cell(c, SIZE)[:, :SIZE]).mean())
    assert min(shares) > 0.08
    assert max(shares) - min(shares) < 0.1 * max(shares)


def test_grid_survives_nan_empty_hand_and_one_cell(tmp_path):
    pts, mask = sphere_points(300)
    pts[::7] = np.nan
    v, f = box_hand(np.array([0.09, 0.0, 0.05]))
    v[0] = np.nan  # faces using this vertex are skipped, the rest drawn
    cells = [F.GridCell("r", "c", pts, mask, v, f, "nan points and vertices")]
    F.render_grasp_grid(cells, tmp_path / "one.png", size=SIZE)
    img = np.asarray(Image.open(tmp_path / "one.png").convert("RGB"))
    assert img.shape[:2][::-1] == F.grid_shape(1, 1, SIZE)
    assert hand_pixels(img).sum() > 50

    empty = [F.GridCell("r", "c", pts, mask, np.zeros((0, 3)), np.zeros((0, 3), int), "ERR"),
             F.GridCell("r", "d", np.full((5, 3), np.nan), np.ones(5, bool), None, None, "ERR")]  # fmt: skip
    F.render_grasp_grid(empty, tmp_path / "empty.png", size=SIZE)
    img = np.asarray(Image.open(tmp_path / "empty.png").convert("RGB"))
    assert img.shape[:2][::-1] == F.grid_shape(1, 2, SIZE)
    assert hand_pixels(img).sum() == 0

    F.render_grasp_grid([], tmp_path / "none.png", size=SIZE)  # nothing to show: still an image
    assert Image.open(tmp_path / "none.png").size == F.grid_shape(1, 1, SIZE)


def test_grid_of_60_cells_in_first_appearance_order(tmp_path):
    pts, mask = sphere_points(60)
    cols = [f"category {k}" for k in range(12)][::-1]
    cells = [F.GridCell(f"preset {r} / mode", col, pts, mask, None, None, "X" * 80) for r in range(5) for col in cols]
    F.render_grasp_grid(cells, tmp_path / "big.png", title="60 cells", size=40)
    img = np.asarray(Image.open(tmp_path / "big.png").convert("RGB"))
    assert img.shape[:2][::-1] == F.grid_shape(5, 12, 40, "60 cells")
    assert color_pixels(crop(img, F.cell_box(4, 11, 40, "60 cells")), F.TARGET_RGB).any()


def test_iteration_summary_leaves_out_nan_and_missing_values():
    rows = [
        {"iterations": 100, "penetration_cm": 1.0},
        {"iterations": 100, "penetration_cm": 3.0},
        {"iterations": 100, "penetration_cm": math.nan},
        {"iterations": 100, "penetration_cm": None},
        {"iterations": 100},
        {"iterations": 0, "penetration_cm": 5.0, "held_share": True},
        {"iterations": 400, "penetration_cm": math.nan},
        {"penetration_cm": 99.0},  # no iteration count: skipped
    ]
    summary = F.iteration_summary(rows, "penetration_cm")
    assert [s[0] for s in summary] == [0, 100, 400]
    assert summary[0][1:] == (5.0, 5.0, 5.0, 1)
    it, mean, q25, q75, n = summary[1]
    assert (it, n) == (100, 2) and mean == pytest.approx(2.0)
    assert (q25, q75) == (pytest.approx(1.5), pytest.approx(2.5))
    assert summary[2][4] == 0 and math.isnan(summary[2][1])
    assert F.iteration_summary(rows, "held_share")[0][1:] == (1.0, 1.0, 1.0, 1)


def test_quality_vs_iterations_png(tmp_path):
    rows = [{"iterations": it, "penetration_cm": 1.0 / (1 + it + k), "part_accuracy": float(k % 2),
             "held_share": math.nan, "latency_s": 0.5 + it / 100} for it in (0, 50, 200, 800) for k in range(4)]  # fmt: skip
    rows.append({"iterations": 50, "penetration_cm": math.nan, "latency_s": None})
    path = tmp_path / "sub" / "iters.png"
    F.render_quality_vs_iterations(rows, path)
    with Image.open(path) as im:
        assert im.size == (1600, 360)  # four 4 x 3.6 in subplots at 100 dpi
        pixels = np.asarray(im.convert("RGB"))
    assert (pixels < 250).any(axis=-1).mean() > 0.02  # something is drawn
    F.render_quality_vs_iterations([], tmp_path / "empty.png", metrics=("latency_s",))
    assert Image.open(tmp_path / "empty.png").size == (400, 360)
