"""Contact-part localization (G-DexGrasp stage 1): find the named part on the object's points.

    from gdexgrasp_ros.stage1.localization import make_localizer
    result = make_localizer("geometric").localize(obj, "handle")   # result.mask: (N,) bool

Backends (one interface, PartLocalizer.localize(obj, part_name) -> LocalizationResult):
- "labels": part labels carried by the cloud (obj.part_ids + obj.part_names), with synonyms.
- "geometric": the offline default for unlabelled clouds (candidate parts from thickness,
  creases and the body's top, named by models fitted on the procedural training categories).
- "detector": an open-vocabulary detector (local transformers weights) on rendered views,
  boxes back-projected with the depth render and voted over the geometric pre-segmentation;
  falls back to the geometric localizer when the detector fails or finds nothing.
"""

from __future__ import annotations

from .base import DenseCloud, LocalizationResult, PartLocalizer, PartNotFound, SceneView, SegmentInfo
from .geometric import GeometricLocalizer
from .label import LabelLocalizer
from .names import PART_FAMILIES, match_part_names, normalize_name, part_family

BACKENDS = ("labels", "geometric", "detector")
_ALIASES = {"label": "labels", "labelled": "labels", "geometry": "geometric", "offline": "geometric",
            "detection": "detector", "owlvit": "detector", "grounding-dino": "detector"}  # fmt: skip


def canonical_name(name: str) -> str:
    """The backend a localizer name or alias refers to ("labels", "geometric", "detector", or the name)."""
    return _ALIASES.get(str(name).strip().lower(), str(name).strip().lower())


def make_localizer(name: str = "geometric", **options) -> PartLocalizer:
    """A localizer by backend name ("labels", "geometric", "detector"); options go to its constructor.

    geometric: up=(0, 0, 1), cache_size=4, analysis_points=8192. detector: model_path (or env GDEXGRASP_DETECTOR_PATH),
    views, image_size, box_threshold, device, fallback=True, plus the geometric options.
    """
    key = canonical_name(name)
    if key == "labels":
        if options:
            raise TypeError(f"the labels localizer takes no options, got {sorted(options)}")
        return LabelLocalizer()
    if key == "geometric":
        return GeometricLocalizer(**options)
    if key == "detector":
        from .detector import DetectorLocalizer

        return DetectorLocalizer(**options)
    raise ValueError(f"unknown localizer '{name}'; choose one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "PART_FAMILIES",
    "DenseCloud",
    "GeometricLocalizer",
    "LabelLocalizer",
    "LocalizationResult",
    "PartLocalizer",
    "PartNotFound",
    "SceneView",
    "SegmentInfo",
    "canonical_name",
    "make_localizer",
    "match_part_names",
    "normalize_name",
    "part_family",
]
