"""Simulation displacement (pybullet): does the grasp hold the object?

The hand is static (its mesh as a concave collision shape), the object dynamic: mass 1 kg,
convex decomposition (V-HACD), friction 3, timestep 1/240 s. After `duration` seconds under
gravity we report how far the object's centre of mass moved (metres). The paper's variant
applies gravity along the world's -z; the stricter one averages six directions (+-x, +-y, +-z).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass

import numpy as np
import pybullet as pb
import trimesh

from ..objects.part_object import PartMesh

SIX_DIRECTIONS = np.array([[0, 0, -1], [0, 0, 1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]], dtype=float)


@dataclass
class SimulationConfig:
    duration: float = 1.0  # s
    timestep: float = 1.0 / 240.0
    friction: float = 3.0
    mass: float = 1.0  # kg
    gravity: float = 9.81  # m/s^2
    vhacd_resolution: int = 100000


_DECOMP_CACHE: dict[str, str] = {}


@contextlib.contextmanager
def _quiet_stdout():
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def convex_decomposition(mesh: PartMesh, resolution: int = 100000) -> str:
    """Path to a V-HACD decomposition (OBJ of convex pieces) of the mesh, cached per mesh."""
    key = hashlib.sha1(mesh.vertices.tobytes() + mesh.faces.tobytes() + str(resolution).encode()).hexdigest()
    if key in _DECOMP_CACHE and os.path.exists(_DECOMP_CACHE[key]):
        return _DECOMP_CACHE[key]
    folder = os.path.join(tempfile.gettempdir(), "gdexgrasp_vhacd")
    os.makedirs(folder, exist_ok=True)
    src, dst = os.path.join(folder, f"{key}_in.obj"), os.path.join(folder, f"{key}.obj")
    trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).export(src)
    client = pb.connect(pb.DIRECT)
    try:
        with _quiet_stdout():  # V-HACD prints its whole option table and progress to fd 1
            pb.vhacd(src, dst, os.path.join(folder, f"{key}.log"), resolution=resolution, physicsClientId=client)
    finally:
        pb.disconnect(client)
    _DECOMP_CACHE[key] = dst
    return dst


def simulation_displacement(hand_vertices: np.ndarray, hand_faces: np.ndarray, object_mesh: PartMesh,
                            gravity_direction=(0.0, 0.0, -1.0), config: SimulationConfig | None = None) -> float:  # fmt: skip
    """Displacement (m) of the object's centre of mass after `duration` s of gravity along gravity_direction."""
    cfg = config or SimulationConfig()
    decomposition = convex_decomposition(object_mesh, cfg.vhacd_resolution)
    client = pb.connect(pb.DIRECT)
    try:
        g = np.asarray(gravity_direction, float)
        pb.setGravity(*(cfg.gravity * g / np.linalg.norm(g)), physicsClientId=client)
        pb.setTimeStep(cfg.timestep, physicsClientId=client)
        hand_shape = pb.createCollisionShape(pb.GEOM_MESH, vertices=np.asarray(hand_vertices, float).tolist(),
                                             indices=np.asarray(hand_faces, int).ravel().tolist(),
                                             flags=pb.GEOM_FORCE_CONCAVE_TRIMESH, physicsClientId=client)  # fmt: skip
        hand = pb.createMultiBody(0.0, hand_shape, physicsClientId=client)
        # Body frame at the centre of mass, so its displacement is the centre's, not a lever's.
        com = trimesh.Trimesh(object_mesh.vertices, object_mesh.faces, process=False).center_mass
        obj_shape = pb.createCollisionShape(pb.GEOM_MESH, fileName=decomposition, collisionFramePosition=(-com).tolist(),
                                            physicsClientId=client)  # fmt: skip
        obj = pb.createMultiBody(cfg.mass, obj_shape, basePosition=com.tolist(), physicsClientId=client)
        for body in (hand, obj):
            pb.changeDynamics(body, -1, lateralFriction=cfg.friction, physicsClientId=client)
        start = np.array(pb.getBasePositionAndOrientation(obj, physicsClientId=client)[0])
        for _ in range(int(round(cfg.duration / cfg.timestep))):
            pb.stepSimulation(physicsClientId=client)
        end = np.array(pb.getBasePositionAndOrientation(obj, physicsClientId=client)[0])
        return float(np.linalg.norm(end - start))
    finally:
        pb.disconnect(client)


def simulation_displacement_six(hand_vertices, hand_faces, object_mesh: PartMesh,
                                config: SimulationConfig | None = None) -> float:  # fmt: skip
    """Mean displacement (m) over gravity along +-x, +-y, +-z (the stricter variant)."""
    return float(np.mean([simulation_displacement(hand_vertices, hand_faces, object_mesh, d, config)
                          for d in SIX_DIRECTIONS]))  # fmt: skip
