"""The benchmark's judgement of a goal's grasps, on the shape's own mesh and ground-truth parts.

Every figure is computed here from the returned hands and the shape (never from what the result
says about itself); what the result reported is recorded beside it. Definitions (metres inside,
the records and tables in cm / cm^3 / %):
- penetration depth: deepest hand vertex inside the mesh (trimesh signed distance);
- intersection volume: 0.5 cm voxels of the object (solid-filled, the paper's; and the surface
  shell, GraspTTA's variant) whose centres lie inside the hand;
- simulation displacement: pybullet, static hand, 1 kg object, 1 s of gravity along -z (the paper's)
  and the six-direction mean; "held" = displaced < 2 cm after 1 s;
- part accuracy: most of the hand's contacts (vertices within 5 mm of the object's surface samples)
  lie on the target part (metrics.contact.on_part); contact count: those vertices;
- localizer IoU: the pipeline's part mask against the ground-truth part on the points it returned;
- diversity: spread of the returned grasps' joint angles and wrist poses.
Mesh-based figures need a mesh (a point-file shape has none: NaN). A mesh that is not closed
(some real scans) gives approximate inside tests; the record says `closed`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..geometry.rotations import matrix_to_rot6d
from ..metrics import contact as M
from ..metrics.simulation import HELD_M, simulation_displacement, simulation_displacement_six
from ..objects.part_object import PartObject, sample_mesh
from .plan import matching_parts, part_tokens

REFERENCE_SAMPLES = 20000  # surface samples that stand for the object when judging contacts and parts
CM, CM3 = 100.0, 1e6


@dataclass
class Reference:
    """A shape's ground truth in its object frame: dense labelled surface samples, voxel centres."""

    obj: PartObject
    points: np.ndarray  # (S, 3)
    part_ids: np.ndarray  # (S,)
    target: np.ndarray  # (S,) bool: the instruction's part
    solid_voxels: np.ndarray | None  # (M, 3) centres, None without a mesh
    shell_voxels: np.ndarray | None
    closed: bool

    def labels_of(self, points: np.ndarray) -> np.ndarray:
        """Ground-truth target membership of arbitrary points in the object frame (nearest sample)."""
        _, idx = cKDTree(self.points).query(points)
        return self.target[idx]


def make_reference(obj: PartObject, target_parts: tuple[str, ...], closed: bool, seed: int = 0) -> Reference:
    ids = [obj.part_names.index(p) for p in target_parts]
    if obj.mesh is not None:
        pts, _, part_ids = sample_mesh(obj.mesh, REFERENCE_SAMPLES, seed)
        solid = M.object_voxels(obj.mesh, shell=False)
        shell = M.object_voxels(obj.mesh, shell=True)
    else:
        pts, part_ids, solid, shell = obj.points, obj.part_ids, None, None
    return Reference(obj, pts, part_ids, np.isin(part_ids, ids), solid, shell, closed)


def hand_sdf(hand, rotation: np.ndarray, translation: np.ndarray, joints: np.ndarray):
    """Signed distance (negative inside) of points to one posed hand, as a numpy callable."""
    dtype = getattr(hand, "dtype", torch.float32)
    with torch.no_grad():
        R = torch.as_tensor(rotation, dtype=dtype)[None]
        out = hand.forward(matrix_to_rot6d(R), torch.as_tensor(translation, dtype=dtype)[None],
                           torch.as_tensor(joints, dtype=dtype)[None])  # fmt: skip
    return hand.sdf_function(out)


def _volume(voxels: np.ndarray | None, sdf) -> float:
    return math.nan if voxels is None else M.volume_inside(voxels, sdf)


def judge_grasp(ref: Reference, hand, faces: np.ndarray, vertices: np.ndarray, rotation: np.ndarray,
                translation: np.ndarray, joints: np.ndarray, simulate: bool, six: bool) -> dict:  # fmt: skip
    """The benchmark's figures of one grasp (hand already in the object frame)."""
    mesh = ref.obj.mesh
    sdf = hand_sdf(hand, rotation, translation, joints)
    pen = M.penetration_depth(vertices, mesh) if mesh is not None else math.nan
    ratio = M.part_contact_ratio(vertices, ref.points, ref.target)
    out = {
        "penetration_cm": pen * CM,
        "volume_cm3": _volume(ref.solid_voxels, sdf) * CM3,
        "volume_shell_cm3": _volume(ref.shell_voxels, sdf) * CM3,
        "part_ratio": ratio,
        "on_part": bool(M.on_part(ratio)),
        "contacts": M.contact_count(vertices, ref.points),
        "sim_cm": math.nan,
        "sim6_cm": math.nan,
        "held": None,
    }
    if simulate and mesh is not None:
        out["sim_cm"] = simulation_displacement(vertices, faces, mesh) * CM
        out["held"] = bool(out["sim_cm"] < HELD_M * CM)
        if six:
            out["sim6_cm"] = simulation_displacement_six(vertices, faces, mesh) * CM
    return out


def reported(quality) -> dict:
    """What the result said about the grasp itself (the action result's GraspQuality fields)."""
    return {
        "penetration_cm": quality.penetration_depth * CM,
        "volume_cm3": quality.intersection_volume * CM3,
        "sim_cm": quality.simulation_displacement * CM,
        "part_ratio": quality.part_contact_ratio,
        "contacts": quality.contact_count,
        "score": quality.score,
    }


def analysis_correct(arrangement, affordance: str, part: str, target_parts: tuple[str, ...]) -> dict:
    """Did the analyzer pick the instruction's affordance and a part named like the target?"""
    if arrangement is None:
        return {"affordance": None, "part": None, "affordance_ok": None, "part_ok": None}
    said = arrangement.contact_part
    part_ok = bool(matching_parts(said, list(target_parts))) or part_tokens(said) == part_tokens(part)
    return {"affordance": arrangement.affordance, "part": said, "affordance_ok": arrangement.affordance == affordance,
            "part_ok": part_ok}  # fmt: skip


def localizer_iou(ref: Reference, object_points_obj: np.ndarray | None, mask: np.ndarray | None) -> float:
    """IoU of the pipeline's part mask with the ground-truth target on the points it returned."""
    if object_points_obj is None or mask is None or len(mask) != len(object_points_obj):
        return math.nan
    truth = ref.labels_of(object_points_obj)
    union = (truth | mask).sum()
    return float((truth & mask).sum() / union) if union else math.nan


def diversity(rotations: list[np.ndarray], translations: list[np.ndarray], joints: list[np.ndarray]) -> dict:
    """Spread of the returned grasps: mean per-joint std (deg), wrist position spread (cm, mean distance
    to the mean position) and wrist rotation spread (deg, mean angle to the best grasp's rotation)."""
    if len(joints) < 2:
        return {"joint_std_deg": math.nan, "wrist_spread_cm": math.nan, "rotation_spread_deg": math.nan}
    q, t = np.stack(joints), np.stack(translations)
    rel = [R0.T @ R for R0 in rotations[:1] for R in rotations[1:]]
    angles = [math.degrees(math.acos(np.clip((np.trace(r) - 1) / 2, -1.0, 1.0))) for r in rel]
    return {
        "joint_std_deg": float(np.degrees(q.std(0)).mean()),
        "wrist_spread_cm": float(np.linalg.norm(t - t.mean(0), axis=1).mean() * CM),
        "rotation_spread_deg": float(np.mean(angles)),
    }
