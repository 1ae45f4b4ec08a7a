"""The paper's open-vocabulary route: detect the part on rendered views, back-project, vote over segments.

G-DexGrasp finds the contact part with GLIP boxes on a rendered image, back-projected with a
depth render and voted over a pre-segmentation. Here:
1. render_views (stage1/render_views.py) draws the object from several viewpoints, with the
   point each pixel shows;
2. a zero-shot object detector from local transformers weights (OWL-ViT, OWLv2, Grounding
   DINO ...; given by path, never downloaded) boxes the part's name on each image;
3. every visible point inside a box collects the box's score; a point's vote is its score sum
   over the views that see it;
4. the geometric localizer's candidate parts (its proposals and its crease-bounded
   pre-segmentation) are voted on: the one that best explains the votes (soft IoU) is the part.
A detector that cannot load or run, or finds nothing, hands over to the geometric localizer,
and the result says so (fallback=True).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ...objects.part_object import PartObject
from ..render_views import DEFAULT_VIEWPOINTS, RenderedView, render_views
from .base import LocalizationResult, PartLocalizer, PartNotFound, SceneView, SegmentInfo, check_query
from .geometric import GeometricLocalizer

DETECTOR_PATH_ENV = "GDEXGRASP_DETECTOR_PATH"


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels of the view's image
    score: float  # 0..1
    label: str = ""


# A detector: (RGB image (H, W, 3) uint8, phrases naming the part) -> detections of those phrases.
Detector = Callable[[np.ndarray, Sequence[str]], list[Detection]]


def point_votes(views: Sequence[RenderedView], detections: Sequence[Sequence[Detection]], n_points: int):
    """Per point: (score summed over the views whose boxes cover it, number of views that see it).

    Within one view a point takes its best covering box (overlapping boxes do not add up).
    """
    if len(views) != len(detections):
        raise ValueError(f"{len(detections)} detection lists for {len(views)} views")
    votes = np.zeros(n_points)
    seen = np.zeros(n_points)
    for view, boxes in zip(views, detections, strict=True):
        best = np.zeros(n_points)
        for det in boxes:
            ids = view.points_in_box(det.box)
            best[ids] = np.maximum(best[ids], float(det.score))
        votes += best * view.visible
        seen += view.visible
    return votes, seen


def vote_rate(votes: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Per point, the mean box score over the views that see it (0 for points never seen)."""
    return np.divide(votes, seen, out=np.zeros_like(votes, dtype=np.float64), where=seen > 0)


def vote_candidates(candidates: Sequence[np.ndarray], rate: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """How well each candidate part (a point mask) explains the votes: the soft IoU between the
    candidate and the vote rate, over the points some view sees. A box covers background and
    neighbouring surface too; whole segments are what it is voting for."""
    considered = seen > 0
    total = float(rate[considered].sum())
    out = np.zeros(len(candidates))
    for i, mask in enumerate(candidates):
        inside = mask & considered
        hit = float(rate[inside].sum())
        out[i] = hit / max(float(inside.sum()) + total - hit, 1e-12)
    return out


def part_phrases(part_name: str, category: str = "") -> list[str]:
    """What the detector is asked for: the part of this kind of object, and the part alone."""
    part = " ".join(part_name.replace("_", " ").split())
    return [f"the {part} of a {category}", part] if category else [f"the {part} of an object", part]


class TransformersDetector:
    """A zero-shot object detector from local transformers weights (nothing is downloaded)."""

    def __init__(self, model_path: str, device: str = "cpu", threshold: float = 0.1):
        if not model_path or not os.path.isdir(model_path):
            raise FileNotFoundError(f"detector weights not found: '{model_path}' (set {DETECTOR_PATH_ENV})")
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        self.processor = AutoProcessor.from_pretrained(model_path, local_files_only=True)
        self.model = AutoModelForZeroShotObjectDetection.from_pretrained(model_path, local_files_only=True)
        self.model.to(device).eval()
        self.device = device
        self.threshold = float(threshold)
        # Grounding DINO reads one caption of dot-separated phrases; OWL-ViT a list of queries.
        self.caption_style = "grounding" in type(self.model).__name__.lower()

    def __call__(self, image: np.ndarray, phrases: Sequence[str]) -> list[Detection]:
        import torch
        from PIL import Image

        pil = Image.fromarray(np.asarray(image, dtype=np.uint8))
        text = ". ".join(p.lower() for p in phrases) + "." if self.caption_style else [list(phrases)]
        inputs = self.processor(images=pil, text=text, return_tensors="pt").to(self.device)
        with torch.no_grad():
            outputs = self.model(**inputs)
        kwargs = {"threshold": self.threshold, "target_sizes": [pil.size[::-1]]}
        if self.caption_style:
            kwargs["input_ids"] = inputs["input_ids"]
        result = self.processor.post_process_grounded_object_detection(outputs, **kwargs)[0]
        labels = result.get("text_labels", result["labels"])
        return [
            Detection(tuple(float(v) for v in box.tolist()), float(score), str(label))
            for box, score, label in zip(result["boxes"], result["scores"], labels, strict=False)
        ]


class DetectorLocalizer(PartLocalizer):
    """Render, detect the part's name, back-project and vote over the geometric pre-segmentation.

    model_path: a local zero-shot detection model folder (default: env GDEXGRASP_DETECTOR_PATH);
    detector: any callable (image, phrases) -> [Detection] instead of a transformers model;
    viewpoints: (elevation, azimuth) degrees; image_size: pixels; box_threshold: detector score
    threshold; fallback: hand over to the geometric localizer when detection fails (else raise);
    geometric options (up, cache_size) configure the pre-segmentation and the fallback.
    """

    name = "detector"

    def __init__(self, model_path: str | None = None, detector: Detector | None = None,
                 viewpoints=DEFAULT_VIEWPOINTS, image_size: int = 448, box_threshold: float = 0.1,
                 device: str = "cpu", fallback: bool = True, **geometric_options):  # fmt: skip
        self.model_path = model_path or os.environ.get(DETECTOR_PATH_ENV, "")
        self.viewpoints = tuple((float(e), float(a)) for e, a in viewpoints)
        if not self.viewpoints:
            raise ValueError("the detector localizer needs at least one viewpoint")
        self.image_size = int(image_size)
        self.box_threshold = float(box_threshold)
        self.device = device
        self.fallback = bool(fallback)
        self.geometric = GeometricLocalizer(**geometric_options)
        self._detector = detector
        self._load_error: str | None = None

    def _get_detector(self) -> Detector | None:
        if self._detector is None and self._load_error is None:
            try:
                self._detector = TransformersDetector(self.model_path, self.device, self.box_threshold)
            except Exception as err:  # noqa: BLE001 - any loading failure means: no detector
                self._load_error = f"{type(err).__name__}: {err}"
        return self._detector

    def localize(self, obj: PartObject, part_name: str, view: SceneView | None = None) -> LocalizationResult:
        check_query(obj, part_name)
        detector = self._get_detector()
        if detector is None:
            return self._fall_back(obj, part_name, view, f"no detector ({self._load_error})")
        views = render_views(obj, self.viewpoints, self.image_size)
        phrases = part_phrases(part_name, obj.category)
        try:
            detections = [detector(v.rgb, phrases) for v in views]
        except Exception as err:  # noqa: BLE001 - a failing model must not fail the goal
            return self._fall_back(obj, part_name, view, f"the detector failed: {type(err).__name__}: {err}")
        detections = [[d for d in dets if d.score >= self.box_threshold] for dets in detections]
        if not any(detections):
            return self._fall_back(obj, part_name, view, f"the detector found no '{phrases[-1]}' in {len(views)} views")
        parts = self.geometric.analyse(obj, view)
        votes, seen = point_votes(views, detections, len(obj))
        rate = vote_rate(votes, seen)
        # Candidates: the geometric proposals and the crease-bounded pre-segmentation's segments.
        segments = [parts.segment_ids == s for s in range(int(parts.segment_ids.max()) + 1)]
        candidates = [p.mask for p in parts.proposals] + segments
        kinds = [p.kind for p in parts.proposals] + ["segment"] * len(segments)
        fit = vote_candidates(candidates, rate, seen)
        if fit.max() <= 0:
            return self._fall_back(obj, part_name, view, "no candidate part collected votes")
        order = np.argsort(-fit, kind="stable")
        best = int(order[0])
        infos = [SegmentInfo(int(i), phrases[-1] if i == best else "", int(candidates[i].sum()), float(fit[i]),
                             kinds[i], bool(i == best)) for i in order[:8]]  # fmt: skip
        boxes = sum(len(d) for d in detections)
        return LocalizationResult(candidates[best].copy(), self.name, float(fit[best]), part_name, phrases[-1], infos,
                                  parts.segment_ids.copy(), notes=f"{boxes} boxes over {len(views)} views")  # fmt: skip

    def _fall_back(self, obj: PartObject, part_name: str, view: SceneView | None, reason: str) -> LocalizationResult:
        if not self.fallback:
            raise PartNotFound(part_name, f"detector localization failed: {reason}")
        result = self.geometric.localize(obj, part_name, view)
        result.backend = f"{self.geometric.name} (fallback from {self.name})"
        result.fallback = True
        result.notes = f"{reason}; {result.notes}"
        return result
