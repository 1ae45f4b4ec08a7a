"""Stage 2, wrist-pose generation: K initial hand placements for stage 3 to refine.

Generators share one interface, chosen by name in the synthesizer configuration:
- "part_facing": the palm over points spread evenly over the contact part, facing it along
  the surface normal (random roll). Today's initialisation of the full method, standing in
  for the part-aware CVAE until its weights exist.
- "part_random": the paper's "part random init" ablation: random part points, approach
  directions tilted up to 60 degrees from the normal, random roll and standoff.
- "object_around": around the whole object, no part (the DexGraspNet-style baseline).
- "cvae" (part-aware CVAE) and "object_cvae" (the "object-based network" ablation) need
  trained weights, which are not shipped yet: asking for them is a clear error.

On a complete cloud (GenerationInput.complete) every generator's placements are checked with the
inside test: a hand whose palm point or any vertex starts inside the object is pushed back out
along its approach (part_init.push_clear), so stage 3 starts from free space.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ErrorCode, GraspError
from ..geometry.inside import inside_test_for
from ..hand.base import HandModel
from .part_init import palm_facing_poses, push_clear, spread_targets, tilted

GENERATORS = ("part_facing", "part_random", "object_around", "cvae", "object_cvae")


@dataclass
class InitialPoses:
    """K initial wrist poses (in the object cloud's frame) for stage 3."""

    rot6d: torch.Tensor  # (K, 6)
    trans: torch.Tensor  # (K, 3) metres
    generator: str
    description: str  # what the generator did, for the result's rationale

    @property
    def count(self) -> int:
        return int(self.rot6d.shape[0])


@dataclass
class GenerationInput:
    points: np.ndarray  # (N, 3) object points, metres
    normals: np.ndarray  # (N, 3) outward unit normals
    part_mask: np.ndarray  # (N,) bool, the contact part
    count: int  # K
    hand: HandModel
    seed: int = 0
    complete: bool = False  # a complete cloud with outward normals: placements are checked for inside starts
    joints: np.ndarray | None = None  # (D,) the posture stage 3 starts from (the prior's); None: the flat hand


class PoseGenerator(ABC):
    name = "base"

    def generate(self, query: GenerationInput) -> InitialPoses:
        """K initial wrist poses for the hand (on a complete cloud, none starting inside the object)."""
        poses = self._place(query)
        if query.complete:
            poses = _cleared(poses, query)
        return poses

    @abstractmethod
    def _place(self, query: GenerationInput) -> InitialPoses:
        """K initial wrist poses, as placed."""


def _cleared(poses: InitialPoses, query: GenerationInput) -> InitialPoses:
    hand = query.hand
    joints = torch.zeros(hand.dof) if query.joints is None else torch.as_tensor(query.joints)
    device = hand.palm_normal.device
    trans, moved = push_clear(poses.rot6d.to(device), poses.trans.to(device), hand, joints.to(device, torch.float32),
                              inside_test_for(query.points, query.normals))  # fmt: skip
    n = int((moved > 0).sum())
    note = (f"; {n} of {poses.count} started inside the object and were pushed out along their approach "
            f"(up to {100 * moved.max():.1f} cm)" if n else "; none started inside the object")  # fmt: skip
    return InitialPoses(poses.rot6d, trans.to(poses.trans), poses.generator, poses.description + note)


class PartFacingGenerator(PoseGenerator):
    name = "part_facing"

    def __init__(self, standoff: float = 0.02):
        self.standoff = _positive("standoff", standoff)

    def _place(self, query):
        rng = np.random.default_rng(query.seed)
        p, n = spread_targets(query.points, query.normals, query.part_mask, query.count)
        r6, t = palm_facing_poses(p, n, rng.uniform(0, 2 * np.pi, query.count), query.hand, self.standoff)
        return InitialPoses(r6, t, self.name, f"palm facing {query.count} points spread over the part "
                            f"from {100 * self.standoff:.0f} cm (part-facing; no CVAE weights yet)")  # fmt: skip


class PartRandomGenerator(PoseGenerator):
    name = "part_random"

    def __init__(self, standoff: tuple[float, float] = (0.01, 0.05), max_tilt_deg: float = 60.0):
        self.standoff = (_positive("standoff", standoff[0]), _positive("standoff", standoff[1]))
        self.max_tilt = np.radians(float(max_tilt_deg))

    def _place(self, query):
        rng = np.random.default_rng(query.seed)
        idx = np.flatnonzero(query.part_mask)
        if len(idx) == 0:
            raise ValueError("the contact part has no points")
        chosen = rng.choice(idx, size=query.count, replace=len(idx) < query.count)
        directions = tilted(query.normals[chosen], self.max_tilt, rng)
        standoff = rng.uniform(*self.standoff, size=query.count)
        r6, t = palm_facing_poses(query.points[chosen], directions, rng.uniform(0, 2 * np.pi, query.count),
                                  query.hand, standoff)  # fmt: skip
        return InitialPoses(r6, t, self.name, f"{query.count} random placements near the part "
                            f"(tilt <= {np.degrees(self.max_tilt):.0f} deg; part random init)")  # fmt: skip


class ObjectAroundGenerator(PoseGenerator):
    """DexGraspNet-style: hands all around the object, palms towards it, jittered approach."""

    name = "object_around"

    def __init__(self, standoff: float = 0.03, max_tilt_deg: float = 30.0):
        self.standoff = _positive("standoff", standoff)
        self.max_tilt = np.radians(float(max_tilt_deg))

    def _place(self, query):
        rng = np.random.default_rng(query.seed)
        everything = np.ones(len(query.points), dtype=bool)
        p, n = spread_targets(query.points, query.normals, everything, query.count)
        r6, t = palm_facing_poses(p, tilted(n, self.max_tilt, rng), rng.uniform(0, 2 * np.pi, query.count),
                                  query.hand, self.standoff)  # fmt: skip
        return InitialPoses(r6, t, self.name, f"{query.count} placements all around the object (no part)")


def _positive(name: str, value: float) -> float:
    if not value > 0.0:
        raise ValueError(f"{name} must be > 0 metres, got {value}")
    return float(value)


def make_generator(name: str = "part_facing", **options) -> PoseGenerator:
    """A generator by name; options go to its constructor."""
    classes = {c.name: c for c in (PartFacingGenerator, PartRandomGenerator, ObjectAroundGenerator)}
    if name in classes:
        return classes[name](**options)
    if name in ("cvae", "object_cvae"):
        kind = (
            "part-aware CVAE" if name == "cvae" else "object-based network (the CVAE conditioned on the whole object)"
        )
        raise GraspError(ErrorCode.INTERNAL_ERROR, f"generator '{name}' is not available: the {kind} needs "
                         "trained weights, which are not shipped yet")  # fmt: skip
    raise ValueError(f"unknown generator '{name}'; expected one of {', '.join(GENERATORS)}")
