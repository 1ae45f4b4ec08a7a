"""Closed, outward-oriented primitive meshes (trimesh) for the procedural object generator.

Object frame: z up, the object standing on z = 0 unless it lies flat; metres.
"""

from __future__ import annotations

import numpy as np
import trimesh

SECTIONS = 32


def _oriented(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    if mesh.volume < 0:
        mesh.invert()
    return mesh


def cylinder(radius: float, height: float, z0: float = 0.0, center=(0.0, 0.0), axis: str = "z") -> trimesh.Trimesh:
    """Solid cylinder; along z it spans z0..z0+height at (x, y) = center; along x/y it is centred on center."""
    m = trimesh.creation.cylinder(radius=radius, height=height, sections=SECTIONS)
    if axis == "z":
        m.apply_translation([center[0], center[1], z0 + height / 2])
    else:
        R = trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0] if axis == "x" else [1, 0, 0])
        m.apply_transform(R)
        m.apply_translation([center[0], center[1], z0])
    return _oriented(m)


def frustum(r_bottom: float, r_top: float, height: float, z0: float = 0.0) -> trimesh.Trimesh:
    """Solid truncated cone standing on z0 (a surface of revolution about z)."""
    profile = np.array([[0.0, 0.0], [r_bottom, 0.0], [r_top, height], [0.0, height]])
    m = trimesh.creation.revolve(profile, sections=SECTIONS)
    m.apply_translation([0, 0, z0])
    return _oriented(m)


def revolved(profile_rz: np.ndarray, z0: float = 0.0) -> trimesh.Trimesh:
    """Solid of revolution of a (r, z) outline that starts and ends on the axis (r = 0)."""
    m = trimesh.creation.revolve(np.asarray(profile_rz, float), sections=SECTIONS)
    m.apply_translation([0, 0, z0])
    return _oriented(m)


def box(size, center=(0.0, 0.0, 0.0), rotation: np.ndarray | None = None) -> trimesh.Trimesh:
    T = np.eye(4)
    if rotation is not None:
        T[:3, :3] = rotation
    T[:3, 3] = center
    return _oriented(trimesh.creation.box(extents=size, transform=T))


def ellipsoid(radii, center=(0.0, 0.0, 0.0)) -> trimesh.Trimesh:
    m = trimesh.creation.icosphere(subdivisions=3, radius=1.0)
    m.apply_scale(radii)
    m.apply_translation(center)
    return _oriented(m)


def tube(path: np.ndarray, radius: float, sections: int = 16) -> trimesh.Trimesh:
    """A closed tube (capped ends) along a polyline, with parallel-transported cross-sections."""
    path = np.asarray(path, float)
    tangents = np.gradient(path, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1, keepdims=True)
    ref = np.array([0.0, 0.0, 1.0]) if abs(tangents[0, 2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    normal = np.cross(tangents[0], ref)
    normal /= np.linalg.norm(normal)
    angles = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    rings = []
    for p, t in zip(path, tangents, strict=True):
        normal = normal - normal.dot(t) * t  # parallel transport: keep the frame twist-free
        normal /= np.linalg.norm(normal)
        binormal = np.cross(t, normal)
        rings.append(p + radius * (np.cos(angles)[:, None] * normal + np.sin(angles)[:, None] * binormal))
    verts = np.concatenate(rings + [path[:1], path[-1:]])
    k, s = len(path), sections
    faces = []
    for i in range(k - 1):
        for j in range(s):
            a, b = i * s + j, i * s + (j + 1) % s
            c, d = a + s, b + s
            faces += [[a, b, d], [a, d, c]]
    start, end = k * s, k * s + 1
    for j in range(s):
        faces.append([start, (j + 1) % s, j])
        faces.append([end, (k - 1) * s + j, (k - 1) * s + (j + 1) % s])
    return _oriented(trimesh.Trimesh(verts, np.array(faces), process=True))


def arc(
    center, radius: float, start: float, end: float, u=(1.0, 0.0, 0.0), v=(0.0, 0.0, 1.0), n: int = 24
) -> np.ndarray:
    """Points on a circular arc: center + r (cos a u + sin a v), a from start to end (radians)."""
    a = np.linspace(start, end, n)
    u, v = np.asarray(u, float), np.asarray(v, float)
    return np.asarray(center, float) + radius * (np.cos(a)[:, None] * u + np.sin(a)[:, None] * v)


def rotation_z(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def rotation_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
