"""PartObject: an object as points with outward normals and per-point part labels (metres).

Optionally carries the mesh it was sampled from (vertices, faces, per-face part ids). Every
source (procedural generator, mesh and dataset loaders, camera clouds) produces this type.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import numpy as np

UNLABELLED = -1


@dataclass
class PartMesh:
    vertices: np.ndarray  # (V, 3) float64, metres
    faces: np.ndarray  # (F, 3) int64, outward (counter-clockwise seen from outside)
    face_parts: np.ndarray  # (F,) int64 part id per face (UNLABELLED = -1 when unknown)

    def __post_init__(self):
        self.vertices = np.asarray(self.vertices, dtype=np.float64).reshape(-1, 3)
        self.faces = np.asarray(self.faces, dtype=np.int64).reshape(-1, 3)
        self.face_parts = np.asarray(self.face_parts, dtype=np.int64).reshape(-1)
        if len(self.face_parts) != len(self.faces):
            raise ValueError(f"{len(self.face_parts)} face labels for {len(self.faces)} faces")
        if len(self.faces) and (self.faces.min() < 0 or self.faces.max() >= len(self.vertices)):
            raise ValueError("face indices out of range")

    def digest(self) -> str:
        """A hex key of the geometry (vertices and faces), for caches of what is derived from it."""
        h = hashlib.sha1(repr((self.vertices.shape, self.faces.shape)).encode())
        h.update(self.vertices.tobytes())
        h.update(self.faces.tobytes())
        return h.hexdigest()

    @classmethod
    def from_pieces(cls, pieces) -> PartMesh:
        """One mesh from pieces with .vertices and .faces (e.g. trimesh meshes): piece i is part i."""
        offsets = np.cumsum([0] + [len(p.vertices) for p in pieces[:-1]])
        return cls(
            np.vstack([p.vertices for p in pieces]),
            np.vstack([np.asarray(p.faces) + o for p, o in zip(pieces, offsets, strict=True)]),
            np.concatenate([np.full(len(p.faces), i) for i, p in enumerate(pieces)]),
        )


@dataclass
class PartObject:
    points: np.ndarray  # (N, 3) float64, metres
    normals: np.ndarray | None  # (N, 3) unit, outward; None when unknown
    part_ids: np.ndarray  # (N,) int64 index into part_names, UNLABELLED (-1) when unknown
    part_names: list[str]  # part_names[i] is the name of part id i, e.g. ["body", "handle"]
    category: str = ""
    provenance: str = ""  # where it came from (generator + seed, file path, camera)
    mesh: PartMesh | None = None
    extras: dict = field(default_factory=dict)

    def __post_init__(self):
        self.points = np.asarray(self.points, dtype=np.float64).reshape(-1, 3)
        self.part_ids = np.asarray(self.part_ids, dtype=np.int64).reshape(-1)
        if self.normals is not None:
            self.normals = np.asarray(self.normals, dtype=np.float64).reshape(-1, 3)
            if len(self.normals) != len(self.points):
                raise ValueError(f"{len(self.normals)} normals for {len(self.points)} points")
        if len(self.part_ids) != len(self.points):
            raise ValueError(f"{len(self.part_ids)} part ids for {len(self.points)} points")
        if len(self.part_ids) and self.part_ids.max(initial=-1) >= len(self.part_names):
            raise ValueError(f"part id {self.part_ids.max()} but only {len(self.part_names)} part names")

    def __len__(self) -> int:
        return len(self.points)

    def part_id(self, name: str) -> int:
        """Id of a part by name (exact, then case-insensitive); ValueError listing the names if absent."""
        if name in self.part_names:
            return self.part_names.index(name)
        lowered = [n.lower() for n in self.part_names]
        if name.lower() in lowered:
            return lowered.index(name.lower())
        raise ValueError(f"{self.category or 'object'} has no part '{name}'; parts: {self.part_names}")

    def part_mask(self, name: str) -> np.ndarray:
        return self.part_ids == self.part_id(name)

    def subset(self, mask: np.ndarray) -> PartObject:
        """A new object with only the selected points (mesh kept)."""
        return replace(
            self,
            points=self.points[mask],
            normals=None if self.normals is None else self.normals[mask],
            part_ids=self.part_ids[mask],
            part_names=list(self.part_names),
            extras=dict(self.extras),
        )

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> PartObject:
        """Rigidly moved copy: p' = R p + t (normals rotated)."""
        R, t = np.asarray(rotation, float), np.asarray(translation, float)
        mesh = None
        if self.mesh is not None:
            mesh = PartMesh(self.mesh.vertices @ R.T + t, self.mesh.faces, self.mesh.face_parts)
        return replace(
            self,
            points=self.points @ R.T + t,
            normals=None if self.normals is None else self.normals @ R.T,
            part_names=list(self.part_names),
            mesh=mesh,
            extras=dict(self.extras),
        )

    def scaled(self, factor: float) -> PartObject:
        """Uniformly scaled copy (about the origin)."""
        if not np.isfinite(factor) or factor <= 0:
            raise ValueError(f"scale factor must be a positive number, got {factor}")
        mesh = None
        if self.mesh is not None:
            mesh = PartMesh(self.mesh.vertices * factor, self.mesh.faces, self.mesh.face_parts)
        return replace(self, points=self.points * factor, part_names=list(self.part_names), mesh=mesh,
                       extras=dict(self.extras))  # fmt: skip


def sample_mesh(mesh: PartMesh, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Area-uniform surface samples of a mesh: points (n, 3), outward face normals (n, 3), part ids (n,).

    Deterministic for a seed. Normals are the faces' (outward when the mesh is consistently
    wound counter-clockwise seen from outside).
    """
    if n <= 0:
        raise ValueError(f"number of samples must be positive, got {n}")
    tri = mesh.vertices[mesh.faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    if area.sum() <= 0:
        raise ValueError("the mesh has no surface area")
    rng = np.random.default_rng(seed)
    face = rng.choice(len(area), size=n, p=area / area.sum())
    u, v = rng.random((2, n))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[face]
    pts = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    normals = cross[face] / (np.linalg.norm(cross[face], axis=1, keepdims=True) + 1e-18)
    return pts, normals, mesh.face_parts[face]


def object_from_mesh(mesh: PartMesh, part_names: list[str], n: int = 2048, seed: int = 0,
                     category: str = "", provenance: str = "") -> PartObject:  # fmt: skip
    """Sample a labelled mesh into a PartObject of n points."""
    pts, normals, parts = sample_mesh(mesh, n, seed)
    return PartObject(pts, normals, parts, list(part_names), category, provenance, mesh)


def rescale_to_size(obj: PartObject, target_extent: float) -> PartObject:
    """Scale so the largest bounding-box extent equals target_extent (metres)."""
    extent = float((obj.points.max(0) - obj.points.min(0)).max()) if len(obj) else 0.0
    if extent <= 0:
        raise ValueError("cannot rescale an object with zero extent")
    return obj.scaled(target_extent / extent)
