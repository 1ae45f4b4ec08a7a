"""The offline part localizer for unlabelled clouds: candidate parts from geometry, named by fitted models.

1. ShapeAnalysis: the solid the points enclose, outward normals (estimated when missing), and
   thickness at several scales.
2. Proposals: thin pieces and thick cores at each scale, parts bounded by concave creases,
   and slabs on top of the body (lids, caps).
3. Naming: every candidate is described by ProposalFeatures; the queried part's family score
   picks one (naming.py: handle and trigger from what a hand does with them, the other
   families fitted on the procedural training categories, see fit.py).

Deterministic: no randomness anywhere (farthest-point seeds, fixed scales, stable sorting).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from ...geometry.sampling import farthest_point_sampling
from ...objects.part_object import PartObject
from .base import LocalizationResult, PartLocalizer, PartNotFound, SceneView, SegmentInfo, check_query
from .cloud import neighbour_pairs
from .convexity import concavity_partitions
from .features import ProposalFeatures
from .names import PART_FAMILIES
from .naming import PartModels
from .proposals import Proposal, generate_proposals, min_part_points
from .shape import ShapeAnalysis, ShapeConfig

REPORTED_CANDIDATES = 8
# Points analysed per object. A trigger is ~1.5 cm across: at 2048 points over a drill (spacing
# ~6 mm) it is 20-30 points, which no crease or thickness test separates from the body; at 8192
# (~3 mm) it is a part. Denser clouds are thinned to this many by farthest-point sampling.
ANALYSIS_POINTS = 8192


@dataclass
class ObjectParts:
    """Everything the localizer derived from one object (cached across queries)."""

    shape: ShapeAnalysis
    proposals: list[Proposal]
    features: np.ndarray  # (P, F)
    names: list[str]  # per proposal, the family it looks most like
    name_scores: np.ndarray  # (P,) how much (0..1, relative to that family's best candidate)
    segment_ids: np.ndarray  # (N,) crease-bounded pre-segmentation (see `segmentation`)


def _vector(value) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.asarray(value, dtype=np.float64).reshape(3))


def _cloud_key(obj: PartObject, settings: tuple) -> str:
    h = hashlib.sha1(np.ascontiguousarray(obj.points).tobytes())
    if obj.normals is not None:
        h.update(np.ascontiguousarray(obj.normals).tobytes())
    h.update(repr(settings).encode())
    return h.hexdigest()


class GeometricLocalizer(PartLocalizer):
    """Finds handles, lids/caps, triggers, spouts, bodies, blades ... on unlabelled points.

    up: the object's up axis in the cloud's frame (default +z: standing on a table).
    viewpoint: the sensor position in the cloud's frame when clouds are single camera views
    (e.g. (0, 0, 0) for an optical-frame cloud); None for whole objects. A query's SceneView
    overrides both.
    cache_size: how many analysed objects to keep (querying several parts of one object
    analyses it once).
    analysis_points: clouds with more points are analysed on this many (farthest-point
    sampled) and the mask carried to every point by its nearest analysed neighbour. For a
    complete cloud, give it the densest one there is: small parts (triggers, caps) need ~3 mm
    spacing. One camera view localizes better at 2048 (README). 8192 points take ~2 s on one
    CPU core, 2048 ~0.4 s.
    models / view_models: fitted part-name models (fit.fit_models) for complete clouds and for
    single camera views; None loads the shipped part_models.MODELS / VIEW_MODELS.
    """

    name = "geometric"
    uses_dense_cloud = True

    def __init__(self, up=(0.0, 0.0, 1.0), cache_size: int = 4, models: dict | None = None,
                 shape_config: ShapeConfig | None = None, viewpoint=None,
                 analysis_points: int = ANALYSIS_POINTS, view_models: dict | None = None):  # fmt: skip
        self.config = replace(shape_config or ShapeConfig(), up=_vector(up),
                              viewpoint=None if viewpoint is None else _vector(viewpoint))  # fmt: skip
        self.models = PartModels(models)  # complete clouds
        # Single camera views (a viewpoint is known): models fitted on single views too. Given
        # `models` and no `view_models`, those serve both.
        self.view_models = PartModels(view_models, view=True) if view_models is not None or models is None \
            else self.models  # fmt: skip
        self.cache_size = int(cache_size)
        if int(analysis_points) < 16:
            raise ValueError(f"analysis_points must be at least 16, got {analysis_points}")
        self.analysis_points = int(analysis_points)
        self._cache: OrderedDict[str, ObjectParts] = OrderedDict()

    @property
    def known_parts(self) -> list[str]:
        """Part names this localizer can find (the modelled families and their synonyms)."""
        names = []
        for fam in self.models.families:
            names += list(PART_FAMILIES.get(fam, (fam,)))
        return names

    def analyse(self, obj: PartObject, view: SceneView | None = None) -> ObjectParts:
        """Shape, candidates and their features for an object. view.up (in the cloud's frame, e.g.
        from a camera pose) overrides the localizer's up axis; for a cloud from one camera view,
        view.viewpoint (the sensor's position in the cloud's frame, the origin of an optical-frame
        cloud) lets the unseen back be closed."""
        up, viewpoint = self._view(view)
        key = _cloud_key(obj, (up, viewpoint))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        shape = ShapeAnalysis(obj, replace(self.config, up=up, viewpoint=viewpoint))
        proposals = generate_proposals(shape)
        features = ProposalFeatures(shape).matrix(proposals)
        names, scores = self._models(viewpoint).best_family(features)
        parts = ObjectParts(shape, proposals, features, names, scores, segmentation(shape))
        self._cache[key] = parts
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return parts

    def _view(self, view: SceneView | None):
        """(up, viewpoint) for a query: its SceneView's, else the localizer's own."""
        up = self.config.up if view is None else _vector(view.up)
        viewpoint = self.config.viewpoint if view is None else view.viewpoint
        return up, None if viewpoint is None else _vector(viewpoint)

    def _models(self, viewpoint) -> PartModels:
        return self.models if viewpoint is None else self.view_models

    @staticmethod
    def _info(parts: ObjectParts, i: int, score: float, selected: bool) -> SegmentInfo:
        p = parts.proposals[i]
        return SegmentInfo(i, parts.names[i], p.size, score, p.kind, bool(selected))

    def localize(self, obj: PartObject, part_name: str, view: SceneView | None = None) -> LocalizationResult:
        check_query(obj, part_name)
        family = self.models.family_of(part_name)
        if family is None:
            raise PartNotFound(part_name, f"the geometric localizer does not know what a '{part_name}' looks like; "
                               f"it finds: {', '.join(self.known_parts)}", self.known_parts)  # fmt: skip
        analysed, carry = self._thinned(obj)
        parts = self.analyse(analysed, view)
        if not parts.proposals:
            raise PartNotFound(part_name, "the object could not be split into candidate parts (too few points?)")
        pref = self._models(self._view(view)[1]).preference(parts.features, family)
        order = np.argsort(-pref, kind="stable")
        chosen = parts.proposals[int(order[0])]
        segments = [self._info(parts, int(i), float(pref[i]), i == order[0]) for i in order[:REPORTED_CANDIDATES]]
        notes = f"chose a {chosen.kind} candidate of {chosen.size} points among {len(parts.proposals)}"
        if len(analysed) < len(obj):
            notes += f" (analysed {len(analysed)} of {len(obj)} points)"
        return LocalizationResult(chosen.mask[carry], self.name, float(pref[order[0]]), part_name, family, segments,
                                  parts.segment_ids[carry], notes=notes)  # fmt: skip

    def _thinned(self, obj: PartObject) -> tuple[PartObject, np.ndarray]:
        """The points to analyse, and for every input point the analysed point it takes its label from."""
        if len(obj) <= self.analysis_points:
            return obj, np.arange(len(obj))
        keep = np.sort(farthest_point_sampling(obj.points, self.analysis_points))
        _, carry = cKDTree(obj.points[keep]).query(obj.points)
        return obj.subset(keep), np.asarray(carry, dtype=np.int64)


def segmentation(shape: ShapeAnalysis) -> np.ndarray:
    """A partition of the points into crease-bounded segments (ids 0..S-1, largest first).

    The finest crease level over-segments rather than merges parts; fragments smaller than a
    candidate part join the neighbouring segment they touch most.
    """
    labels = concavity_partitions(shape)[0]
    smallest = min_part_points(shape.n)
    ids, counts = np.unique(labels, return_counts=True)
    small = set(ids[counts < smallest].tolist())
    if small and len(small) < len(ids):
        pairs = neighbour_pairs(shape.points, shape.link_radius)
        for part in sorted(small, key=lambda p: (np.sum(labels == p), p)):
            members = labels == part
            a, b = pairs[:, 0], pairs[:, 1]
            cross = np.concatenate([labels[b][members[a] & ~members[b]], labels[a][members[b] & ~members[a]]])
            if len(cross):
                values, votes = np.unique(cross, return_counts=True)
                labels[members] = values[np.argmax(votes)]
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    rank = np.empty(len(counts), dtype=np.int64)
    rank[np.lexsort((np.arange(len(counts)), -counts))] = np.arange(len(counts))
    return rank[inverse]
