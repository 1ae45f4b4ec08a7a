"""Fusing a few depth views of one scene into one cloud (issue 18 item 3, the library part).

Each view comes with its pose: the 4x4 transform from the sensor's frame to the frame the fused
cloud is wanted in (a robot's base frame, or the world of a simulation). Every view's normals are
estimated on that view alone and turned towards its own sensor, the side that sensor saw; then all
points go into the common frame and one point per voxel is kept (the first view's first point, so
the result is deterministic). Surfaces seen by several sensors end up with normals pointing out of
the object, as a complete cloud's do: pass the result to objects.preprocess.preprocess_cloud with
normals=fused.normals and cloud_kind=fused_cloud_kind(fused) ("complete" when the sensors went
round the object, "camera" when they all looked from one side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..geometry import normals as N
from .preprocess import voxel_representatives

RIGID_TOLERANCE = 1e-4  # |R^T R - I| and |det R - 1| allowed in a pose


@dataclass
class FusedCloud:
    points: np.ndarray  # (M, 3) in the common frame
    normals: np.ndarray  # (M, 3) unit, each towards the sensor that saw the point
    view: np.ndarray  # (M,) int, index of the view each point came from
    sensors: np.ndarray  # (V, 3) sensor origins in the common frame
    labels: np.ndarray | None = None  # (M,) int64 part labels, when every view carried them


def _check_pose(pose, i: int) -> np.ndarray:
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4) or not np.isfinite(pose).all():
        raise ValueError(f"pose {i} must be a finite 4x4 matrix, got shape {pose.shape}")
    rot = pose[:3, :3]
    if (
        np.abs(rot.T @ rot - np.eye(3)).max() > RIGID_TOLERANCE
        or abs(np.linalg.det(rot) - 1.0) > RIGID_TOLERANCE
        or np.abs(pose[3] - [0, 0, 0, 1]).max() > RIGID_TOLERANCE
    ):
        raise ValueError(f"pose {i} is not a rigid transform (rotation part not orthonormal, or last row not 0 0 0 1)")
    return pose


def _view_points(cloud, i: int, labels=None) -> tuple[np.ndarray, np.ndarray | None]:
    """The view's finite points (K, 3), and their labels when given."""
    pts = np.asarray(cloud, dtype=np.float64)
    if pts.ndim < 2 or pts.shape[-1] != 3:
        raise ValueError(f"cloud {i} must be (N, 3) or an organised (H, W, 3) array, got shape {pts.shape}")
    flat = pts.reshape(-1, 3)
    finite = np.isfinite(flat).all(1)
    if labels is None:
        return flat[finite], None
    lab = np.asarray(labels)
    if lab.shape != pts.shape[:-1]:
        raise ValueError(f"labels {i} must have the shape {pts.shape[:-1]} of its cloud's points, got {lab.shape}")
    return flat[finite], lab.reshape(-1).astype(np.int64)[finite]


def fuse_clouds(
    clouds: Sequence[np.ndarray],
    poses: Sequence[np.ndarray],
    voxel_size: float = 0.002,
    normal_radius: float | None = 0.01,
    normal_knn: int = 30,
    labels: Sequence[np.ndarray] | None = None,
) -> FusedCloud:
    """One cloud from several views: clouds[i] ((N, 3) or organised (H, W, 3), NaN for no return)
    in sensor i's frame, poses[i] that sensor's 4x4 pose in the common frame; labels[i] (optional,
    the points' leading shape) are carried to the kept points. ValueError on mismatched or
    malformed inputs, or when no view has a finite point."""
    if len(clouds) != len(poses):
        raise ValueError(f"{len(clouds)} clouds but {len(poses)} poses: one pose per cloud")
    if labels is not None and len(labels) != len(clouds):
        raise ValueError(f"{len(clouds)} clouds but {len(labels)} label arrays: one per cloud, or none")
    if len(clouds) == 0:
        raise ValueError("no clouds to fuse")
    if not voxel_size > 0:
        raise ValueError(f"voxel_size must be positive metres, got {voxel_size}")
    all_pts, all_nrm, all_view, all_lab, sensors = [], [], [], [], []
    for i, (cloud, pose) in enumerate(zip(clouds, poses, strict=True)):
        pose = _check_pose(pose, i)
        pts, lab = _view_points(cloud, i, None if labels is None else labels[i])
        sensors.append(pose[:3, 3])
        if len(pts) == 0:
            continue
        nrm = N.orient_towards(pts, N.estimate_normals(pts, normal_radius, normal_knn), np.zeros(3))
        all_pts.append(pts @ pose[:3, :3].T + pose[:3, 3])
        all_nrm.append(nrm @ pose[:3, :3].T)
        all_view.append(np.full(len(pts), i))
        all_lab.append(lab)
    if not all_pts:
        raise ValueError(f"none of the {len(clouds)} clouds has a finite point")
    pts, nrm, view = np.concatenate(all_pts), np.concatenate(all_nrm), np.concatenate(all_view)
    first, _ = voxel_representatives(pts, voxel_size)
    first = np.sort(first)  # input order: the first view's points first
    lab = None if labels is None else np.concatenate(all_lab)[first]
    return FusedCloud(pts[first], nrm[first], view[first], np.asarray(sensors), lab)


# The views go round the object when the unit directions from the cloud's centre to the sensors
# nearly cancel: their mean's length is 1 for one side, sin(elevation) for views evenly around
# (0.64 at 40 degrees up), 0.92 / 0.84 / 0.75 for two views 60 / 90 / 120 degrees apart at 40 up.
SURROUND_RESULTANT = 0.8


def fused_cloud_kind(fused: FusedCloud, max_resultant: float = SURROUND_RESULTANT) -> str:
    """The fused cloud's kind: "complete" when the sensors saw it from around (the mean of the unit
    directions from the cloud's median point to the sensors is at most max_resultant long), else
    "camera": views from one side (or one static sensor) leave the back unseen, as one view does."""
    directions = fused.sensors - np.median(fused.points, axis=0)
    length = np.linalg.norm(directions, axis=1)
    directions = directions[length > 1e-9] / length[length > 1e-9, None]
    if len(directions) < 2:
        return "camera"
    return "complete" if np.linalg.norm(directions.mean(0)) <= max_resultant else "camera"
