"""Fit the part-name models of the geometric localizer on the procedural TRAINING categories.

    python -m gdexgrasp_ros.stage1.localization.fit [--seeds 8] [--views 3] [--check]

For every training object (procedural.TRAIN_CATEGORIES only: the unseen categories and real
shapes are what the localizer is evaluated on), complete at two densities and as --views single
camera views (objects.single_view: alone on a table, seeded random viewpoints, the sensor
position given, as a robot's camera delivers it), the candidate parts are generated as at run
time, and for each part family the cloud shows, every candidate's IoU with the true part is
known. A linear score per family is fitted so that a softmax over one object's candidates puts
its mass on the best ones (listwise: the decision made at run time is "which candidate").
The result is written to part_models.py next to this file (deterministic: same seeds, same file):
MODELS, fitted on the complete clouds, and VIEW_MODELS, fitted on the complete clouds and the
single views, for clouds from one camera.
--check refits and fails if the shipped file differs.
"""

from __future__ import annotations

import argparse
import pprint
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

from ...objects.part_object import PartObject
from ...objects.procedural import TRAIN_CATEGORIES, generate_object
from ...objects.single_view import single_view
from .features import MODEL_FEATURES, ProposalFeatures
from .names import normalize_name, part_family
from .naming import RULE_FAMILIES
from .proposals import generate_proposals
from .shape import ShapeAnalysis, ShapeConfig

MODEL_FILE = Path(__file__).with_name("part_models.py")
TARGET_TEMPERATURE = 0.05  # IoU difference that makes a candidate e times less wanted
L2 = 1.0  # per feature, on standardised features (chosen by leave-one-category-out on training)
MIN_OBJECTS = 3  # a family seen on fewer training samples (objects x densities) gets no model
# Cloud sizes every training object is sampled at: a 2048-point network input and the denser
# cloud the localizer analyses (GeometricLocalizer.analysis_points), so one model serves both.
DENSITIES = (2048, 8192)
VIEWS = 3  # single camera views per training object, at 2048 points (the server's localizer_points)
VIEW_POINTS = 2048
VIEW_SEED_OFFSET = 500  # camera seeds: object seed + offset + 1000 * view (the benchmark uses seed + 1000 * view)


def family_key(name: str) -> str:
    """The model key of a part name: its family, or the normalised name when it has none."""
    return part_family(name) or normalize_name(name)


@dataclass
class ObjectSample:
    """One training object's candidates: features (P, F) and IoU with each true part family."""

    category: str
    seed: int
    features: np.ndarray
    ious: dict[str, np.ndarray]
    points: int = 0  # the cloud's size
    view: bool = False  # a single camera view (else the complete object)


def proposal_ious(obj: PartObject, masks: np.ndarray) -> dict[str, np.ndarray]:
    """IoU of every candidate mask (P, N) with each part family's points."""
    out = {}
    for key in sorted({family_key(n) for n in obj.part_names}):
        ids = [i for i, n in enumerate(obj.part_names) if family_key(n) == key]
        truth = np.isin(obj.part_ids, ids)
        if not truth.any():
            continue
        inter = (masks & truth).sum(1)
        union = (masks | truth).sum(1)
        out[key] = inter / np.maximum(union, 1)
    return out


def sample_object(obj: PartObject, seed: int = 0, points: int | None = None,
                  config: ShapeConfig | None = None) -> ObjectSample:  # fmt: skip
    shape = ShapeAnalysis(obj, config)
    proposals = generate_proposals(shape)
    features = ProposalFeatures(shape).matrix(proposals)[:, : len(MODEL_FEATURES)]  # rule features are not fitted
    masks = np.stack([p.mask for p in proposals]) if proposals else np.zeros((0, len(obj)), bool)
    view = config is not None and config.viewpoint is not None
    return ObjectSample(obj.category, seed, features, proposal_ious(obj, masks), points or len(obj), view)


def view_sample(category: str, seed: int, view: int) -> ObjectSample:
    """One single camera view of a training object (views of a hidden part teach nothing of it)."""
    seen = single_view(generate_object(category, seed), seed + VIEW_SEED_OFFSET + 1000 * view, VIEW_POINTS)
    config = ShapeConfig(up=tuple(seen.up), viewpoint=tuple(seen.viewpoint))
    return sample_object(seen.obj, seed, VIEW_POINTS, config)


def training_samples(seeds: range, categories=None, densities=DENSITIES, views: int = VIEWS,
                     progress: bool = False) -> list[ObjectSample]:  # fmt: skip
    """Every training object at every density (clouds reach the localizer sparse or dense) and
    from `views` cameras."""
    categories = list(TRAIN_CATEGORIES) if categories is None else list(categories)
    unknown = [c for c in categories if c not in TRAIN_CATEGORIES]
    if unknown:
        raise ValueError(f"part models are fitted on training categories only; not training: {unknown}")
    jobs = [(c, s, n, None) for n in densities for c in categories for s in seeds]
    jobs += [(c, s, VIEW_POINTS, v) for v in range(views) for c in categories for s in seeds]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="training clouds", unit="cloud")
    return [sample_object(generate_object(c, s, n_points=n), s, n) if v is None else view_sample(c, s, v)
            for c, s, n, v in jobs]  # fmt: skip


def _listwise_loss(w: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]], l2: float):
    loss, grad = l2 * float(w @ w), 2 * l2 * w
    for x, target in groups:
        s = x @ w
        p = np.exp(s - logsumexp(s))
        loss -= float(target @ (s - logsumexp(s)))
        grad += x.T @ (p - target)
    return loss / len(groups), grad / len(groups)


def fit_family(samples: list[ObjectSample], key: str, mean: np.ndarray, std: np.ndarray, l2: float = L2):
    """Weights over standardised features for one family (None when too few objects have it)."""
    groups = []
    for s in samples:
        if key in s.ious and len(s.features):
            iou = s.ious[key]
            target = np.exp((iou - iou.max()) / TARGET_TEMPERATURE)
            groups.append(((s.features - mean) / std, target / target.sum()))
    if len(groups) < MIN_OBJECTS:
        return None
    w0 = np.zeros(len(MODEL_FEATURES))
    res = minimize(_listwise_loss, w0, args=(groups, l2), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x


def fit_models(samples: list[ObjectSample], l2: float = L2) -> dict:
    feats = np.concatenate([s.features for s in samples if len(s.features)])
    mean, std = feats.mean(0), feats.std(0)
    std = np.where(std > 1e-9, std, 1.0)
    mean[MODEL_FEATURES.index("bias")], std[MODEL_FEATURES.index("bias")] = 0.0, 1.0
    keys = sorted({k for s in samples for k in s.ious} - set(RULE_FAMILIES))
    weights = {}
    for key in keys:
        w = fit_family(samples, key, mean, std, l2)
        if w is not None:
            weights[key] = [round(float(v), 6) for v in w]
    objects = {k: sum(k in s.ious for s in samples) for k in keys}
    return {
        "features": list(MODEL_FEATURES),
        "mean": [round(float(v), 6) for v in mean],
        "std": [round(float(v), 6) for v in std],
        "weights": weights,
        "trained_on": {
            "categories": sorted({s.category for s in samples}),
            "seeds": sorted({s.seed for s in samples}),
            "points": sorted({s.points for s in samples}),
            "single_views": sum(s.view for s in samples),
            "objects_per_family": {k: objects[k] for k in weights},
        },
    }


def fit_model_sets(samples: list[ObjectSample], l2: float = L2) -> dict[str, dict]:
    """The two model sets the localizer ships: MODELS for complete clouds, fitted on the complete
    samples only, and VIEW_MODELS for single camera views, fitted on the complete and the view
    samples. (One set fitted on both lowered a real kettle's lid, complete at 8192 points, from
    0.69 to 0.14 IoU.)"""
    return {"MODELS": fit_models([s for s in samples if not s.view], l2), "VIEW_MODELS": fit_models(samples, l2)}


def render_module(model_sets: dict[str, dict]) -> str:
    lines = ['"""Part-name models of the geometric localizer (generated by fit.py; do not edit by hand).\n',
             "Fitted on the procedural TRAINING categories only; see each set's ['trained_on']. MODELS name",
             "the parts of complete clouds, VIEW_MODELS those of single camera views.", '"""\n', "# fmt: off"]  # fmt: skip
    for name in sorted(model_sets):
        lines.append(f"{name} = {pprint.pformat(model_sets[name], width=110, sort_dicts=True, compact=True)}")
    return "\n".join(lines + ["# fmt: on", ""])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="objects per training category")
    parser.add_argument("--views", type=int, default=VIEWS, help="single camera views per training object")
    parser.add_argument("--check", action="store_true", help="fail if the shipped models differ from a refit")
    args = parser.parse_args(argv)
    models = fit_model_sets(training_samples(range(args.seeds), views=args.views, progress=True))
    text = render_module(models)
    if args.check:
        same = MODEL_FILE.is_file() and MODEL_FILE.read_text() == text
        print("part models are up to date" if same else f"{MODEL_FILE} differs from a refit")
        return 0 if same else 1
    MODEL_FILE.write_text(text)
    print(f"wrote {MODEL_FILE} ({len(models['MODELS']['weights'])} part families)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
