"""The PNG grid of best grasps: one row per (preset, mode), one column per category.

Each cell shows the first goal of that row and category in plan order (never chosen by how well it
did), with its best grasp and a caption of the benchmark's figures for it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .figures import GridCell, render_grasp_grid


def _caption(rec: dict) -> str:
    if not rec["grasps"]:
        return rec["status"]
    g = rec["grasps"][0]
    held = "" if g["held"] is None else (" held" if g["held"] else " fell")
    pen = "" if math.isnan(g["penetration_cm"]) else f"pen {g['penetration_cm']:.2f}cm"
    return f"{pen}{held} {'on-part' if g['on_part'] else 'OFF-part'}"


def grid_cells(records: list[dict], out_dir: Path, hand_faces: np.ndarray) -> list[GridCell]:
    cells, seen = [], set()
    for rec in records:
        if rec.get("role") != "main":
            continue
        for mode in rec["modes"]:
            key = (rec["preset"], mode, rec["category"])
            if key in seen:
                continue
            seen.add(key)
            arrays = Path(out_dir) / "arrays" / rec["png"] if rec.get("png") else None
            if arrays is not None and arrays.is_file():
                with np.load(arrays) as a:
                    pts, mask, verts = a["object_points"], a["part_mask"], a["hand_vertices"]
                cells.append(GridCell(f"{rec['preset']} / {mode}", rec["category"], pts, mask, verts, hand_faces,
                                      _caption(rec)))  # fmt: skip
            else:
                cells.append(GridCell(f"{rec['preset']} / {mode}", rec["category"], np.zeros((0, 3)),
                                      np.zeros(0, bool), None, None, _caption(rec)))  # fmt: skip
    return cells


def best_grasp_grid(records: list[dict], out_dir: Path) -> Path | None:
    from ..hand import load_hand_model

    faces = load_hand_model("open_hand").faces.cpu().numpy()
    cells = grid_cells(sorted(records, key=_order), Path(out_dir), faces)
    if not cells:
        return None
    path = Path(out_dir) / "best_grasps.png"
    render_grasp_grid(cells, path, title="best-ranked grasp per category (first goal of each row and category)")
    return path


def _order(rec: dict) -> tuple:
    return (rec["preset"] != "full", rec["preset"], rec["mode"], rec["category"], rec["shape"], rec["instruction"])
