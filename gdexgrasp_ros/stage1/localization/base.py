"""The part-localization interface: PartLocalizer.localize(obj, part_name) -> LocalizationResult.

G-DexGrasp stage 1 finds the contact part named by instruction analysis on the object's points.
Every backend (labels carried by the cloud, offline geometry, an open-vocabulary detector)
returns the same result: a boolean mask over the object's points plus how it was decided.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from ...errors import ErrorCode, GraspError
from ...objects.part_object import PartObject


class PartNotFound(GraspError):
    """The named part is not on the object (reported as PART_NOT_FOUND); the message says what is."""

    def __init__(self, part_name: str, message: str, available: list[str] | None = None):
        super().__init__(ErrorCode.PART_NOT_FOUND, message)
        self.part_name = part_name
        self.available = list(available or [])


@dataclass
class SegmentInfo:
    """One segment of the object as a backend saw it."""

    segment_id: int
    name: str  # the label, or the family the geometric localizer names it ("handle", "lid", ...)
    num_points: int
    score: float  # how well it fits the queried part (0..1; backend-specific scale)
    kind: str = ""  # how it was found ("label", "appendage", "core", "top", ...)
    selected: bool = False  # part of the returned mask


@dataclass
class LocalizationResult:
    """mask: (N,) bool over obj.points; backend: which backend decided (with "fallback" noted);
    confidence in 0..1; matched: the label or family the query was matched to; segment_ids: (N,)
    segment of each point (-1 = none) with `segments` describing them."""

    mask: np.ndarray
    backend: str
    confidence: float
    part_name: str = ""
    matched: str = ""
    segments: list[SegmentInfo] = field(default_factory=list)
    segment_ids: np.ndarray | None = None
    fallback: bool = False
    notes: str = ""

    def __post_init__(self):
        self.mask = np.asarray(self.mask, dtype=bool).reshape(-1)
        self.confidence = float(np.clip(self.confidence, 0.0, 1.0))

    @property
    def num_points(self) -> int:
        return int(self.mask.sum())


class PartLocalizer(ABC):
    """Finds a named part on an object's points."""

    name = "base"

    @abstractmethod
    def localize(self, obj: PartObject, part_name: str) -> LocalizationResult:
        """The points of `obj` that belong to the part called `part_name` (never an empty mask:
        PartNotFound instead)."""


def check_query(obj: PartObject, part_name: str) -> None:
    """Reject inputs no backend can work with, with a message that says why."""
    if not isinstance(obj, PartObject):
        raise TypeError(f"localize expects a PartObject, got {type(obj).__name__}")
    if not isinstance(part_name, str) or not part_name.strip():
        raise PartNotFound(str(part_name), "the part name is empty")
    if len(obj) == 0:
        raise PartNotFound(part_name, "the object has no points")
    if not np.all(np.isfinite(obj.points)):
        raise ValueError("the object's points must be finite")
