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

import numpy as np
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
# Digit ids of vertex_digit: the four fingers, the thumb, the palm.
DIGITS = ("index", "middle", "ring", "little", "thumb", "palm")
PALM_DIGIT = 5


@dataclass(frozen=True)
class ClosingJoint:
    """A joint that closes the hand when it grows (stage3.closing): the vertices it moves and its share
    of each closing step."""

    joint: int  # index in joint_names
    vertices: torch.Tensor  # (V,) bool: the vertices this joint moves
    share: float = 1.0


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
    _vertex_digit: torch.Tensor  # (V,) long digit id of every vertex (DIGITS)
    _distal: torch.Tensor  # (V,) bool: the vertex lies on a fingertip (distal) segment
    _palm_point: torch.Tensor  # (3,) wrist frame, metres
    _palm_normal: torch.Tensor  # (3,) wrist frame, unit

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

    @property
    def num_vertices(self) -> int:
        return int(self._vertex_digit.shape[0])

    @property
    def device(self) -> torch.device:
        return self._faces.device

    @property
    def vertex_digit(self) -> torch.Tensor:
        """(V,) long: 0-3 index..little finger, 4 thumb, 5 palm (DIGITS)."""
        return self._vertex_digit

    @property
    def distal_vertices(self) -> torch.Tensor:
        """(V,) bool: vertices on the fingertip segments (where the no-prior ablation pulls)."""
        return self._distal

    @property
    def palm_point(self) -> torch.Tensor:
        """(3,) metres, wrist frame: where a grasped part sits, in front of the palm between the
        curled fingers. Initialisations put this point over the contact part."""
        return self._palm_point

    @property
    def palm_normal(self) -> torch.Tensor:
        """(3,) unit, wrist frame: the direction the palm faces (towards a grasped object)."""
        return self._palm_normal

    @property
    def closing_joints(self) -> tuple[ClosingJoint, ...]:
        """The joints that close the fingers on an object (flexions); empty: the model cannot close."""
        return ()

    @abstractmethod
    def default_posture(self, affordance: str) -> np.ndarray:
        """(D,) radians: the canonical joint angles of an affordance (the data-free prior)."""

    @abstractmethod
    def forward(self, rot6d: torch.Tensor, trans: torch.Tensor, joints: torch.Tensor,
                vertex_ids: torch.Tensor | None = None) -> HandOutput:  # fmt: skip
        """Pose a batch of hands; with vertex_ids, vertices/normals hold only those vertices."""

    @abstractmethod
    def signed_distance(self, out: HandOutput, points: torch.Tensor) -> torch.Tensor:
        """Signed distance (B, N), metres, negative inside, of query points (B, N, 3) to posed hands."""

    def sdf_function(self, out: HandOutput):
        """The signed distance of one posed hand (batch of 1) as a numpy callable: points (M, 3) -> (M,),
        metres, negative inside (the form the volume metrics take)."""
        ref = out.wrist_rotation

        def sdf(points):
            p = torch.as_tensor(points, dtype=ref.dtype, device=ref.device)[None]
            with torch.no_grad():
                return self.signed_distance(out, p)[0].cpu().numpy()

        return sdf

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
