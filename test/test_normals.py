"""Normals that point out (geometry/normals.py, preprocess): complete clouds outward, camera views
towards the sensor, the kind of cloud detected, flat faces of complete objects kept."""

import numpy as np
import open3d as o3d
import pytest
import trimesh

from gdexgrasp_ros.benchmark.shapes import default_data_dir, load_shape, shared_shapes
from gdexgrasp_ros.geometry import normals as N
from gdexgrasp_ros.objects.camera import table_top_scene
from gdexgrasp_ros.objects.part_object import PartMesh, object_from_mesh, sample_mesh
from gdexgrasp_ros.objects.preprocess import CloudPreprocessError, PreprocessConfig, estimate_normals, preprocess_cloud
from gdexgrasp_ros.objects.procedural import generate_mesh

CLOUD_POINTS = 8192  # a complete cloud as the benchmark sends it (mesh samples, object frame)
PROCEDURAL = ["mug", "kettle", "scissors", "teapot", "frying pan", "suitcase", "watering can", "hammer"]


def _inward_share(normals: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    """(share pointing into the object, share judged): judged are the normals within 60 degrees of the
    surface's normal line; one further off is an estimation error (a thin edge), neither in nor out."""
    cos = np.einsum("ij,ij->i", normals, true)
    judged = np.abs(cos) >= 0.5
    return float(np.mean(cos[judged] < 0)), float(judged.mean())


@pytest.mark.parametrize("category", PROCEDURAL)
def test_complete_procedural_clouds_point_outward(category):
    mesh, _ = generate_mesh(category, 0)
    points, face_normals, _ = sample_mesh(mesh, CLOUD_POINTS, 0)
    # Object frame, resting on z = 0: the viewpoint (the origin) is the object's base centre.
    out = preprocess_cloud(points)
    assert out.cloud_kind == "complete" and out.kind_source.startswith("detected")
    assert out.plane is None, "a complete object's flat face is not a table"
    inward, judged = _inward_share(out.object_normals, face_normals[out.object_indices])
    assert judged > 0.8 and inward < 0.02, (inward, judged)
    # The old orientation (towards the viewpoint at the origin) turned most of them inward.
    old = N.orient_towards(out.object_points, out.object_normals, np.zeros(3))
    assert _inward_share(old, face_normals[out.object_indices])[0] > 0.5


def _inside(scenes, query: np.ndarray, rays: int = 15) -> np.ndarray:
    """+1 inside (13 of 15 rays cross some part's faces an odd number of times), -1 outside (at most 2
    odd for every part), 0 unsure: PartNet meshes are open and overlapping, a single parity test lies."""
    directions = np.random.default_rng(0).normal(size=(rays, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    odd = np.zeros((len(scenes), len(query)))
    for k, scene in enumerate(scenes):
        for d in directions:
            cast = o3d.core.Tensor(np.hstack([query, np.broadcast_to(d, query.shape)]).astype(np.float32))
            odd[k] += scene.count_intersections(cast).numpy() % 2
    return np.where((odd >= rays - 2).any(0), 1, np.where((odd <= 2).all(0), -1, 0))


def _mesh_inward(mesh: PartMesh, points: np.ndarray, normals: np.ndarray, step: float = 0.003):
    """(inward, outward) counts: inward when p + 3 mm n is inside and p - 3 mm n outside (per part)."""
    scenes = []
    for part in np.unique(mesh.face_parts):
        scene = o3d.t.geometry.RaycastingScene()
        faces = mesh.faces[mesh.face_parts == part]
        scene.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
        scenes.append(scene)
    ahead, behind = _inside(scenes, points + step * normals), _inside(scenes, points - step * normals)
    return int(np.sum((ahead == 1) & (behind == -1))), int(np.sum((ahead == -1) & (behind == 1)))


REAL = [s for s in shared_shapes(default_data_dir())]


@pytest.mark.skipif(not REAL, reason="no ../shared/data/partnet_mobility (real shapes)")
def test_complete_real_clouds_point_outward():
    inward = outward = 0
    worst = []
    for shape in REAL:
        obj = load_shape(shape).obj
        if obj.mesh is None:  # a point sample only: nothing to judge against
            continue
        points, _, _ = sample_mesh(obj.mesh, CLOUD_POINTS, 0)
        out = preprocess_cloud(points)
        assert out.cloud_kind == "complete" and out.plane is None, shape.shape_id
        i, o = _mesh_inward(obj.mesh, out.object_points, out.object_normals)
        inward, outward = inward + i, outward + o
        worst.append((i / max(i + o, 1), shape.shape_id))
    # Thin-walled hollow shapes (cup, pot, bucket: 2-4 mm walls, 3-6 mm sample spacing) keep a few
    # inward normals each; the old orientation (towards the object's base) had 53-100 %.
    assert inward / (inward + outward) < 0.02, sorted(worst)[-5:]
    assert max(worst)[0] < 0.08, sorted(worst)[-5:]


@pytest.fixture(scope="module")
def scenes():
    out = []
    for category, seed in (("mug", 1), ("teapot", 2), ("hammer", 3)):
        mesh, names = generate_mesh(category, 0)
        out.append(table_top_scene(object_from_mesh(mesh, names, 2048, 0, category), [], seed=seed))
    return out


def test_camera_views_still_face_the_sensor(scenes):
    for scene in scenes:
        for cloud in (scene.cloud.points, scene.cloud.points.reshape(-1, 3)):  # organised, and not
            out = preprocess_cloud(cloud)
            assert out.cloud_kind == "camera"
            to_sensor = np.einsum("ij,ij->i", out.object_normals, -out.object_points)  # sensor at the origin
            assert np.mean(to_sensor > 0) > 0.99


def test_detection(scenes):
    for scene in scenes:
        assert N.detect_cloud_kind(scene.cloud.points, np.zeros(3), organised=True) == "camera"
        for cloud in (scene.cloud.points.reshape(-1, 3), scene.cloud.points[scene.target_mask]):
            kind, why = N.cloud_kind_evidence(cloud, np.zeros(3))
            assert kind == "camera", why
    for category in ("mug", "scissors", "suitcase"):
        mesh, _ = generate_mesh(category, 0)
        points, _, _ = sample_mesh(mesh, 4096, 0)
        centre = (points.max(0) + points.min(0)) / 2
        # Object frame on z = 0, centred, or seen from outside its bounds (fused views in a room's frame).
        for view in (np.zeros(3), centre, centre + [0.0, 0.0, 1.0], centre + [0.5, 0.3, 0.2], centre - [0.0, 0.6, 0.0]):
            assert N.detect_cloud_kind(points, view) == "complete", (category, view)
            assert N.detect_cloud_kind(points - centre, view - centre) == "complete", (category, view)


def test_explicit_kind_wins_and_is_reported(scenes):
    mesh, _ = generate_mesh("mug", 0)
    points, _, _ = sample_mesh(mesh, 4096, 0)
    camera = preprocess_cloud(points, PreprocessConfig(cloud_kind="camera"))
    assert camera.cloud_kind == "camera" and camera.kind_source == "configured"
    assert np.all(np.einsum("ij,ij->i", camera.object_normals, -camera.object_points) >= 0)
    complete = preprocess_cloud(scenes[0].cloud.points, PreprocessConfig(cloud_kind="auto"), cloud_kind="complete")
    assert complete.cloud_kind == "complete" and complete.kind_source == "configured"
    with pytest.raises(ValueError, match="cloud_kind"):
        PreprocessConfig(cloud_kind="mesh")


def _box_cloud(size=(0.30, 0.20, 0.12), n=CLOUD_POINTS):
    box = trimesh.creation.box(size)
    box.apply_translation([0, 0, size[2] / 2])  # resting on z = 0
    mesh = PartMesh(box.vertices, box.faces, np.zeros(len(box.faces)))
    return sample_mesh(mesh, n, 0)


def _tray_cloud(length=0.30, width=0.20, floor=0.006, wall=0.01, height=0.03):
    """A tray: a 6 mm floor (thinner than the plane's inlier band) with a 3 cm rim."""
    parts = [trimesh.creation.box([length, width, floor]).apply_translation([0, 0, floor / 2])]
    for s in (-1, 1):
        parts.append(
            trimesh.creation.box([wall, width, height]).apply_translation([s * (length - wall) / 2, 0, height / 2])
        )
        parts.append(
            trimesh.creation.box([length, wall, height]).apply_translation([0, s * (width - wall) / 2, height / 2])
        )
    tray = trimesh.boolean.union(parts, engine="manifold")
    return sample_mesh(PartMesh(tray.vertices, tray.faces, np.zeros(len(tray.faces))), CLOUD_POINTS, 0)


@pytest.mark.parametrize("shape", ["box", "tray", "frying pan", "suitcase"])
def test_flat_faces_of_a_complete_object_are_kept(shape):
    if shape == "box":
        points, face_normals, _ = _box_cloud()
    elif shape == "tray":  # its floor is farther than 2 cluster_eps from the rim, but inside its outline
        points, face_normals, _ = _tray_cloud()
    else:
        points, face_normals, _ = sample_mesh(generate_mesh(shape, 0)[0], CLOUD_POINTS, 0)
    out = preprocess_cloud(points)
    assert out.cloud_kind == "complete" and out.plane is None
    bottom = out.object_points[:, 2] < 0.002
    assert bottom.sum() > 50, "the base is still there"
    flat = bottom & (np.abs(out.object_normals[:, 2]) > 0.9)  # not on the edges, where normals blend faces
    assert flat.sum() > 50 and np.mean(out.object_normals[flat, 2] < 0) > 0.99, "its normals point down, out"
    assert len(out.object_points) > 0.97 * len(np.unique(np.floor(points / 0.003), axis=0))
    # Taken for a camera view (the only kind before), a face holding > 15 % of the voxels went as "the
    # table", or with the viewpoint on it everything did.
    try:
        assert preprocess_cloud(points, PreprocessConfig(cloud_kind="camera")).plane is not None
    except CloudPreprocessError as err:
        assert "nothing is left after removing the dominant plane" in str(err)


def test_a_table_under_a_fused_object_is_removed():
    """Fused views of an object on a table: the table is seen from above only and reaches beyond
    the object; it is removed as the support, turned up, and stays out of the object, which keeps
    its sides down to the table's noise margin."""
    points, _, _ = _box_cloud((0.12, 0.08, 0.10), 6000)
    points = points[points[:, 2] > 1e-4]  # the box's bottom rests on the table: unseen
    g = np.arange(-0.3, 0.3, 0.004)
    table = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    table = table[(np.abs(table[:, 0]) > 0.062) | (np.abs(table[:, 1]) > 0.042)]  # not under the box
    cloud = np.vstack([points, np.c_[table, np.zeros(len(table))]])
    out = preprocess_cloud(cloud, PreprocessConfig(cloud_kind="complete"), viewpoint=np.zeros(3))
    assert out.plane is not None and out.plane[2] > 0.99, out.plane
    # No table point joins the object (they lie at z = 0); the box's sides reach down to the
    # plane's noise margin (plane_min_margin, 2 mm: this table has no noise), not 8 mm.
    assert 0.0015 < out.object_points[:, 2].min() < 0.004 and np.ptp(out.object_points[:, 0]) < 0.13


def test_a_table_whose_edge_faces_were_seen_is_still_removed_under_a_fused_object():
    """Views from beside a table see its edge faces below its top. They lie away from the object, so
    they are no far side of the object: on 3 of 5 fused three-view mugs they were 11 % of the off-plane
    voxels and the whole 0.8 m table was kept as the object."""
    points, _, _ = _box_cloud((0.12, 0.08, 0.10), 6000)
    points = points[points[:, 2] > 1e-4]
    g = np.arange(-0.3, 0.3, 0.004)
    table = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    table = table[(np.abs(table[:, 0]) > 0.062) | (np.abs(table[:, 1]) > 0.042)]
    depth = np.arange(-0.024, -0.009, 0.004)  # the edge faces, 1.2-2.4 cm below the top
    along, down = (a.ravel() for a in np.meshgrid(g, depth))
    edges = [np.c_[np.full(len(along), x), along, down] for x in (-0.3, 0.3)]
    edges += [e[:, [1, 0, 2]] for e in edges]  # the other two sides
    cloud = np.vstack([points, np.c_[table, np.zeros(len(table))], *edges])
    out = preprocess_cloud(cloud, PreprocessConfig(cloud_kind="complete"), viewpoint=np.zeros(3))
    assert out.plane is not None and out.plane[2] > 0.99, out.plane
    assert np.ptp(out.object_points[:, 0]) < 0.13 and out.object_points[:, 2].min() > 0.001


def test_a_flat_web_with_flanges_on_both_sides_apart_is_kept():
    """A Z-bracket: its web is the dominant plane, one flange rises at one edge, the other hangs at
    the opposite edge. The far flange lies away from the near one, but the web does not surround the
    near flange as a table does its objects, so the far flange counts and the web stays the object's."""
    web = trimesh.creation.box([0.10, 0.10, 0.003]).apply_translation([0, 0, 0.0015])
    up = trimesh.creation.box([0.003, 0.10, 0.03]).apply_translation([-0.0485, 0, 0.015])
    down = trimesh.creation.box([0.003, 0.10, 0.03]).apply_translation([0.0485, 0, -0.012])
    bracket = trimesh.boolean.union([web, up, down], engine="manifold")
    points, _, _ = sample_mesh(PartMesh(bracket.vertices, bracket.faces, np.zeros(len(bracket.faces))), 8000, 0)
    out = preprocess_cloud(points, PreprocessConfig(cloud_kind="complete"))
    assert out.plane is None and np.ptp(out.object_points[:, 0]) > 0.09 and np.ptp(out.object_points[:, 2]) > 0.05


def test_orient_outward_on_closed_and_tiny_inputs():
    sphere = trimesh.creation.icosphere(3, 0.05)
    pts = np.asarray(sphere.vertices)
    rough = N.estimate_normals(pts, None, 12)
    flipped = rough * np.where(np.arange(len(pts)) % 2 == 0, 1.0, -1.0)[:, None]
    out = N.orient_outward(pts, flipped)
    assert np.all(np.einsum("ij,ij->i", out, pts) > 0)
    assert np.allclose(np.abs(out), np.abs(flipped)), "only signs change"
    few = np.array([[0.0, 0, 0], [0.01, 0, 0], [0, 0.01, 0]])
    assert N.orient_outward(few, np.tile([0, 0, 1.0], (3, 1))).shape == (3, 3)
    with pytest.raises(ValueError, match="normals for"):
        N.orient_outward(pts, rough[:5])


def test_estimate_normals_orients_per_kind():
    mesh, _ = generate_mesh("teapot", 0)
    points, face_normals, _ = sample_mesh(mesh, 4096, 0)
    assert _inward_share(estimate_normals(points, np.zeros(3), kind="complete"), face_normals)[0] < 0.02
    assert _inward_share(estimate_normals(points, np.zeros(3)), face_normals)[0] > 0.5  # default: camera
    with pytest.raises(ValueError, match="kind"):
        estimate_normals(points, np.zeros(3), kind="auto")
