"""Part colours shared by every figure (tab10-like, deterministic by part index)."""

import numpy as np

PART_COLORS = np.array([
    [0.60, 0.62, 0.66], [0.90, 0.45, 0.15], [0.20, 0.55, 0.85], [0.30, 0.70, 0.35], [0.80, 0.30, 0.55],
    [0.95, 0.80, 0.25], [0.55, 0.40, 0.75], [0.45, 0.75, 0.75], [0.65, 0.50, 0.35], [0.85, 0.55, 0.60],
])  # fmt: skip
UNLABELLED_COLOR = np.array([0.3, 0.3, 0.3])


def part_color(part_id: int) -> np.ndarray:
    return UNLABELLED_COLOR if part_id < 0 else PART_COLORS[part_id % len(PART_COLORS)]


def part_colors(part_ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(part_ids)
    out = PART_COLORS[np.maximum(ids, 0) % len(PART_COLORS)]
    out[ids < 0] = UNLABELLED_COLOR
    return out
