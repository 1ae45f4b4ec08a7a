"""Canonical hand postures per affordance (OpenHand joint order) and a sampler around them.

Joint order: index (abduction, MCP flexion, PIP flexion), middle, ring, little, thumb
(CMC opposition, CMC abduction, MCP flexion, IP flexion); radians. The vectors were set by
eye on renders of the hand (gdexgrasp-hand render) to match the grasp taxonomy (Feix et al.
2016): medium wrap, tripod, large-diameter power, flat support, and the trigger variant of
the medium wrap with the index hooked.
"""

from __future__ import annotations

import numpy as np
import torch

from ..affordance_types import AFFORDANCES
from .open_hand import JOINT_LIMITS

__all__ = ["AFFORDANCES", "CANONICAL_POSTURES", "canonical_posture", "sample_postures"]

#                      index             middle           ring              little            thumb
CANONICAL_POSTURES: dict[str, np.ndarray] = {
    "handle-grip": np.array([-0.05, 0.75, 1.00, 0.00, 0.75, 1.00, 0.05, 0.75, 1.00, 0.12, 0.75, 1.00,
                             0.50, 0.30, 0.20, 0.20]),
    "twist": np.array([0.22, 0.70, 0.55, 0.00, 0.78, 0.55, -0.22, 0.85, 0.60, -0.38, 0.90, 0.65,
                       1.00, -0.30, 0.30, 0.20]),
    "wrap-around-grip": np.array([0.05, 0.45, 0.60, 0.00, 0.48, 0.62, -0.05, 0.52, 0.64, -0.12, 0.56, 0.66,
                                  0.95, -0.25, 0.20, 0.15]),
    "base-support": np.array([0.08, 0.05, 0.05, 0.00, 0.05, 0.05, -0.08, 0.05, 0.05, -0.16, 0.05, 0.05,
                              0.05, 0.00, 0.05, 0.05]),
    "trigger-squeeze": np.array([0.00, 0.45, 1.05, 0.00, 1.05, 1.30, 0.05, 1.10, 1.30, 0.12, 1.15, 1.25,
                                 0.70, -0.10, 0.30, 0.20]),
}  # fmt: skip


def canonical_posture(affordance: str) -> np.ndarray:
    try:
        return CANONICAL_POSTURES[affordance].copy()
    except KeyError:
        raise ValueError(f"unknown affordance '{affordance}'; expected one of {AFFORDANCES}") from None


def sample_postures(affordance: str, n: int, std: float = 0.08, seed: int = 0) -> torch.Tensor:
    """n plausible variations (n, 16) of an affordance's posture: Gaussian noise clipped to the limits.

    The same seed gives the same samples on every machine (numpy's PCG64).
    """
    rng = np.random.default_rng(seed)
    base = canonical_posture(affordance)
    q = base[None] + rng.normal(0.0, std, size=(n, base.size))
    q = np.clip(q, JOINT_LIMITS[:, 0], JOINT_LIMITS[:, 1])
    return torch.as_tensor(q, dtype=torch.float32)
