"""Close the fingers of an OpenHand until they touch an object (GraspIt's "auto-grasp").

Each digit flexes in small steps until one of its vertices reaches the object surface, so a
posture becomes a grasp that wraps the object without penetrating it. Used to make reference
grasps (tests, simulation checks) and as a cheap refinement.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .open_hand import OpenHand

# Joint indices each digit flexes (OpenHand order) and their share of each step.
DIGIT_FLEX = {
    "index": ([1, 2], [1.0, 1.0]),
    "middle": ([4, 5], [1.0, 1.0]),
    "ring": ([7, 8], [1.0, 1.0]),
    "little": ([10, 11], [1.0, 1.0]),
    "thumb": ([12, 14, 15], [0.5, 1.0, 1.0]),
}
DIGIT_LINKS = {"index": (1, 2, 3), "middle": (4, 5, 6), "ring": (7, 8, 9), "little": (10, 11, 12),
               "thumb": (14, 15)}  # fmt: skip


@torch.no_grad()
def close_until_contact(hand: OpenHand, rot6d: torch.Tensor, trans: torch.Tensor, joints: torch.Tensor,
                        object_sdf: Callable[[torch.Tensor], torch.Tensor], step: float = 0.01,
                        max_steps: int = 200, contact: float = 0.001) -> torch.Tensor:  # fmt: skip
    """Joint angles (D,) of one hand after closing each digit until it is within `contact` m of the object.

    object_sdf maps (N, 3) world points to their signed distance to the object (negative inside).
    """
    q = joints.clone().reshape(1, -1)
    lo, hi = hand.joint_limits.unbind(-1)
    link = hand.link_of_vertex
    active = dict.fromkeys(DIGIT_FLEX, True)
    for _ in range(max_steps):
        if not any(active.values()):
            break
        out = hand.forward(rot6d.reshape(1, 6), trans.reshape(1, 3), q)
        sd = object_sdf(out.vertices[0])
        for digit, (ids, shares) in DIGIT_FLEX.items():
            if not active[digit]:
                continue
            mask = torch.isin(link, torch.tensor(DIGIT_LINKS[digit], device=link.device))
            at_limit = all(bool(q[0, i] >= hi[i]) for i in ids)
            if float(sd[mask].min()) <= contact or at_limit:
                active[digit] = False
                continue
            for i, share in zip(ids, shares, strict=True):
                q[0, i] = torch.minimum(q[0, i] + step * share, hi[i])
        q = torch.maximum(torch.minimum(q, hi), lo)
    return q[0]
