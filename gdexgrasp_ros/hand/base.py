"""The HandModel interface every stage works through (torch, batched, differentiable).

Pose parameters of a batch of B hands:
- rot6d (B, 6): wrist rotation, 6D representation (first two columns of R, see
  geometry.rotations); the optimiser works on this.
- trans (B, 3): wrist position, metres.
- joints (B, D): joint angles, radians, in the model's joint order (joint_names).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

# MANO / OpenPose keypoint order.
KEYPOINT_NAMES = (
    "wrist",
    "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
    "index_mcp", "index_pip", "index_dip", "index_tip",
    "middle_mcp", "middle_pip", "middle_dip", "middle_tip",
    "ring_mcp", "ring_pip", "ring_dip", "ring_tip",
    "little_mcp", "little_pip", "little_dip", "little_tip",
)  # fmt: skip
FINGERTIP_KEYPOINTS = (4, 8, 12, 16, 20)


@dataclass
class HandOutput:
    vertices: torch.Tensor  # (B, V, 3) world, metres (only the requested vertex_ids when given)
    normals: torch.Tensor  # (B, V, 3) unit outward vertex normals
    keypoints: torch.Tensor  # (B, 21, 3) MANO/OpenPose order
    link_rotations: torch.Tensor  # (B, L, 3, 3) world rotation of each link frame
    link_origins: torch.Tensor  # (B, L, 3) world origin of each link frame
    wrist_rotation: torch.Tensor  # (B, 3, 3)


class HandModel(ABC):
    """A batched differentiable hand; subclasses fix the kinematics and the surface."""

    name: str
    joint_names: tuple[str, ...]
    link_names: tuple[str, ...]

    # Set by every subclass's constructor.
    _faces: torch.Tensor  # (F, 3) long, outward-oriented triangles of the surface mesh
    _limits: torch.Tensor  # (D, 2) lower, upper in radians
    _candidates: torch.Tensor  # (C,) long vertex ids on the finger pads and palm

    @property
    def faces(self) -> torch.Tensor:
        """(F, 3) long, outward-oriented triangles of the surface mesh."""
        return self._faces

    @property
    def joint_limits(self) -> torch.Tensor:
        """(D, 2) lower, upper in radians."""
        return self._limits

    @property
    def contact_candidates(self) -> torch.Tensor:
        """(C,) long vertex ids on the finger pads and palm: where a grasp touches."""
        return self._candidates

    @abstractmethod
    def forward(self, rot6d: torch.Tensor, trans: torch.Tensor, joints: torch.Tensor,
                vertex_ids: torch.Tensor | None = None) -> HandOutput:  # fmt: skip
        """Pose a batch of hands; with vertex_ids, vertices/normals hold only those vertices."""

    @abstractmethod
    def signed_distance(self, out: HandOutput, points: torch.Tensor) -> torch.Tensor:
        """Signed distance (B, N), metres, negative inside, of query points (B, N, 3) to posed hands."""

    @abstractmethod
    def self_penetration(self, out: HandOutput) -> torch.Tensor:
        """(B,) metres: summed overlap between parts of the hand that must not touch."""

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    def to(self, device) -> HandModel:
        """Move the model's tensors to a device (in place); returns self."""
        for key, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, key, value.to(device))
        return self
