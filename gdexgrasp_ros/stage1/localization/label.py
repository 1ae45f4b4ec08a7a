"""Part localization from labels carried by the cloud (PartObject.part_ids + part_names)."""

from __future__ import annotations

import numpy as np

from ...objects.part_object import UNLABELLED, PartObject
from .base import LocalizationResult, PartLocalizer, PartNotFound, SceneView, SegmentInfo, check_query
from .names import match_part_names


def _label_summary(obj: PartObject) -> list[str]:
    """'name (count)' for every part that has points, for error messages."""
    counts = np.bincount(obj.part_ids[obj.part_ids >= 0], minlength=len(obj.part_names))
    return [f"{n} ({c} points)" for n, c in zip(obj.part_names, counts, strict=True) if c > 0]


class LabelLocalizer(PartLocalizer):
    """The part is the points whose label matches the name (exact, then synonym, then region)."""

    name = "labels"

    def localize(self, obj: PartObject, part_name: str, view: SceneView | None = None) -> LocalizationResult:
        check_query(obj, part_name)
        if not np.any(obj.part_ids != UNLABELLED):
            raise PartNotFound(part_name, "the cloud carries no part labels (every point is unlabelled)")
        present = [n for i, n in enumerate(obj.part_names) if np.any(obj.part_ids == i)]
        indices, how = match_part_names(part_name, obj.part_names)
        indices = [i for i in indices if np.any(obj.part_ids == i)]
        if not indices:
            raise PartNotFound(
                part_name,
                f"no part of the {obj.category or 'object'} is called '{part_name}' or a synonym of it; "
                f"labelled parts: {', '.join(_label_summary(obj))}",
                present,
            )
        mask = np.isin(obj.part_ids, indices)
        segments = [
            SegmentInfo(i, n, int(np.sum(obj.part_ids == i)), float(i in indices), "label", i in indices)
            for i, n in enumerate(obj.part_names)
            if np.any(obj.part_ids == i)
        ]
        matched = "+".join(obj.part_names[i] for i in indices)
        notes = "" if how == "exact" else f"'{part_name}' matched label '{matched}' as a {how}"
        # An affordance region is what the part is used for, not the part itself: less certain.
        confidence = {"exact": 1.0, "synonym": 0.95}.get(how, 0.7)
        return LocalizationResult(mask, self.name, confidence, part_name, matched, segments,
                                  obj.part_ids.copy(), notes=notes)  # fmt: skip
