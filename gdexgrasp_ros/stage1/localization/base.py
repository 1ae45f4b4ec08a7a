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


@dataclass(frozen=True)
class SceneView:
    """How the cloud was seen, in the cloud's frame: `up` (unit; away from the table) and the
    sensor's position for a single camera view (None for complete clouds: meshes, fused views)."""

    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    viewpoint: tuple[float, float, float] | None = None

    def rotated(self, R: np.ndarray) -> SceneView:
        vp = None if self.viewpoint is None else tuple(float(v) for v in R @ np.asarray(self.viewpoint))
        return SceneView(tuple(float(v) for v in R @ np.asarray(self.up)), vp)


@dataclass
class DenseCloud:
    """Every voxel of the object (denser than its network samples) and, for each sample, its row here."""

    points: np.ndarray  # (M, 3)
    normals: np.ndarray  # (M, 3)
    sample_rows: np.ndarray  # (N,) row of each of the object's N sample points


class PartLocalizer(ABC):
    """Finds a named part on an object's points."""

    name = "base"
    # True when the backend gains from the object's dense cloud (small parts need ~3 mm spacing).
    uses_dense_cloud = False

    @abstractmethod
    def localize(self, obj: PartObject, part_name: str, view: SceneView | None = None) -> LocalizationResult:
        """The points of `obj` that belong to the part called `part_name` (never an empty mask:
        PartNotFound instead). `view` says which way is up and where the sensor was (None: the
        backend's configured defaults)."""

    def locate(self, obj: PartObject, part_name: str, view: SceneView, dense: DenseCloud | None = None
               ) -> LocalizationResult:  # fmt: skip
        """localize() as the pipeline calls it: on the dense cloud when the backend wants it, in a
        frame turned so that the scene's up is +z (the localizers reason about top and bottom
        there); the mask comes back over obj's points."""
        from scipy.spatial.transform import Rotation

        R_up = Rotation.align_vectors([[0.0, 0.0, 1.0]], [np.asarray(view.up, dtype=float)])[0].as_matrix()
        use_dense = self.uses_dense_cloud and dense is not None and len(dense.points) > len(obj)
        source = obj
        if use_dense:
            source = PartObject(dense.points, dense.normals, np.full(len(dense.points), -1), [], obj.category,
                                f"{obj.provenance} (dense)")  # fmt: skip
        result = self.localize(source.transformed(R_up, np.zeros(3)), part_name, view.rotated(R_up))
        if use_dense:
            result.mask = result.mask[dense.sample_rows]
            if result.segment_ids is not None:
                result.segment_ids = result.segment_ids[dense.sample_rows]
        return result


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
