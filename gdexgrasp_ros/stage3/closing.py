"""Closing finish of stage 3: the fingers close on the part after the optimization (an "auto-grasp").

Why: the prior-guided terms pull the hand's pads towards the part, but the two sub-stages end with
fingers that hover a few millimetres off a thin handle, and a hand that only touches holds nothing
(it held 10-14 % of the benchmark's grasps in simulation). GraspIt's auto-grasp closes every joint
at a fixed rate and stops a joint once a link it moves touches the object; the joints beyond that
link go on, so a finger wraps a handle link by link.

Here, per hand and per closing joint (HandModel.closing_joints: finger MCP and PIP flexion, thumb
opposition, MCP and IP):
- every step flexes the joints still moving by `step` (times the joint's share);
- a joint stops when any vertex it moves comes within `contact` of the object's surface; a step
  that would put such a vertex deeper than `tolerance` inside is taken back;
- a joint that never touched (a finger in free air) or touched elsewhere returns to its angle from
  the optimization, so the prior's posture stays where closing found nothing to hold on the part;
- a joint that touched the contact part then presses: it flexes on, `step` at a time, up to
  `squeeze` past its touch, and stops where a step would put a vertex it moves deeper than
  `press_depth` inside (that step is taken back), so the contact pushes (a static hand holds an
  object by friction only where it pushes on it); a joint that stopped because a step would bury a
  vertex, or started buried, does not press.
In the pipeline the object is the goal's cloud: the signed surface distance of
geometry.inside.surface_distance (the nearest point's tangent plane near the surface), which
needs outward normals and fingers that approach from free space. Tests and figures close hands
on a mesh's or an analytic shape's signed distance instead (sdf_distance).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..geometry.inside import surface_distance
from ..geometry.nearest import NearestIndex
from ..hand.base import HandModel

Distance = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class ClosingConfig:
    step: float = 0.02  # rad per step (about 1.5 mm at a fingertip)
    max_steps: int = 80  # steps at most (1.6 rad: a flexion joint's whole range)
    contact: float = 0.002  # m: a vertex this close to the surface touches it
    tolerance: float = 0.002  # m: a step that puts a moved vertex deeper inside is taken back
    squeeze: float = 0.02  # rad flexed past touching, at most (in steps of `step`)
    press_depth: float = 0.002  # m: the press stops where a step would put a moved vertex deeper inside

    def __post_init__(self):
        if not (self.step > 0 and self.max_steps >= 1 and self.contact >= 0 and self.tolerance >= 0
                and self.squeeze >= 0 and self.press_depth >= 0):  # fmt: skip
            raise ValueError(f"closing settings out of range: {self}")


@torch.no_grad()
def close_on_object(hand: HandModel, rot6d: torch.Tensor, trans: torch.Tensor, joints: torch.Tensor,
                    distance: Distance, config: ClosingConfig | None = None,
                    part: Distance | None = None) -> torch.Tensor:  # fmt: skip
    """Joint angles (K, D) of K hands after closing their fingers on the object (wrist poses unchanged).

    distance: the object's signed distance (negative inside) of posed vertices (K, V, 3) -> (K, V), m:
    cloud_distance for a goal's cloud, or a mesh's / an analytic SDF. part: the same for the contact
    part alone; a joint whose touch is not on the part returns to its angle (the task names the part:
    closing adds contacts there, not on a blade or a mug's body). A hand model without closing joints
    comes back unchanged.
    """
    cfg = config or ClosingConfig()
    chains = hand.closing_joints
    if not chains or joints.shape[0] == 0:
        return joints.clone()
    device, dtype = joints.device, joints.dtype
    ids = torch.tensor([c.joint for c in chains], device=device)
    share = torch.tensor([c.share for c in chains], device=device, dtype=dtype)
    moved = torch.stack([c.vertices.to(device) for c in chains]).to(dtype)  # (J, V)
    upper = hand.joint_limits[ids, 1].to(device, dtype)
    start = joints.clone()
    q = joints.clone()
    active = torch.ones(q.shape[0], len(chains), dtype=torch.bool, device=device)
    touched = torch.zeros_like(active)

    def depth_hits(angles, depth=cfg.tolerance):
        out = hand.forward(rot6d, trans, angles)
        d = distance(out.vertices)  # (K, V)
        on_part = d < cfg.contact if part is None else part(out.vertices) < cfg.contact
        hits = lambda flags: (flags.to(dtype) @ moved.T) > 0  # noqa: E731 - (K, V) -> (K, J)
        return hits(d < cfg.contact), hits(d < -depth), hits(on_part)

    touch, buried, on = depth_hits(q)  # buried: already deeper than the tolerance (never pressed further)
    touched |= on
    active &= ~touch  # already touching: that joint does not close
    for _ in range(cfg.max_steps):
        if not active.any():
            break
        trial = q.clone()
        trial[:, ids] = torch.minimum(q[:, ids] + cfg.step * share * active.to(dtype), upper)
        touch, deep, on = depth_hits(trial)
        # A step that buries a moved vertex is taken back for every joint that moves it.
        keep = active & ~deep
        q[:, ids] = torch.where(keep, trial[:, ids], q[:, ids])
        touched |= active & on
        buried |= active & deep
        active &= ~(touch | deep) & (q[:, ids] < upper)
    q[:, ids] = torch.where(touched, q[:, ids], start[:, ids])  # the others keep the optimized angle
    return _press(q, ids, share, upper, touched & ~buried, cfg, lambda angles: depth_hits(angles, cfg.press_depth)[1])


def _press(q, ids, share, upper, pressing, cfg: ClosingConfig, too_deep) -> torch.Tensor:
    """Flex the `pressing` joints (K, J) on past their touch, `step` at a time up to `squeeze`; a step
    that puts a vertex a joint moves deeper than press_depth is taken back and stops that joint.
    too_deep(angles) -> (K, J): the joints moving such a vertex."""
    pressed, left = q.clone(), cfg.squeeze
    pressing = pressing & ~too_deep(pressed)  # a put-back neighbour may already bury its vertices
    while left > 1e-9 and pressing.any():
        trial = pressed.clone()
        trial[:, ids] = torch.minimum(pressed[:, ids] + min(cfg.step, left) * share * pressing.to(q.dtype), upper)
        deep = too_deep(trial)
        keep = pressing & ~deep
        pressed[:, ids] = torch.where(keep, trial[:, ids], pressed[:, ids])
        pressing = keep & (pressed[:, ids] < upper)
        left -= cfg.step
    return pressed


def cloud_distance(points: torch.Tensor, normals: torch.Tensor, spacing: float, index: NearestIndex | None = None):
    """The signed surface distance of an oriented cloud (geometry.inside.surface_distance) as a Distance."""
    index = index or NearestIndex(points)
    return lambda vertices: surface_distance(vertices, points, normals, index, spacing)


def sdf_distance(sdf: Callable[[torch.Tensor], torch.Tensor]) -> Distance:
    """A Distance from a signed distance function of (N, 3) points (a mesh's, an analytic shape's)."""
    return lambda vertices: sdf(vertices.reshape(-1, 3)).reshape(vertices.shape[:-1])
