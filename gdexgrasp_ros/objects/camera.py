"""A virtual pinhole depth camera (open3d ray casting) and a table-top test scene, in metres.

Camera frame convention (REP-103 optical frame, as ``*_optical_frame`` in ROS): origin at the
optical centre, +z forward along the optical axis, +x right in the image, +y down in the image.
A pixel (row v, column u) looks along the ray ((u - cx) / fx, (v - cy) / fy, 1) in that frame,
so a hit at depth z lies at z * that ray. Clouds are organised (height, width, 3), like a
depth camera's, with NaN where the ray hits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import open3d as o3d

from .part_object import UNLABELLED, PartMesh, PartObject

MISS = -1  # object_index / part_ids of a pixel whose ray hits nothing


@dataclass
class PinholeCamera:
    """Intrinsics in pixels (defaults: a 640x480 Kinect-like camera, ~63 degrees horizontal FOV)."""

    width: int = 640
    height: int = 480
    fx: float = 525.0
    fy: float = 525.0
    cx: float = 319.5
    cy: float = 239.5

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")

    @property
    def intrinsic_matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def ray_directions(self) -> np.ndarray:
        """(H, W, 3) ray per pixel in the optical frame, scaled so that z = 1 (t along it is depth)."""
        u, v = np.meshgrid(np.arange(self.width, dtype=np.float64), np.arange(self.height, dtype=np.float64))
        return np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, np.ones_like(u)], axis=-1)


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """4x4 camera-to-world pose of an optical-frame camera at eye looking at target.

    The image's "up" (-y) is the projection of the world ``up`` onto the image plane.
    """
    eye, target, up = (np.asarray(a, dtype=np.float64).reshape(3) for a in (eye, target, up))
    forward = target - eye
    if np.linalg.norm(forward) < 1e-12:
        raise ValueError("look_at: eye and target coincide")
    z = forward / np.linalg.norm(forward)
    right = np.cross(z, up)  # optical x: forward x up points to the image's right
    if np.linalg.norm(right) < 1e-9 * max(np.linalg.norm(up), 1e-300):
        raise ValueError("look_at: the viewing direction is parallel to up; pass another up vector")
    x = right / np.linalg.norm(right)
    y = np.cross(z, x)  # optical y points down in the image
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = eye
    return pose


@dataclass
class OrganizedCloud:
    """A rendered depth image as an organised point cloud (optical frame of the camera)."""

    points: np.ndarray  # (H, W, 3) float64, camera optical frame, NaN where the ray misses
    object_index: np.ndarray  # (H, W) int64, index of the hit mesh in the render list, MISS (-1) on a miss
    part_ids: np.ndarray  # (H, W) int64, face_parts of the hit face, -1 on a miss (or unlabelled face)
    cam_to_world: np.ndarray  # (4, 4)
    camera: PinholeCamera = field(default_factory=PinholeCamera)
    normals: np.ndarray | None = None  # (H, W, 3) hit face's normal (outward per winding), camera frame, NaN on a miss

    @property
    def valid(self) -> np.ndarray:
        """(H, W) bool: the ray hit something."""
        return self.object_index != MISS

    def world_points(self) -> np.ndarray:
        """(H, W, 3) points in the world frame (NaN kept)."""
        R, t = self.cam_to_world[:3, :3], self.cam_to_world[:3, 3]
        return self.points @ R.T + t


def _build_scene(meshes) -> tuple[o3d.t.geometry.RaycastingScene, list[PartMesh], list[int]]:
    scene = o3d.t.geometry.RaycastingScene()
    parts, indices = [], []
    for mesh, index in meshes:
        if not isinstance(mesh, PartMesh):
            raise ValueError(f"render_depth_cloud expects (PartMesh, object_index) pairs, got {type(mesh).__name__}")
        if len(mesh.faces) == 0:
            raise ValueError(f"mesh of object {index} has no faces")
        geometry_id = scene.add_triangles(
            o3d.core.Tensor(mesh.vertices.astype(np.float32)), o3d.core.Tensor(mesh.faces.astype(np.uint32))
        )
        # Geometry ids are assigned 0, 1, 2, ... in insertion order; the lookup below relies on it.
        if geometry_id != len(parts):
            raise RuntimeError(f"unexpected open3d geometry id {geometry_id} for mesh {len(parts)}")
        parts.append(mesh)
        indices.append(int(index))
    return scene, parts, indices


def render_depth_cloud(
    meshes: list[tuple[PartMesh, int]],
    camera: PinholeCamera,
    cam_to_world: np.ndarray,
    noise_std: float = 0.0,
    seed: int = 0,
) -> OrganizedCloud:
    """Ray-cast meshes (world frame) into an organised cloud seen by ``camera`` at ``cam_to_world``.

    One ray per pixel centre. ``noise_std`` (metres) adds seeded Gaussian noise to the depth,
    moving each hit along its own ray, as a structured-light / ToF sensor errs.
    """
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0 metres, got {noise_std}")
    pose = np.asarray(cam_to_world, dtype=np.float64)
    if pose.shape != (4, 4):
        raise ValueError(f"cam_to_world must be 4x4, got {pose.shape}")
    scene, parts, indices = _build_scene(meshes)
    dirs_cam = camera.ray_directions()
    rays = np.empty((camera.height, camera.width, 6), dtype=np.float32)
    rays[..., :3] = pose[:3, 3]
    rays[..., 3:] = dirs_cam @ pose[:3, :3].T  # rotation keeps the z = 1 scaling: t_hit is the depth
    hit = scene.cast_rays(o3d.core.Tensor(rays))
    depth = hit["t_hit"].numpy().astype(np.float64)
    geometry = hit["geometry_ids"].numpy().astype(np.int64)
    primitive = hit["primitive_ids"].numpy().astype(np.int64)
    valid = np.isfinite(depth)
    if noise_std > 0:
        depth[valid] += np.random.default_rng(seed).normal(0.0, noise_std, size=int(valid.sum()))
    points = np.full((camera.height, camera.width, 3), np.nan)
    points[valid] = dirs_cam[valid] * depth[valid, None]
    normals = np.full_like(points, np.nan)
    normals[valid] = hit["primitive_normals"].numpy()[valid].astype(np.float64) @ pose[:3, :3]  # world -> camera
    object_index = np.full(depth.shape, MISS, dtype=np.int64)
    part_ids = np.full(depth.shape, UNLABELLED, dtype=np.int64)
    for geometry_id, (mesh, index) in enumerate(zip(parts, indices, strict=True)):
        sel = valid & (geometry == geometry_id)
        object_index[sel] = index
        part_ids[sel] = mesh.face_parts[primitive[sel]]
    return OrganizedCloud(points, object_index, part_ids, pose.copy(), camera, normals)


@dataclass
class TableTopScene:
    """A rendered table-top scene with its ground truth (masks are (H, W) bool over the image)."""

    cloud: OrganizedCloud
    target_mask: np.ndarray  # pixels whose ray hits the target
    distractor_mask: np.ndarray  # pixels whose ray hits any distractor
    table_mask: np.ndarray  # pixels whose ray hits the table
    objects: list[PartObject]  # placed (world frame) target first, then the distractors
    table_index: int  # object_index of the table in cloud.object_index (target 0, distractors 1..k)
    target_center_world: np.ndarray  # (3,) centre of the placed target's bounding box
    target_center_camera: np.ndarray  # (3,) the same point in the camera optical frame
    # Every rendered view, `cloud` first; the others from cameras at the same distance and
    # elevation, evenly spaced in azimuth around the target (table_top_scene's `views`).
    views: tuple[OrganizedCloud, ...] = ()


def _footprint(mesh: PartMesh) -> tuple[np.ndarray, float]:
    """XY centre of the bounding box and radius of the XY circle around it enclosing the mesh."""
    lo, hi = mesh.vertices.min(0), mesh.vertices.max(0)
    center = (lo[:2] + hi[:2]) / 2
    return center, float(np.linalg.norm(mesh.vertices[:, :2] - center, axis=1).max())


def table_size_for(target: PartObject, minimum: float = 0.8, margin: float = 0.1) -> float:
    """A square table's side (m) that holds the target: `minimum`, or its footprint plus a margin when larger
    (a broom lying down)."""
    radius = _footprint(target.mesh)[1]
    return minimum if 2 * radius <= minimum else 2 * radius + margin


def _place(obj: PartObject, xy: np.ndarray) -> PartObject:
    """Translate so the footprint centre is at xy and the lowest vertex rests on z = 0."""
    center, _ = _footprint(obj.mesh)
    shift = np.array([xy[0] - center[0], xy[1] - center[1], -obj.mesh.vertices[:, 2].min()])
    return obj.transformed(np.eye(3), shift)


def _distractor_positions(radii: list[float], target_radius: float, table_size: float, rng) -> list[np.ndarray]:
    """Random XY centres 0.15-0.3 m from the target, footprints not overlapping, all on the table."""
    placed: list[tuple[np.ndarray, float]] = [(np.zeros(2), target_radius)]
    gap = 0.01  # keep footprints a centimetre apart so they are separate clusters
    positions = []
    for radius in radii:
        for _ in range(500):
            angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.15, 0.3)
            xy = dist * np.array([np.cos(angle), np.sin(angle)])
            on_table = np.all(np.abs(xy) + radius <= table_size / 2)
            if on_table and all(np.linalg.norm(xy - c) > r + radius + gap for c, r in placed):
                break
        else:
            raise ValueError(f"cannot place a distractor of radius {radius:.3f} m on a {table_size} m table")
        placed.append((xy, radius))
        positions.append(xy)
    return positions


def _table_mesh(table_size: float, thickness: float = 0.02) -> PartMesh:
    """A box with its top face at z = 0, outward-wound."""
    half = table_size / 2
    lo, hi = np.array([-half, -half, -thickness]), np.array([half, half, 0.0])
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    # Corner index = 4*ix + 2*iy + iz; two counter-clockwise (seen from outside) triangles per side.
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = [tri for a, b, c, d in quads for tri in ((a, b, c), (a, c, d))]
    return PartMesh(corners, np.array(faces), np.full(len(faces), UNLABELLED))


def _table_cameras(center: np.ndarray, rng, views: int = 1) -> list[np.ndarray]:
    """Cameras 0.6-0.9 m from center, 30-50 degrees above the table plane: the first at a random
    azimuth, the others at the same distance and elevation, turned by 360/views degrees each."""
    distance = rng.uniform(0.6, 0.9)
    elevation = np.deg2rad(rng.uniform(30.0, 50.0))
    azimuth = rng.uniform(0, 2 * np.pi)
    poses = []
    for k in range(views):
        a = azimuth + 2 * np.pi * k / views
        offset = distance * np.array([np.cos(elevation) * np.cos(a), np.cos(elevation) * np.sin(a), np.sin(elevation)])
        poses.append(look_at(center + offset, center))
    return poses


def table_top_scene(
    target: PartObject,
    distractors: list[PartObject],
    seed: int = 0,
    table_size: float = 0.8,
    noise_std: float = 0.001,
    camera: PinholeCamera | None = None,
    views: int = 1,
) -> TableTopScene:
    """Stand the target (at the table centre) and distractors on a table (top at z = 0) and render it.

    Objects keep their orientation (+z is up) and are only translated. Distractors are placed
    0.15-0.3 m from the target without overlapping footprints. Deterministic for a seed. `views`
    > 1 renders the scene from that many cameras around the target (TableTopScene.views); the
    first is the one a single view gets for the same seed.
    """
    if views < 1:
        raise ValueError(f"views must be >= 1, got {views}")
    objects = [target, *distractors]
    for i, obj in enumerate(objects):
        if obj.mesh is None:
            raise ValueError(f"{'target' if i == 0 else f'distractor {i - 1}'} has no mesh to render")
    if table_size <= 0:
        raise ValueError(f"table_size must be positive metres, got {table_size}")
    rng = np.random.default_rng(seed)
    radii = [_footprint(obj.mesh)[1] for obj in objects]
    if radii[0] > table_size / 2:
        raise ValueError(f"the target (footprint radius {radii[0]:.3f} m) does not fit on a {table_size} m table")
    positions = [np.zeros(2), *_distractor_positions(radii[1:], radii[0], table_size, rng)]
    placed = [_place(obj, xy) for obj, xy in zip(objects, positions, strict=True)]
    lo, hi = placed[0].mesh.vertices.min(0), placed[0].mesh.vertices.max(0)
    center = (lo + hi) / 2
    poses = _table_cameras(center, rng, views)
    pose = poses[0]
    table_index = len(placed)
    meshes = [(obj.mesh, i) for i, obj in enumerate(placed)] + [(_table_mesh(table_size), table_index)]
    rendered = tuple(render_depth_cloud(meshes, camera or PinholeCamera(), p, noise_std, seed + k)
                     for k, p in enumerate(poses))  # fmt: skip
    cloud = rendered[0]
    index = cloud.object_index
    center_cam = np.linalg.inv(pose)[:3] @ np.append(center, 1.0)
    return TableTopScene(
        cloud=cloud,
        target_mask=index == 0,
        distractor_mask=(index >= 1) & (index < table_index),
        table_mask=index == table_index,
        objects=placed,
        table_index=table_index,
        target_center_world=center,
        target_center_camera=center_cam,
        views=rendered,
    )


def mug_box_ball() -> tuple[PartObject, list[PartObject]]:
    """The preprocessing check scene's objects: a 10 cm open mug (hollow wall + bottom, torus
    handle; parts body, handle) as target, a box and a ball as distractors."""
    import trimesh

    from .part_object import object_from_mesh

    wall = trimesh.creation.annulus(0.035, 0.04, 0.1, sections=48)
    bottom = trimesh.creation.cylinder(0.035, 0.005, sections=48)
    bottom.apply_translation([0, 0, -0.0475])
    handle = trimesh.creation.torus(0.03, 0.006)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation([0.045, 0, 0])
    body = trimesh.util.concatenate([wall, bottom])
    mug = object_from_mesh(PartMesh.from_pieces([body, handle]), ["body", "handle"], category="mug")
    box = object_from_mesh(PartMesh.from_pieces([trimesh.creation.box([0.06, 0.04, 0.08])]), ["body"], category="box")
    ball = object_from_mesh(PartMesh.from_pieces([trimesh.creation.icosphere(3, 0.035)]), ["body"], category="ball")
    return mug, [box, ball]
