"""The grasp prior Gamma = (P, Theta_hat, C) that stage 1 hands to stages 2 and 3.

P: the localized contact part (a point mask over the object), Theta_hat: the representative
hand pose (joint angles), C: per-hand-vertex contact-map distribution (mean, std).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..hand.base import HandModel

# Which digits (0-3 index..little, 4 thumb, 5 palm) a posture's contacts use, per affordance:
# the default prior contact weight of each digit's pad vertices before any data is seen.
DIGIT_CONTACT = {
    "handle-grip": (1.0, 1.0, 1.0, 0.8, 0.6, 0.7),
    "twist": (1.0, 1.0, 0.6, 0.3, 1.0, 0.0),
    "wrap-around-grip": (1.0, 1.0, 1.0, 0.8, 0.9, 0.6),
    "base-support": (0.5, 0.5, 0.5, 0.4, 0.2, 1.0),
    "trigger-squeeze": (1.0, 0.9, 0.9, 0.7, 0.6, 0.6),
}


@dataclass
class GraspPrior:
    affordance: str
    part_name: str
    joints: np.ndarray  # (D,) representative pose Theta_hat, radians
    contact_mean: np.ndarray  # (V,) prior contact map C, 0..1 per hand vertex
    contact_std: np.ndarray  # (V,) its spread; L_cmap weights vertices by exp(-std)
    cluster_id: int = -1  # the prior database's cluster; -1 for a data-free prior
    hand_model: str = "open_hand"
    source: str = ""  # where it came from, for the result's rationale

    def __post_init__(self):
        self.joints = np.asarray(self.joints, dtype=np.float64)
        self.contact_mean = np.asarray(self.contact_mean, dtype=np.float64)
        self.contact_std = np.asarray(self.contact_std, dtype=np.float64)
        if self.contact_mean.shape != self.contact_std.shape:
            raise ValueError("contact mean and std must have one value per hand vertex")


def posture_prior(hand: HandModel, affordance: str, part_name: str, std: float = 0.3) -> GraspPrior:
    """A data-free prior: the canonical posture, contact on the pads of the digits it uses.

    Used before a prior database exists and in tests; stage 1 retrieval replaces it with a
    cluster's statistics.
    """
    if affordance not in DIGIT_CONTACT:
        raise ValueError(f"unknown affordance '{affordance}'; expected one of {tuple(DIGIT_CONTACT)}")
    digit = hand.vertex_digit.cpu().numpy()
    mean = np.zeros(hand.num_vertices)
    cand = hand.contact_candidates.cpu().numpy()
    mean[cand] = np.asarray(DIGIT_CONTACT[affordance])[digit[cand]]
    return GraspPrior(affordance, part_name, hand.default_posture(affordance), mean, np.full(len(mean), std),
                      hand_model=hand.name, source=f"the canonical {affordance} posture (no data)")  # fmt: skip


def empty_prior(hand: HandModel, posture: str = "base-support") -> GraspPrior:
    """No prior at all (the DexGraspNet-style baseline): an open hand and a zero contact map."""
    zeros = np.zeros(hand.num_vertices)
    return GraspPrior("", "", hand.default_posture(posture), zeros, zeros.copy(), hand_model=hand.name,
                      source="none (open hand, no contact map)")  # fmt: skip


def prior_tensors(prior: GraspPrior, device, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    t = lambda x: torch.as_tensor(x, dtype=dtype, device=device)  # noqa: E731
    return t(prior.joints), t(prior.contact_mean), t(prior.contact_std)
