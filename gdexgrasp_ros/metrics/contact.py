"""Geometric grasp metrics (numpy; metres, cubic metres): penetration, intersection volume,
part contact, force closure.

Hands enter as surface points (vertices) and, for volumes, as a signed-distance callable
(negative inside), so the same functions score OpenHand, MANO and analytic test shapes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from ..geometry import force_closure
from ..geometry.inside import surface_distance
from ..geometry.nearest import NearestIndex
from ..geometry.normals import point_spacing
from ..objects.part_object import PartMesh

SdfFn = Callable[[np.ndarray], np.ndarray]
CONTACT_THRESHOLD = 0.005  # m
VOXEL_PITCH = 0.005  # m, intersection-volume voxels


def _trimesh(mesh: PartMesh) -> trimesh.Trimesh:
    return trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)


INSIDE_PITCH = 0.002  # m, voxels of the inside test of a mesh that is not one closed surface
_SOLID_CACHE: dict[str, trimesh.voxel.VoxelGrid] = {}


def inside_depths(hand_points: np.ndarray, object_mesh: PartMesh) -> np.ndarray:
    """Depth (V,) m of each hand point inside the object mesh; 0 outside.

    A closed (watertight) mesh: trimesh's signed distance. Any other mesh (real scans and PartNet
    models are part soups and open shells): trimesh decides inside by ray parity, which such a
    mesh breaks; it put hand points 4.6 cm "inside" a 1 cm pen. There a point is inside where the
    filled voxelization is (INSIDE_PITCH, the same fill as the intersection volume's, so an open
    bucket's cavity stays outside and a lidded pot's interior is inside), and, within a voxel's
    diagonal of the surface, on the inner side of the nearest face; its depth is its distance to
    the surface.
    """
    tm = _trimesh(object_mesh)
    points = np.asarray(hand_points, dtype=np.float64).reshape(-1, 3)
    if tm.is_watertight:
        return np.maximum(trimesh.proximity.signed_distance(tm, points), 0.0)
    if len(points) == 0 or len(tm.faces) == 0:
        return np.zeros(len(points))
    closest, dist, tri = trimesh.proximity.closest_point(tm, points)
    filled = _solid(object_mesh).is_filled(points)
    inner_side = np.einsum("ij,ij->i", points - closest, tm.face_normals[tri]) < 0
    # A filled voxel the surface crosses reaches up to its diagonal (sqrt(3) pitches) outside it.
    return np.where(filled & ((dist >= np.sqrt(3.0) * INSIDE_PITCH) | inner_side), dist, 0.0)


def _solid(mesh: PartMesh) -> trimesh.voxel.VoxelGrid:
    """The mesh's filled voxelization at INSIDE_PITCH, cached per mesh (a benchmark judges many hands)."""
    key = mesh.digest()
    if key not in _SOLID_CACHE:
        if len(_SOLID_CACHE) >= 8:
            _SOLID_CACHE.pop(next(iter(_SOLID_CACHE)))
        _SOLID_CACHE[key] = _voxel_grid(mesh, INSIDE_PITCH)
    return _SOLID_CACHE[key]


def _voxel_grid(mesh: PartMesh, pitch: float, shell: bool = False) -> trimesh.voxel.VoxelGrid:
    """The mesh's voxels at `pitch`: the solid (enclosed space filled) or the surface shell only."""
    vox = trimesh.voxel.creation.voxelize(_trimesh(mesh), pitch)
    return vox if shell else vox.fill()


def penetration_depth(hand_points: np.ndarray, object_mesh: PartMesh) -> float:
    """Deepest hand point inside the object (inside_depths), metres; 0 when none is inside."""
    return float(inside_depths(hand_points, object_mesh).max(initial=0.0))


def object_voxels(object_mesh: PartMesh, pitch: float = VOXEL_PITCH, shell: bool = False) -> np.ndarray:
    """Centres (M, 3) of the object's voxels at `pitch`: solid-filled, or the surface shell only."""
    return _voxel_grid(object_mesh, pitch, shell).points


def intersection_volume(
    object_mesh: PartMesh, hand_sdf: SdfFn, pitch: float = VOXEL_PITCH, shell: bool = False
) -> float:
    """Volume (m^3) of object voxels (pitch 0.5 cm) whose centres lie inside the hand.

    shell=False fills the object solid (the paper's solid intersection volume); shell=True
    counts only the surface shell, as GraspTTA's variant does.
    """
    return volume_inside(object_voxels(object_mesh, pitch, shell), hand_sdf, pitch)


def volume_inside(centres: np.ndarray, hand_sdf: SdfFn, pitch: float = VOXEL_PITCH) -> float:
    """Volume (m^3) of the voxels (centres (M, 3), side `pitch`) whose centres lie inside the hand."""
    if len(centres) == 0:
        return 0.0
    return float((np.asarray(hand_sdf(centres)) < 0).sum()) * pitch**3


def contact_mask(hand_points: np.ndarray, object_points: np.ndarray, threshold: float = CONTACT_THRESHOLD):
    """(contacting (V,) bool, nearest object index (V,)) of hand points against an object cloud."""
    d, idx = cKDTree(object_points).query(np.asarray(hand_points))
    return d < threshold, idx


def part_contact_ratio(hand_points: np.ndarray, object_points: np.ndarray, part_mask: np.ndarray,
                       threshold: float = CONTACT_THRESHOLD) -> float:  # fmt: skip
    """Fraction of contacting hand points (within threshold) whose nearest object point is on the part (0 if none)."""
    touching, idx = contact_mask(hand_points, object_points, threshold)
    if not touching.any():
        return 0.0
    return float(np.asarray(part_mask, bool)[idx[touching]].mean())


def on_part(ratio: float) -> bool:
    """Part accuracy: a grasp is on-part when most of its contacts touch the target part."""
    return ratio > 0.5


def contact_count(hand_points: np.ndarray, object_points: np.ndarray, threshold: float = CONTACT_THRESHOLD) -> int:
    return int(contact_mask(hand_points, object_points, threshold)[0].sum())


def surface_contact_count(hand_points: np.ndarray, object_points: np.ndarray, object_normals: np.ndarray,
                          threshold: float = CONTACT_THRESHOLD) -> int:  # fmt: skip
    """Hand points within `threshold` of an oriented cloud's surface (the nearest point's tangent
    plane, geometry.inside.surface_distance), on either side: unlike contact_count, which measures
    to the nearest sample, it does not fall when the cloud is sparse (a palm resting 2 mm above a
    suitcase sampled every 1.5 cm touches with hundreds of vertices, not one)."""
    pts = torch.as_tensor(np.asarray(object_points, dtype=np.float64))
    index = NearestIndex(pts)
    dist = surface_distance(torch.as_tensor(np.asarray(hand_points, dtype=np.float64)), pts,
                            torch.as_tensor(np.asarray(object_normals, dtype=np.float64)), index,
                            point_spacing(object_points))  # fmt: skip
    return int((dist.abs() < threshold).sum())


def force_closure_residual(hand_points: np.ndarray, object_points: np.ndarray, object_normals: np.ndarray,
                           n_contacts: int = 4) -> float:  # fmt: skip
    """||G c|| of the n_contacts hand points nearest the object, pushing along the inward normals."""
    d, idx = cKDTree(object_points).query(np.asarray(hand_points))
    pick = np.argsort(d)[:n_contacts]
    t = lambda x: torch.as_tensor(np.asarray(x), dtype=torch.float64)[None]  # noqa: E731
    value = force_closure.force_closure_residual(t(np.asarray(hand_points)[pick]), -t(object_normals[idx[pick]]),
                                                 t(np.asarray(object_points).mean(0))[0])  # fmt: skip
    return float(value[0])
