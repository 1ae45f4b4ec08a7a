"""DexGraspNet's differentiable force-closure residual ||G c|| (torch, batched over K grasps).

Shared by the stage-3 loss (optimised) and the grasp metrics (judged), so neither imports the other.
"""

from __future__ import annotations

import torch


def force_closure_residual(
    contact_points: torch.Tensor, contact_normals: torch.Tensor, center: torch.Tensor
) -> torch.Tensor:
    """|| G c ||  (DexGraspNet's differentiable force closure), a (K,) tensor.

    contact_points (K, M, 3), contact_normals (K, M, 3) inward object normals at the contacts,
    G = [I_3 ... I_3; [x_1]x ... [x_M]x] with x relative to the object centre (metres), so
    G c = (sum_i n_i, sum_i x_i x n_i): net force (unitless) and net torque (metres) of unit
    normal forces. Zero when unit pushes along the normals balance.
    """
    x = contact_points - center
    force = contact_normals.sum(1)
    torque = torch.linalg.cross(x, contact_normals, dim=-1).sum(1)
    return torch.sqrt((force * force).sum(-1) + (torque * torque).sum(-1) + 1e-12)
