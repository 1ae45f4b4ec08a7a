"""Prior-guided two-stage grasp optimization (G-DexGrasp stage 3), Adam through the hand.

Sub-stage A: extrinsics (wrist rotation, translation) only, prior terms only (L_contact,
L_cmap), lr 0.005, 700 iterations. Sub-stage B: all parameters, all terms, lr 0.001, 700
iterations. Then the closing finish (stage3.closing) closes the fingers on the object. A
one-stage mode (B only) and a no-prior mode (L_close replaces the prior terms) serve the
paper's ablations.

CPU efficiency: nearest-neighbour correspondences come from a KD-tree and are refreshed every
`refresh_every` iterations; distances are differentiable on the gathered pairs. Only the
hand's contact candidates plus a fixed subsample of other vertices are scored, and the hand's
signed distance is evaluated on the object points nearest to each hand (chosen at refresh).
On CUDA the same code uses brute-force nearest neighbours (see geometry.nearest).

Reverse penetration depends on the kind of cloud (ObjectContext's `complete`): a camera view's
back is unknown, so only vertices within 2 cm of a cloud point are judged; a complete,
outward-oriented cloud has an inside test (geometry.inside) that holds everywhere, and every
scored vertex is judged with it at each refresh. A camera view with a known sensor position
(ObjectContext's `view_volume`) adds L_back: vertices farther from the cloud, inside the extent
the view assumes behind its surface (geometry.visibility), pay their depth there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import ErrorCode, GraspError
from ..geometry.inside import inside_test_for
from ..geometry.nearest import NearestIndex
from ..geometry.normals import point_spacing
from ..geometry.visibility import ViewVolume
from ..hand.base import HandModel
from ..objects.part_object import PartObject
from ..stage1.prior import GraspPrior, prior_tensors
from . import losses as L
from .closing import ClosingConfig, close_on_object, cloud_distance


@dataclass
class LossWeights:
    contact: float = 50.0  # per metre of (C-weighted, vertex-averaged) distance
    cmap: float = 1.0
    fc: float = 0.2
    pen: float = 100.0  # per metre of summed object-point depth
    revpen: float = 100.0  # per metre of summed hand-vertex depth
    back: float = 100.0  # per metre of summed hand-vertex depth in a camera view's assumed back
    joint: float = 10.0
    spen: float = 100.0
    close: float = 1.0


OPTIMIZER_MODES = ("two_stage", "one_stage", "no_prior", "none")


@dataclass
class OptimizerConfig:
    iterations_a: int = 700
    iterations_b: int = 700
    lr_a: float = 0.005
    lr_b: float = 0.001
    mode: str = "two_stage"  # two_stage | one_stage | no_prior | none (score the initial poses only)
    c_pen: float = 0.001  # m, tolerated depth of object points inside the hand
    c_revpen: float = 0.001  # m, tolerated depth of hand vertices inside the object
    refresh_every: int = 8  # iterations between nearest-neighbour refreshes
    pen_points: int = 96  # object points per hand scored by L_pen (nearest to the hand)
    extra_vertices: int = 256  # non-candidate vertices also checked by L_revpen
    fc_contacts: int = 4  # contacts used by L_fc
    contact_threshold: float = 0.005  # m, a vertex within this of the object is in contact
    cancel_check_every: int = 10
    seed: int = 0
    weights: LossWeights = field(default_factory=LossWeights)
    # After the sub-stages, close the fingers on the object (stage3.closing); not in mode "none".
    closing: bool = True
    # Camera views with a known sensor: L_back on what the view assumes behind its surface.
    unseen_back: bool = True
    closing_settings: ClosingConfig = field(default_factory=ClosingConfig)

    def __post_init__(self):
        if self.mode not in OPTIMIZER_MODES:
            raise ValueError(f"unknown optimizer mode '{self.mode}'; expected one of {', '.join(OPTIMIZER_MODES)}")
        for name in ("iterations_a", "iterations_b", "refresh_every", "pen_points", "fc_contacts"):
            if getattr(self, name) < (0 if name.startswith("iterations") else 1):
                raise ValueError(f"optimizer {name} must be >= {0 if name.startswith('iterations') else 1}, "
                                 f"got {getattr(self, name)}")  # fmt: skip
        for name in ("lr_a", "lr_b"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"optimizer {name} must be > 0, got {getattr(self, name)}")


@dataclass
class OptimizationResult:
    rot6d: torch.Tensor  # (K, 6)
    trans: torch.Tensor  # (K, 3)
    joints: torch.Tensor  # (K, D)
    loss: torch.Tensor  # (K,) final total loss
    terms: dict[str, torch.Tensor]  # (K,) final value of each term
    history: list[dict[str, float]]  # per iteration: mean total loss and stage
    order: torch.Tensor  # candidate indices sorted best first


ProgressFn = Callable[[str, float, int, float], None]


class ObjectContext:
    """Per-object structures built once: tensors, nearest-neighbour indices, part selection.

    complete: the cloud is complete with outward normals (a mesh sample, fused views), so the
    inside test (geometry.inside) holds everywhere; False for a camera view.
    view_volume: for a camera view, what it assumes behind its surface (L_back); ignored when
    complete.
    """

    def __init__(self, obj: PartObject, part_mask: np.ndarray, device, dtype=torch.float32, complete: bool = False,
                 view_volume: ViewVolume | None = None):  # fmt: skip
        if obj.normals is None:
            raise GraspError(ErrorCode.INTERNAL_ERROR, "stage 3 needs object normals")
        mask = np.asarray(part_mask, dtype=bool)
        if not mask.any():
            raise GraspError(ErrorCode.PART_NOT_FOUND, "the contact part has no points")
        t = lambda x: torch.as_tensor(np.asarray(x), dtype=dtype, device=device)  # noqa: E731
        self.points, self.normals = t(obj.points), t(obj.normals)
        self.part_points = self.points[torch.as_tensor(mask, device=device)]
        self.part_normals = self.normals[torch.as_tensor(mask, device=device)]
        self.center = self.points.mean(0)
        # L_pen's points are picked at each refresh among these (every other point: the hand's
        # signed distance over the whole cloud is the refresh's largest cost).
        self.pen_candidates = torch.arange(0, len(self.points), 2, device=device)
        self.index = NearestIndex(self.points)
        self.part_index = NearestIndex(self.part_points)
        self.complete = bool(complete)
        self.inside = inside_test_for(obj.points, obj.normals) if self.complete else None
        self.view_volume = None if self.complete else view_volume
        if self.view_volume is not None:
            self.sensor = t(self.view_volume.sensor)
            self.optical = t(self.view_volume.axes[2])
        self._spacing: float | None = None

    @property
    def spacing(self) -> float:
        """m between neighbouring points (the closing finish's contact scale), measured on first use."""
        if self._spacing is None:
            self._spacing = point_spacing(self.points.detach().cpu().numpy())
        return self._spacing


class PriorGuidedOptimizer:
    def __init__(self, hand: HandModel, config: OptimizerConfig | None = None):
        self.hand = hand
        self.cfg = config or OptimizerConfig()
        device = self.device = hand.device
        n_vert = hand.num_vertices
        g = torch.Generator().manual_seed(self.cfg.seed)
        cand = hand.contact_candidates.cpu()
        others = torch.tensor(sorted(set(range(n_vert)) - set(cand.tolist())), dtype=torch.long)
        extra = others[torch.randperm(len(others), generator=g)[: self.cfg.extra_vertices]]
        self.scored = torch.cat([cand, extra]).to(device)  # vertices the losses look at
        self.n_cand = len(cand)
        self.n_vertices = n_vert
        self.tips = _fingertip_candidates(hand).to(device)

    def run(self, obj: ObjectContext, prior: GraspPrior, rot6d: torch.Tensor, trans: torch.Tensor,
            joints: torch.Tensor | None = None, progress: ProgressFn | None = None,
            should_cancel: Callable[[], bool] | None = None) -> OptimizationResult:  # fmt: skip
        """Optimise K candidates from the given initial wrist poses (joints default to the prior's)."""
        torch.manual_seed(self.cfg.seed)
        q0, c_prior, s_prior = prior_tensors(prior, self.device)
        K = rot6d.shape[0]
        r = rot6d.detach().clone().to(self.device).requires_grad_(True)
        t = trans.detach().clone().to(self.device).requires_grad_(True)
        q = (q0.expand(K, -1) if joints is None else joints).detach().clone().to(self.device).requires_grad_(True)
        c_s, s_s = c_prior[self.scored], s_prior[self.scored]
        history: list[dict[str, float]] = []
        stages = self._stages()
        total_iters = sum(n for _, n, _, _ in stages)
        done = 0
        terms: dict[str, torch.Tensor] = {}
        for name, iters, lr, params in stages:
            opt = torch.optim.Adam([{"r": r, "t": t, "q": q}[p] for p in params], lr=lr)
            cache: dict = {}
            for it in range(iters):
                if should_cancel is not None and it % self.cfg.cancel_check_every == 0 and should_cancel():
                    raise GraspError(ErrorCode.CANCELED, f"canceled during optimization ({name}, iteration {it})")
                out = self.hand.forward(r, t, q, self.scored)
                if it % self.cfg.refresh_every == 0:
                    cache = self._refresh(obj, out, full=(name != "A"))
                terms = self._terms(obj, out, q, c_s, s_s, cache, full=(name != "A"))
                total = self._total(terms)
                opt.zero_grad(set_to_none=True)
                total.sum().backward()
                opt.step()
                done += 1
                history.append({"stage": name, "loss": float(total.detach().mean())})
                if progress is not None and (it % self.cfg.cancel_check_every == 0 or it == iters - 1):
                    progress(name, done / total_iters, K, float(total.detach().min()))
        if self.cfg.closing and stages:
            whole = cloud_distance(obj.points, obj.normals, obj.spacing, obj.index)
            part = cloud_distance(obj.part_points, obj.part_normals, obj.spacing, obj.part_index)
            q = close_on_object(self.hand, r.detach(), t.detach(), q.detach(), whole, self.cfg.closing_settings, part)
        with torch.no_grad():
            out = self.hand.forward(r, t, q, self.scored)
            cache = self._refresh(obj, out)
            terms = {k: v.detach() for k, v in self._terms(obj, out, q, c_s, s_s, cache, full=True).items()}
            final = self._total(terms)
        return OptimizationResult(r.detach(), t.detach(), q.detach(), final, terms, history, torch.argsort(final))

    # -- internals -----------------------------------------------------------------------------
    def _stages(self):
        c = self.cfg
        if c.mode == "none":
            return []
        if c.mode == "two_stage":
            return [("A", c.iterations_a, c.lr_a, ("r", "t")), ("B", c.iterations_b, c.lr_b, ("r", "t", "q"))]
        return [
            ("B", c.iterations_a + c.iterations_b if c.mode == "no_prior" else c.iterations_b, c.lr_b, ("r", "t", "q"))
        ]

    def _refresh(self, obj: ObjectContext, out, full: bool = True) -> dict:
        """Correspondences for the next iterations (no gradient); with `full`, L_revpen's inside flags too."""
        with torch.no_grad():
            v = out.vertices
            inside = None
            if full and obj.inside is not None:  # the inside test's nearest points are the correspondences too
                flags, _, nearest = obj.inside.classify(v)
                obj_idx = torch.as_tensor(nearest, dtype=torch.long, device=v.device).reshape(v.shape[:-1])
                inside = torch.as_tensor(flags, device=v.device).reshape(v.shape[:-1])
            else:
                obj_idx = obj.index.indices(v)
            part_idx = obj.part_index.indices(v[:, : self.n_cand])
            cand = obj.points[obj.pen_candidates]
            sd = self.hand.signed_distance(out, cand.expand(v.shape[0], -1, -1))
            pen_idx = obj.pen_candidates[torch.topk(sd, k=min(self.cfg.pen_points, sd.shape[1]), largest=False).indices]
        return {"obj": obj_idx, "part": part_idx, "pen": pen_idx, "inside": inside, "back": self._back(obj, v, full)}

    @staticmethod
    def _back(obj: ObjectContext, v: torch.Tensor, full: bool):
        """Per vertex, the front depth and assumed extent behind it at its pixel (L_back), or None."""
        if not full or obj.view_volume is None:
            return None
        front, behind = obj.view_volume.surface_at(v.detach().reshape(-1, 3).cpu().numpy())
        front = np.where(np.isfinite(front), front, -1.0)  # off the silhouette: nothing behind (depth < 0)
        as_t = lambda x: torch.as_tensor(x, dtype=v.dtype, device=v.device).reshape(v.shape[:-1])  # noqa: E731
        return as_t(front), as_t(behind)

    def _terms(self, obj: ObjectContext, out, q, c_s, s_s, cache, full: bool) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        v = out.vertices  # the scored vertices only
        d_obj, _ = obj.index.nearest(v, cache["obj"])
        terms = {}
        if cfg.mode != "no_prior":
            d_part, _ = obj.part_index.nearest(v[:, : self.n_cand], cache["part"])
            terms["contact"] = L.contact_loss(d_part, c_s[: self.n_cand], self.n_vertices)
            terms["cmap"] = L.contact_map_loss(d_obj, c_s, s_s, self.n_vertices)
        else:
            terms["close"] = L.closeness_loss(d_obj[:, self.tips])
        if not full:
            return terms
        pen_pts = obj.points[cache["pen"]]
        terms["pen"] = L.penetration_loss(self.hand.signed_distance(out, pen_pts), cfg.c_pen)
        near_p, near_n = obj.points[cache["obj"]], obj.normals[cache["obj"]]
        if cache["inside"] is not None:  # complete cloud: every scored vertex judged
            terms["revpen"] = L.inside_penetration_loss(v, near_p, near_n, cache["inside"], cfg.c_revpen)
        else:
            terms["revpen"] = L.reverse_penetration_loss(v, near_p, near_n, cfg.c_revpen)
        if cache.get("back") is not None:
            front, behind = cache["back"]
            z = (v - obj.sensor) @ obj.optical
            terms["back"] = L.unseen_back_loss(z, front, behind, d_obj >= L.REVPEN_RADIUS_M, cfg.c_revpen)
        terms["fc"] = self._fc(v[:, : self.n_cand], d_obj[:, : self.n_cand], near_n, obj.center)
        terms["joint"] = L.joint_limit_loss(q, self.hand.joint_limits)
        terms["spen"] = self.hand.self_penetration(out)
        return terms

    def _fc(self, v, d, near_n, center):
        """Contacts: the fc_contacts candidate vertices nearest the object, pushing along -normal."""
        idx = torch.topk(d, k=self.cfg.fc_contacts, largest=False).indices
        pts = torch.gather(v, 1, idx[..., None].expand(-1, -1, 3))
        normals = -torch.gather(near_n[:, : v.shape[1]], 1, idx[..., None].expand(-1, -1, 3))
        return L.force_closure_loss(pts, normals, center)

    def _total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        w = self.cfg.weights
        return sum(getattr(w, k) * v for k, v in terms.items())


def _fingertip_candidates(hand: HandModel) -> torch.Tensor:
    """Positions within the scored set (candidates come first) of pad vertices on distal links."""
    tips = torch.nonzero(hand.distal_vertices.cpu()[hand.contact_candidates.cpu()])[:, 0]
    return tips if len(tips) else torch.arange(len(hand.contact_candidates))
