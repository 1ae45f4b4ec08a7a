"""Synthesis of the part-aware grasp dataset the prior database is clustered from (issue: prior database).

The AffordPose grasps the paper clusters cannot be downloaded here, so the dataset is made the way
a careful lab would: from part-labelled training objects (objects.procedural.TRAIN_CATEGORIES
only; never the unseen categories or real benchmark shapes) and grasps our own optimizer makes,
kept only when our own metrics on the object's mesh pass documented filters (SynthesisFilters).

One job = one training object (category, seed). For each (part, affordance) pair the affordance
table allows, K initial hands face points spread over the part (stage 2's part-facing placement),
start from the affordance's canonical posture with seeded joint noise (variation within the
posture family), and are optimized by stage 3 with the canonical contact map on the part (pads of
the digits the affordance uses) and the physical terms, then closed on the part. No database prior
is used: the dataset must not depend on what it builds. Every candidate is judged on the mesh; a
kept grasp becomes a GraspRecord (pose in the object and the part's OBB frame, its contact map
from the hand's distance to the mesh samples, the metrics). Deterministic for a job's seed.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

from ..geometry.nearest import NearestIndex
from ..geometry.rotations import rot6d_to_matrix
from ..hand.base import HandModel
from ..hand.contact_map import contact_map
from ..metrics import contact as M
from ..metrics.simulation import simulation_displacement
from ..objects.affordances import AFFORDANCE_TABLE
from ..objects.procedural import TRAIN_CATEGORIES, generate_object
from ..stage2.generation import GenerationInput, make_generator
from ..stage3.optimizer import ObjectContext, OptimizerConfig, PriorGuidedOptimizer
from .grasp_dataset import GraspRecord, record_from_pose
from .prior import posture_prior


@dataclass(frozen=True)
class SynthesisFilters:
    """What a synthesized grasp must pass to enter the dataset (each measured on the object's mesh).

    The simulation check is off by default (inf). Why: the benchmark's simulation holds the hand
    static as a triangle surface, so it rewards caging and support, not squeeze. Measured on
    training jars: flexing every closing joint a further 0.2 rad (1.5-2.4 cm deep into the jar)
    left wraps and cap twists falling as far as before (3-5 m in 1 s). A twist on a cap or a
    pinch cannot cage a 1 kg object, so that check kept 8 % of grasps and almost no twists or
    trigger squeezes. AffordPose, the dataset the paper clusters, is not simulation-filtered
    either. `--simulate` in build_priors restores the check (max_displacement 0.02 m).
    """

    max_penetration: float = 0.005  # m, deepest hand vertex inside the mesh
    max_volume: float = 5e-6  # m^3, solid intersection volume (0.5 cm voxels)
    min_part_ratio: float = 0.6  # share of the hand's contacts on the part
    min_contacts: int = 20  # hand vertices within 5 mm of the object: a grasp, not a graze
    max_displacement: float = math.inf  # m after 1 s of gravity along -z (pybullet), the last and dearest check


@dataclass(frozen=True)
class SynthesisSettings:
    candidates: int = 8  # hands optimized per (part, affordance)
    # An affordance few training parts afford (trigger-squeeze: a spray trigger and a pump) gets more
    # candidates per pair, up to 4x: candidates * (mean pairs per affordance / its pairs).
    balance: bool = True
    iterations: tuple[int, int] = (300, 300)  # the pipeline's 700 + 700 kept no more grasps per second
    joint_noise: float = 0.15  # rad, s.d. of the seeded variation of the canonical posture
    points: int = 2048  # mesh samples the optimizer sees (a complete, outward-oriented cloud)
    filters: SynthesisFilters = field(default_factory=SynthesisFilters)


@dataclass
class JobReport:
    """What one object's job tried and kept, per (part, affordance): for the pass rates in the build log."""

    object_id: str
    tried: dict[str, int] = field(default_factory=dict)
    failed: dict[str, dict[str, int]] = field(default_factory=dict)  # pair -> filter -> count
    kept: dict[str, int] = field(default_factory=dict)


def synthesize_object(hand: HandModel, category: str, seed: int,
                      settings: SynthesisSettings | None = None) -> tuple[list[GraspRecord], JobReport]:  # fmt: skip
    """The filtered grasps of one training object, over every (part, affordance) its table row allows."""
    if category not in TRAIN_CATEGORIES:
        raise ValueError(f"dataset synthesis uses training categories only; '{category}' is not one "
                         f"({', '.join(TRAIN_CATEGORIES)})")  # fmt: skip
    cfg = settings or SynthesisSettings()
    obj = generate_object(category, seed, cfg.points)
    report = JobReport(obj.provenance)
    records: list[GraspRecord] = []
    index = NearestIndex(torch.as_tensor(obj.points, dtype=torch.float32))  # for the contact maps, built once
    for part, affordances in AFFORDANCE_TABLE[category].items():
        mask = obj.part_mask(part)
        for aff_index, affordance in enumerate(affordances):
            pair = f"{part}/{affordance}"
            job_seed = seed * 1000 + 10 * list(AFFORDANCE_TABLE[category]).index(part) + aff_index
            hands = _optimize(hand, obj, mask, affordance, part, job_seed, cfg)
            report.tried[pair] = len(hands)
            for rotation, translation, joints, vertices, sdf in hands:
                reason, metrics = _judge(hand, obj, mask, vertices, sdf, cfg.filters)
                if reason:
                    failed = report.failed.setdefault(pair, {})
                    failed[reason] = failed.get(reason, 0) + 1
                    continue
                records.append(record_from_pose(affordance, category, obj.provenance, seed, part, obj.points[mask],
                                                joints, rotation, translation, vertex_contact(vertices, index),
                                                metrics))  # fmt: skip
                report.kept[pair] = report.kept.get(pair, 0) + 1
    return records, report


def candidates_for(affordance: str, cfg: SynthesisSettings) -> int:
    """Hands optimized per (part, affordance) pair (SynthesisSettings.balance)."""
    if not cfg.balance:
        return cfg.candidates
    pairs = Counter(a for c in TRAIN_CATEGORIES for affs in AFFORDANCE_TABLE[c].values() for a in affs)
    boost = min(4.0, max(1.0, np.mean(list(pairs.values())) / pairs[affordance]))
    return int(round(cfg.candidates * boost))


def _optimize(hand, obj, mask, affordance, part, seed, cfg: SynthesisSettings):
    """(R, t, joints, vertices, hand SDF maker) of each optimized candidate for one (part, affordance)."""
    prior = posture_prior(hand, affordance, part)
    rng = np.random.default_rng(seed)
    count = candidates_for(affordance, cfg)
    query = GenerationInput(obj.points, obj.normals, mask, count, hand, seed, complete=True,
                            joints=prior.joints)  # fmt: skip
    poses = make_generator("part_facing").generate(query)
    q0 = prior.joints + rng.normal(0.0, cfg.joint_noise, (count, len(prior.joints)))
    limits = hand.joint_limits.cpu().numpy()
    q0 = torch.as_tensor(np.clip(q0, limits[:, 0], limits[:, 1]), dtype=torch.float32, device=hand.device)
    a, b = cfg.iterations
    context = ObjectContext(obj, mask, hand.device, complete=True)
    opt = PriorGuidedOptimizer(hand, OptimizerConfig(iterations_a=a, iterations_b=b, seed=seed)).run(
        context, prior, poses.rot6d.to(hand.device), poses.trans.to(hand.device), joints=q0
    )
    with torch.no_grad():
        out = hand.forward(opt.rot6d, opt.trans, opt.joints)
    R = rot6d_to_matrix(opt.rot6d).cpu().numpy()

    def sdf_of(k):  # the posed hand's signed distance, built only for grasps that reach the volume check
        return lambda: hand.sdf_function(
            hand.forward(opt.rot6d[k : k + 1], opt.trans[k : k + 1], opt.joints[k : k + 1])
        )

    return [(R[k], opt.trans[k].cpu().numpy(), opt.joints[k].cpu().numpy(), out.vertices[k].cpu().numpy(), sdf_of(k))
            for k in range(opt.rot6d.shape[0])]  # fmt: skip


def _judge(hand, obj, mask, vertices, sdf, f: SynthesisFilters) -> tuple[str, dict[str, float]]:
    """(the first filter the grasp fails, '' when it passes all; the metrics measured on the way).
    Cheap checks first, the simulation last."""
    m = {"penetration_m": M.penetration_depth(vertices, obj.mesh)}
    if m["penetration_m"] > f.max_penetration:
        return "penetration", m
    m["contacts"] = float(M.contact_count(vertices, obj.points))
    if m["contacts"] < f.min_contacts:
        return "contacts", m
    m["part_ratio"] = M.part_contact_ratio(vertices, obj.points, mask)
    if m["part_ratio"] < f.min_part_ratio:
        return "part", m
    m["volume_m3"] = M.intersection_volume(obj.mesh, sdf())
    if m["volume_m3"] > f.max_volume:
        return "volume", m
    if np.isfinite(f.max_displacement):
        m["simulation_m"] = simulation_displacement(vertices, hand.faces.cpu().numpy(), obj.mesh)
        if m["simulation_m"] > f.max_displacement:
            return "simulation", m
    return "", m


def vertex_contact(vertices: np.ndarray, index: NearestIndex) -> np.ndarray:
    """(V,) GraspTTA contact value of each hand vertex against the object's samples."""
    with torch.no_grad():
        return contact_map(torch.as_tensor(vertices, dtype=torch.float32)[None], index)[0].double().numpy()
