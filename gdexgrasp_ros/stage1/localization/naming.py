"""Naming candidate parts: a score per part family over ProposalFeatures.

Two kinds of family:
- defined by what the part is for (RULE_FAMILIES, fixed, in metres, nothing fitted): a handle
  is closed around by a hand (bar radius ~11 mm, at least a palm's width long; a loop that
  fingers hook through may be thinner), a trigger is pulled by a finger (radius ~6 mm, ~3.5 cm
  long, set off by a crease);
- learned (every other family the training categories show: lid/cap, spout, body, blade, neck
  ...): a linear score over standardised features, weights in part_models.py, fitted by fit.py
  on the procedural training categories only (complete clouds and single camera views).
A softmax over one object's candidates turns scores into how much the model prefers each one;
the preferred candidate is the part, and its softmax weight is the confidence.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .features import FEATURES, GRIP_LOG_SIGMA, GRIP_RADIUS_M, MODEL_FEATURES, PALM_WIDTH_M
from .names import normalize_name, part_family

_F = {name: i for i, name in enumerate(FEATURES)}
LOOP_BONUS = 1.0  # a bar attached at both ends (mug, kettle, suitcase) is the archetypal handle
LOOP_MIN_BULGE = 0.25  # bow height / span of a loop (a mug handle ~0.5, a flat suitcase arch ~0.3)
BAR_MAX_WIDTH = 0.5  # width / length beyond which a part stops looking like a bar
BAR_PENALTY = 4.0  # per unit of width / length beyond that (a disc, 1.0: -2)
SUPPORT_BAND = 0.2  # relative height: a part reaching no higher than about this lies along the base
FINGER_RADIUS_M = 0.006
FINGER_LENGTH_M = 0.035
FINGER_LOG_SIGMA = 0.5
# A trigger hangs below the head or barrel it is pulled towards (features.overhang); what has
# nothing over it (a nozzle, a drill's chuck, a cap) is not one.
HANGS_BELOW_BONUS = 3.0


def _metres(features: np.ndarray, name: str, unit: float) -> np.ndarray:
    return np.exp(features[:, _F[name]]) * unit  # features hold log(value / unit)


def handle_score(features: np.ndarray) -> np.ndarray:
    """How much each candidate looks like something a hand holds (log scale, 0 = ideal).

    A hand closes around a bar of ~11 mm radius (too thick is never a handle; too thin only
    when it is a loop attached at both ends, which fingers hook through), at least a palm's
    width long. It is a part of its own: attached at one or two places, not along its length,
    and not the object's top face (a lid).
    """
    lt = np.log(_metres(features, "log_cross_section_m", 0.01) / GRIP_RADIUS_M)
    # A loop is one appendage attached at both ends, thinner than what it is attached to, bowing
    # away from it (a hand goes through); a straight bar cut at both ends does not bow.
    loop = (
        (features[:, _F["two_contacts"]] > 0.5)
        & (features[:, _F["thickness_vs_rest"]] < 0)
        & (features[:, _F["loop_bulge"]] >= LOOP_MIN_BULGE)
        & (features[:, _F["kind_thin-union"]] < 0.5)
    )
    grip = -(np.maximum(lt, 0) ** 2 + np.where(loop, 0.0, np.minimum(lt, 0) ** 2)) / (2 * GRIP_LOG_SIGMA**2)
    length = np.log(np.minimum(_metres(features, "log_length_m", 0.1) / PALM_WIDTH_M, 1.0))
    # Fingers wrap a bar: long and narrow. A plate or dish as wide as it is long (a pan's body)
    # is not held around; loops are exempt (their bow makes them wide).
    bar = np.where(loop, 0.0, -BAR_PENALTY * np.maximum(features[:, _F["width_vs_length"]] - BAR_MAX_WIDTH, 0.0))
    attached = -3.0 * features[:, _F["contact_share"]] + LOOP_BONUS * loop
    # A lid's top face dominates its points; a bar lying on the table shows a quarter facing up.
    not_lid = -2.0 * np.maximum(features[:, _F["facing_up_share"]] - 0.3, 0.0) / 0.7
    whole = np.where(features[:, _F["log_fraction"]] > np.log(0.9), -5.0, 0.0)  # the object itself
    # Of two pieces that both fit a hand, the handle is the bigger one: a hand holds a part, not a
    # strip of one.
    size = 0.5 * features[:, _F["log_fraction"]]
    # Two alike pieces taken together are a pair of handles (a pot's), which one hand never holds.
    pair = -3.0 * features[:, _F["kind_thin-union"]]
    # Nothing lying along the bottom of the object is closed around: fingers cannot get under it.
    # (In one camera view the base's rim looks like a thin band.)
    on_support = -3.0 * np.clip((SUPPORT_BAND - features[:, _F["height_max"]]) / 0.1, 0.0, 1.0)
    return grip + length + bar + attached + not_lid + whole + size + pair + on_support


def trigger_score(features: np.ndarray) -> np.ndarray:
    """How much each candidate looks like something a finger pulls (log scale): a finger-sized
    protrusion (~6 mm radius, ~3.5 cm long) set off by a crease, attached at one place, a few
    percent of the object at most, in its upper half, under some other part of it."""
    lt = np.log(_metres(features, "log_cross_section_m", 0.01) / FINGER_RADIUS_M)
    ll = np.log(_metres(features, "log_length_m", 0.1) / FINGER_LENGTH_M)
    size = -(lt**2 + ll**2) / (2 * FINGER_LOG_SIGMA**2)
    # It stands out of a surface that folds inwards around it (a concave crease), unlike the
    # bands along convex edges that are as thin.
    crease = 1.5 * np.minimum(features[:, _F["concave_boundary"]], 1.0)
    attached = -1.0 * (features[:, _F["one_contact"]] < 0.5)
    small = -np.maximum(features[:, _F["log_fraction"]] - np.log(0.05), 0.0)
    # The index finger of the hand holding the object's grip or neck reaches the upper half.
    upper = -2.0 * np.maximum(0.5 - features[:, _F["height_mean"]], 0.0) / 0.5
    hangs = HANGS_BELOW_BONUS * features[:, _F["overhang"]]
    return size + crease + attached + small + upper + hangs


# Families decided by the part's purpose alone: a handle and a trigger are defined by the hand
# that uses them, and the training categories hold too few kinds of them (toy-thin mug loops,
# one spray-bottle trigger) for a fit to learn that.
RULE_FAMILIES = {"handle": handle_score, "trigger": trigger_score}


class PartModels:
    """Scores candidates for part families with fitted linear weights."""

    def __init__(self, models: dict | None = None, view: bool = False):
        """models: a fitted set (fit.fit_models); None loads the shipped one, for single camera
        views when `view` (part_models.VIEW_MODELS), else for complete clouds (MODELS)."""
        if models is None:
            from . import part_models

            models = part_models.VIEW_MODELS if view else part_models.MODELS
        if list(models["features"]) != list(MODEL_FEATURES):
            raise ValueError("part_models.py was fitted for other features; refit with "
                             "`python -m gdexgrasp_ros.stage1.localization.fit`")  # fmt: skip
        self.mean = np.asarray(models["mean"], dtype=np.float64)
        self.std = np.asarray(models["std"], dtype=np.float64)
        self.weights = {k: np.asarray(w, dtype=np.float64) for k, w in models["weights"].items()}
        self.trained_on = models.get("trained_on", {})

    @property
    def families(self) -> list[str]:
        return sorted(set(self.weights) | set(RULE_FAMILIES))

    def family_of(self, part_name: str) -> str | None:
        """The modelled family a part name refers to, or None."""
        key = part_family(part_name) or normalize_name(part_name)
        return key if key in self.weights or key in RULE_FAMILIES else None

    def scores(self, features: np.ndarray, family: str) -> np.ndarray:
        if family in RULE_FAMILIES:
            return RULE_FAMILIES[family](features)
        return ((features[:, : len(MODEL_FEATURES)] - self.mean) / self.std) @ self.weights[family]

    def preference(self, features: np.ndarray, family: str) -> np.ndarray:
        """Softmax of the scores over one object's candidates."""
        s = self.scores(features, family)
        return np.exp(s - logsumexp(s))

    def best_family(self, features: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Per candidate, the family whose model scores it highest relative to that family's best
        candidate elsewhere on the object (names each segment for reports)."""
        fams = self.families
        if len(features) == 0:
            return [], np.zeros(0)
        pref = np.stack([self.preference(features, f) for f in fams])  # (F, P)
        rel = pref / np.maximum(pref.max(1, keepdims=True), 1e-12)
        best = rel.argmax(0)
        return [fams[i] for i in best], rel[best, np.arange(len(features))]
