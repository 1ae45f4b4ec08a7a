"""Stage 1 prior retrieval: (affordance, localized part) -> the grasp prior Gamma stages 2 and 3 use.

Retrievers share one interface, chosen by name in the synthesizer configuration:
- "canonical_posture": the affordance's canonical posture with contact on the pads of the
  digits it uses (data-free; the stand-in until the prior database is built);
- "none": no prior (an open hand, zero contact map), for the DexGraspNet-style baseline;
- "database": K-means clusters of a grasp dataset (Eq. 1-2; the paper's retrieval,
  stage1.prior_database) read from `path`, by default the shipped one (SHIPPED_DATABASE, built
  from the procedural training categories by stage1.build_priors).
"""

from __future__ import annotations

import zipfile
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..errors import ErrorCode, GraspError
from ..hand.base import HandModel
from .prior import GraspPrior, empty_prior, posture_prior

RETRIEVERS = ("canonical_posture", "none", "database")
# The shipped prior database (assets manifest entry priors; gdexgrasp-build priors rebuilds it).
SHIPPED_DATABASE = Path(__file__).resolve().parents[1] / "assets" / "prior_database.npz"


class PriorRetriever(ABC):
    name = "base"

    @abstractmethod
    def retrieve(self, hand: HandModel, affordance: str, part_name: str, part_points: np.ndarray) -> GraspPrior:
        """The prior for grasping `part_points` (the localized part, metres) with `affordance`."""


class CanonicalPostureRetriever(PriorRetriever):
    name = "canonical_posture"

    def __init__(self, contact_std: float = 0.3):
        if not contact_std >= 0.0:
            raise ValueError(f"contact_std must be >= 0, got {contact_std}")
        self.contact_std = float(contact_std)

    def retrieve(self, hand, affordance, part_name, part_points):
        return posture_prior(hand, affordance, part_name, std=self.contact_std)


class NoPriorRetriever(PriorRetriever):
    name = "none"

    def retrieve(self, hand, affordance, part_name, part_points):
        return empty_prior(hand)


class DatabaseRetriever(PriorRetriever):
    name = "database"

    def __init__(self, path: str = ""):
        from .prior_database import PriorDatabase

        path = path or str(SHIPPED_DATABASE)
        try:
            self.database = PriorDatabase.load(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            rebuild = " (rebuild the shipped one: gdexgrasp-build priors)" if path == str(SHIPPED_DATABASE) else ""
            raise GraspError(ErrorCode.INTERNAL_ERROR, f"prior database: {err}{rebuild}") from err

    def retrieve(self, hand, affordance, part_name, part_points):
        if hand.name != self.database.hand_model:
            # The clusters' joints and contact maps belong to another hand: that hand's canonical posture instead.
            prior = posture_prior(hand, affordance, part_name)
            prior.source = (f"the canonical {affordance} posture of the {hand.name} hand (the prior database holds "
                            f"{self.database.hand_model} grasps)")  # fmt: skip
            return prior
        return self.database.prior(affordance, part_name, part_points)


def make_retriever(name: str = "canonical_posture", **options) -> PriorRetriever:
    """A retriever by name; options go to its constructor."""
    if name == "canonical_posture":
        return CanonicalPostureRetriever(**options)
    if name == "none":
        if options:
            raise TypeError(f"the 'none' retriever takes no options, got {sorted(options)}")
        return NoPriorRetriever()
    if name == "database":
        return DatabaseRetriever(**options)
    raise ValueError(f"unknown retriever '{name}'; expected one of {', '.join(RETRIEVERS)}")
