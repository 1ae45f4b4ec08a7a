"""Stage 2, wrist-pose generation: K initial hand placements for stage 3 to refine.

Generators share one interface, chosen by name in the synthesizer configuration:
- "part_facing": the palm over points spread evenly over the contact part, facing it along
  the surface normal (random roll). Today's initialisation of the full method, standing in
  for the part-aware CVAE until its weights exist.
- "part_random": the paper's "part random init" ablation: random part points, approach
  directions tilted up to 60 degrees from the normal, random roll and standoff.
- "object_around": around the whole object, no part (the DexGraspNet-style baseline).
- "cvae": the part-aware CVAE (stage2.cvae) samples K wrist poses for the part and the prior's
  cluster; "object_cvae": the "object-based network" ablation (the whole object, no V or S^P).
  Both read shipped weights (or `path`) once, when made; a missing or corrupt file is a clear error.

On a complete cloud (GenerationInput.complete) every generator's placements are checked with the
inside test: a hand whose palm point or any vertex starts inside the object is pushed back out
along its approach (part_init.push_clear), so stage 3 starts from free space.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ErrorCode, GraspError
from ..geometry.inside import inside_test_for
from ..geometry.rotations import matrix_to_rot6d
from ..hand.base import HandModel
from .part_init import palm_facing_poses, push_clear, spread_targets, tilted

GENERATORS = ("part_facing", "part_random", "object_around", "cvae", "object_cvae")
CVAE_HAND = "open_hand"  # the hand whose grasps the CVAEs learned
# Shipped weights (assets manifest entries cvae / object_cvae; gdexgrasp-build rebuilds them).
SHIPPED_WEIGHTS = {name: Path(__file__).resolve().parents[1] / "assets" / f"{name}.safetensors"
                   for name in ("cvae", "object_cvae")}  # fmt: skip


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
    cluster_id: int = -1  # the retrieved prior's cluster (the CVAE's condition); -1: none
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)  # the scene's up in the cloud's frame


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
                            f"from {100 * self.standoff:.0f} cm (part-facing)")  # fmt: skip


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


class CVAEGenerator(PoseGenerator):
    """The part-aware CVAE (stage2.cvae): K wrist poses sampled for the part and the prior's cluster. The
    weights are loaded once, when the generator is made (a server makes it at start-up)."""

    name = "cvae"
    object_based = False

    def __init__(self, path: str = "", device: str = "cpu"):
        from .cvae import load_checkpoint

        path = path or str(SHIPPED_WEIGHTS[self.name])
        try:
            self.model, _ = load_checkpoint(path, device)
        except (OSError, ValueError) as err:
            rebuild = (
                f" (rebuild the shipped file: gdexgrasp-build {self.name})"
                if path == str(SHIPPED_WEIGHTS[self.name])
                else ""
            )
            raise GraspError(ErrorCode.INTERNAL_ERROR, f"generator '{self.name}': {err}{rebuild}") from err
        if self.model.config.object_based != self.object_based:
            kind = "object-based network" if self.model.config.object_based else "part-aware CVAE"
            raise GraspError(ErrorCode.INTERNAL_ERROR, f"generator '{self.name}': {path} holds the {kind}")
        self.device = device

    def _place(self, query):
        from .cvae import PartQuery, query_tensors, to_cloud

        if query.hand.name != CVAE_HAND:  # the CVAE learned the OpenHand's wrist frame: another hand faces the part
            poses = PartFacingGenerator()._place(query)
            poses.description += f" (the {self.name} predicts {CVAE_HAND} wrists, the goal's hand is {query.hand.name})"
            return poses
        cfg = self.model.config
        built = PartQuery.build(query.points, query.normals, query.part_mask, query.cluster_id, cfg, query.up)
        inputs, centre = query_tensors([built], cfg, self.device)
        gen = torch.Generator(device=self.device).manual_seed(query.seed)
        R, t_dm = self.model.sample(inputs, query.count, gen)
        R, t = to_cloud(built, centre[0].cpu().numpy(), R[0].cpu().numpy(), t_dm[0].cpu().numpy())
        r6 = matrix_to_rot6d(torch.as_tensor(R, dtype=torch.float32))
        known = 0 <= query.cluster_id < cfg.clusters
        what = "the whole object" if cfg.object_based else "the part"
        return InitialPoses(r6, torch.as_tensor(t, dtype=torch.float32), self.name,
                            f"{query.count} wrist poses sampled from the {self.name} for {what}"
                            + (f" and prior cluster {query.cluster_id}" if known else " (no prior cluster)"))  # fmt: skip


class ObjectCVAEGenerator(CVAEGenerator):
    """The "object-based network" ablation: the same CVAE conditioned on the whole object."""

    name = "object_cvae"
    object_based = True


def _positive(name: str, value: float) -> float:
    if not value > 0.0:
        raise ValueError(f"{name} must be > 0 metres, got {value}")
    return float(value)


def make_generator(name: str = "part_facing", **options) -> PoseGenerator:
    """A generator by name; options go to its constructor."""
    classes = {c.name: c for c in (PartFacingGenerator, PartRandomGenerator, ObjectAroundGenerator, CVAEGenerator,
                                   ObjectCVAEGenerator)}  # fmt: skip
    if name in classes:
        return classes[name](**options)
    raise ValueError(f"unknown generator '{name}'; expected one of {', '.join(GENERATORS)}")
