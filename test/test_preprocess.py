"""Sensor-cloud preprocessing and the virtual depth camera, on rendered table-top scenes (real open3d).

IoU, as used throughout: over the pixels of the rendered (organised) input cloud,
IoU = |S & T| / |S | T|, where S is the set of input pixels whose voxel is in the cluster that
preprocessing kept (PreprocessResult.cluster_mask(), before farthest-point sampling) and T the
set of pixels whose ray hit the true object (the renderer's object index). Pixels lost to the
plane removal (the object's bottom millimetres) and spurious pixels both lower it.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from gdexgrasp_ros.geometry.sampling import farthest_point_sampling
from gdexgrasp_ros.objects.camera import PinholeCamera, look_at, mug_box_ball, render_depth_cloud, table_top_scene
from gdexgrasp_ros.objects.part_object import PartMesh, PartObject, object_from_mesh
from gdexgrasp_ros.objects.preprocess import (
    CloudPreprocessError,
    PreprocessConfig,
    preprocess_cloud,
)

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def scenes():
    return {seed: table_top_scene(*mug_box_ball(), seed=seed) for seed in SEEDS}


@pytest.fixture(scope="module")
def scene(scenes):
    return scenes[0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def _nearest_config(scene, **kw) -> PreprocessConfig:
    return PreprocessConfig(target="nearest", target_point=tuple(scene.target_center_camera), **kw)


# --- camera -----------------------------------------------------------------------------------


def test_look_at_is_an_optical_frame():
    pose = look_at(eye=(1.0, 0.0, 0.5), target=(0.0, 0.0, 0.0))
    R = pose[:3, :3]
    assert np.allclose(R.T @ R, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    forward = -np.array([1.0, 0.0, 0.5]) / np.linalg.norm([1.0, 0.0, 0.5])
    assert np.allclose(R[:, 2], forward)  # z forward
    assert R[:, 1] @ np.array([0, 0, 1.0]) < 0  # y down
    assert np.allclose(R[:, 0], [0, 1, 0])  # x right: facing -x with z up, the right hand points to +y
    assert np.allclose(pose[:3, 3], [1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="parallel"):
        look_at((0, 0, 1), (0, 0, 0))


def test_render_depth_of_a_box_face():
    """A 0.2 m cube at the origin seen from 1 m along +x: the centre ray hits its face at depth 0.9."""
    cube = trimesh.creation.box([0.2, 0.2, 0.2])
    mesh = PartMesh(cube.vertices, cube.faces, np.arange(len(cube.faces)))
    camera = PinholeCamera(width=64, height=48, fx=50.0, fy=50.0, cx=31.5, cy=23.5)
    cloud = render_depth_cloud([(mesh, 7)], camera, look_at((1.0, 0, 0), (0, 0, 0)))
    assert cloud.points.shape == (48, 64, 3) and cloud.object_index.shape == (48, 64)
    hit = cloud.object_index == 7
    assert hit[23:25, 31:33].all() and not hit[0, 0]  # the corners look past the cube
    assert np.isnan(cloud.points[~hit]).all() and (cloud.part_ids[~hit] == -1).all()
    assert np.allclose(cloud.points[hit][:, 2], 0.9, atol=1e-5)  # the +x face is flat at depth 0.9
    # Pixel geometry: u = fx x / z + cx, v = fy y / z + cy.
    r, c = np.nonzero(hit)
    p = cloud.points[r, c]
    assert np.allclose(p[:, 0] / p[:, 2] * camera.fx + camera.cx, c, atol=1e-3)
    assert np.allclose(p[:, 1] / p[:, 2] * camera.fy + camera.cy, r, atol=1e-3)
    # The +x face (two triangles) is what is seen; its normal faces the camera (-z optical).
    face_normals = cube.face_normals[cloud.part_ids[hit]]
    assert np.allclose(face_normals, [1, 0, 0])
    assert np.allclose(cloud.normals[hit], [0, 0, -1], atol=1e-5)


def test_render_noise_is_seeded_and_along_the_ray():
    cube = trimesh.creation.box([0.2, 0.2, 0.2])
    mesh = PartMesh(cube.vertices, cube.faces, np.zeros(len(cube.faces)))
    camera, pose = PinholeCamera(width=80, height=60, fx=60.0, fy=60.0, cx=39.5, cy=29.5), look_at((1, 0, 0), (0, 0, 0))
    clean = render_depth_cloud([(mesh, 0)], camera, pose)
    noisy = render_depth_cloud([(mesh, 0)], camera, pose, noise_std=0.002, seed=3)
    again = render_depth_cloud([(mesh, 0)], camera, pose, noise_std=0.002, seed=3)
    other = render_depth_cloud([(mesh, 0)], camera, pose, noise_std=0.002, seed=4)
    hit = clean.valid
    assert np.array_equal(noisy.points, again.points, equal_nan=True)
    assert not np.allclose(noisy.points[hit], other.points[hit])
    dz = noisy.points[hit][:, 2] - clean.points[hit][:, 2]
    assert 0.0016 < dz.std() < 0.0024
    cross = np.cross(noisy.points[hit], clean.points[hit])  # same ray: parallel vectors
    assert np.abs(cross).max() < 1e-6


def test_table_top_scene_ground_truth(scenes):
    for scene in scenes.values():
        target, *distractors = scene.objects
        for obj in scene.objects:
            assert abs(obj.mesh.vertices[:, 2].min()) < 1e-12  # standing on the table top z = 0

        def footprint_center(obj):
            return (obj.mesh.vertices[:, :2].min(0) + obj.mesh.vertices[:, :2].max(0)) / 2

        assert np.allclose(footprint_center(target), 0.0)
        for d in distractors:
            assert 0.15 - 1e-9 <= np.linalg.norm(footprint_center(d)) <= 0.3 + 1e-9
        eye = scene.cloud.cam_to_world[:3, 3]
        distance = np.linalg.norm(eye - scene.target_center_world)
        elevation = np.degrees(np.arcsin((eye - scene.target_center_world)[2] / distance))
        assert 0.6 <= distance <= 0.9 and 30 <= elevation <= 50
        masks = np.stack([scene.target_mask, scene.distractor_mask, scene.table_mask])
        assert masks.sum(0).max() == 1  # disjoint
        assert np.array_equal(masks.any(0), scene.cloud.valid)
        assert scene.target_mask.sum() > 1000 and scene.distractor_mask.sum() > 1000
        center_px = scene.cloud.camera.intrinsic_matrix @ scene.target_center_camera
        assert np.allclose(center_px[:2] / center_px[2], [319.5, 239.5])  # looking at the target


def test_table_top_scene_needs_meshes():
    with pytest.raises(ValueError, match="no mesh"):
        table_top_scene(mug_box_ball()[0], [PartObject(np.zeros((1, 3)), None, [0], ["x"])])


# --- the acceptance test ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "largest"])
def test_recovers_the_target_in_a_table_top_scene(scenes, mode):
    """Target mug + a box and a ball as distractors; IoU (module docstring) >= 0.9 in every scene."""
    for seed, scene in scenes.items():
        sizes = [(scene.cloud.object_index == i).sum() for i in range(3)]
        assert sizes[0] > max(sizes[1:])  # "largest" is meaningful: the mug is the largest object
        config = _nearest_config(scene) if mode == "nearest" else PreprocessConfig(target="largest")
        result = preprocess_cloud(scene.cloud.points, config)
        score = iou(result.cluster_mask(), scene.target_mask)
        assert score >= 0.9, f"seed {seed}: IoU {score:.3f}"
        assert result.num_clusters == 3  # mug, box, ball; the table went with the plane
        assert result.points.shape == (2048, 3) and result.normals.shape == (2048, 3)
        on_target = scene.cloud.object_index[result.pixel_rc[:, 0], result.pixel_rc[:, 1]] == 0
        assert on_target.all()
        # The fitted plane is the table top z = 0 (world), expressed in the camera frame.
        world_normal = scene.cloud.cam_to_world[:3, :3] @ result.plane[:3]
        assert world_normal[2] > 0.999
        offset = result.plane[:3] @ (np.linalg.inv(scene.cloud.cam_to_world) @ [0.1, 0.1, 0, 1])[:3] + result.plane[3]
        assert abs(offset) < 0.002


def test_nearest_picks_a_distractor_when_pointed_at_it(scene):
    box = scene.objects[1]
    center_world = (box.mesh.vertices.min(0) + box.mesh.vertices.max(0)) / 2
    center_cam = (np.linalg.inv(scene.cloud.cam_to_world) @ np.append(center_world, 1.0))[:3]
    result = preprocess_cloud(scene.cloud.points, PreprocessConfig(target="nearest", target_point=tuple(center_cam)))
    assert iou(result.cluster_mask(), scene.cloud.object_index == 1) >= 0.9


# --- individual behaviours --------------------------------------------------------------------


def test_non_finite_points_are_dropped(scene):
    points = scene.cloud.points.copy()
    rng = np.random.default_rng(0)
    rows, cols = np.nonzero(scene.target_mask)
    spoiled = rng.choice(len(rows), size=len(rows) // 4, replace=False)
    points[rows[spoiled[::2]], cols[spoiled[::2]], 0] = np.inf  # one bad coordinate is enough
    points[rows[spoiled[1::2]], cols[spoiled[1::2]], 2] = np.nan
    result = preprocess_cloud(points, _nearest_config(scene))
    assert np.isfinite(result.points).all() and np.isfinite(result.normals).all()
    kept = result.cluster_mask()
    assert not kept[rows[spoiled], cols[spoiled]].any()
    assert iou(kept, scene.target_mask & np.isfinite(points).all(-1)) >= 0.9
    with pytest.raises(CloudPreprocessError, match="no finite point"):
        preprocess_cloud(np.full((10, 3), np.nan))
    with pytest.raises(ValueError, match="no finite point"):
        preprocess_cloud(np.empty((0, 3)))


def test_crop_box(scene):
    """A workspace box around the ball alone: "largest" must then return the ball, every point inside."""
    pts = scene.cloud.points[scene.cloud.object_index == 2]
    lo, hi = pts.min(0) - 0.06, pts.max(0) + 0.06
    config = PreprocessConfig(crop_min=tuple(lo), crop_max=tuple(hi))
    result = preprocess_cloud(scene.cloud.points, config)
    assert np.all((result.points >= lo) & (result.points <= hi))
    assert iou(result.cluster_mask(), scene.cloud.object_index == 2) >= 0.85
    far = PreprocessConfig(crop_min=(5.0, 5.0, 5.0), crop_max=(6.0, 6.0, 6.0))
    with pytest.raises(CloudPreprocessError, match="crop box"):
        preprocess_cloud(scene.cloud.points, far)
    with pytest.raises(ValueError, match="both"):
        PreprocessConfig(crop_min=(0, 0, 0))


def test_millimetre_clouds_are_detected(scene):
    millimetres = scene.cloud.points * 1000.0
    with pytest.raises(ValueError, match="millimetres"):
        preprocess_cloud(millimetres, _nearest_config(scene))
    metres = preprocess_cloud(scene.cloud.points, _nearest_config(scene))
    converted = preprocess_cloud(millimetres, _nearest_config(scene, millimetres="convert"))
    assert converted.scale == 0.001 and metres.scale == 1.0
    assert iou(converted.cluster_mask(), metres.cluster_mask()) > 0.98
    assert np.allclose(converted.points, millimetres.reshape(-1, 3)[converted.indices] * 0.001)
    assert np.ptp(converted.points, axis=0).max() < 0.2  # a mug, in metres
    # A genuine metre-scale cloud is left alone.
    assert preprocess_cloud(scene.cloud.points, _nearest_config(scene, millimetres="convert")).scale == 1.0


def test_organised_cloud_pixel_rc_is_row_col(scene):
    cloud = scene.cloud.points
    result = preprocess_cloud(cloud, _nearest_config(scene))
    rows, cols = result.pixel_rc[:, 0], result.pixel_rc[:, 1]
    assert rows.max() < cloud.shape[0] and cols.max() < cloud.shape[1]
    assert np.array_equal(result.points, cloud[rows, cols])  # kept points are the input's own points
    assert np.array_equal(result.indices, rows * cloud.shape[1] + cols)
    assert result.input_shape == (480, 640, 3) and result.cluster_mask().shape == (480, 640)
    flat = preprocess_cloud(cloud.reshape(-1, 3), _nearest_config(scene))
    assert flat.pixel_rc is None
    assert np.array_equal(flat.indices, result.indices) and np.array_equal(flat.points, result.points)


def test_farthest_point_sampling_spreads_points():
    rng = np.random.default_rng(1)
    pts = rng.normal(size=(5000, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)  # the unit sphere
    chosen = farthest_point_sampling(pts, 500)
    assert len(chosen) == 500 and len(np.unique(chosen)) == 500
    random = rng.choice(len(pts), size=500, replace=False)

    def min_pairwise(idx):
        d = np.linalg.norm(pts[idx, None] - pts[None, idx], axis=-1)
        return d[np.triu_indices(len(idx), 1)].min()

    def coverage(idx):  # the largest distance from any point to its nearest sample
        return np.linalg.norm(pts[:, None] - pts[None, idx], axis=-1).min(1).max()

    assert min_pairwise(chosen) > 3 * min_pairwise(random)
    assert coverage(chosen) < 0.7 * coverage(random)
    assert np.array_equal(farthest_point_sampling(pts, 500), chosen)
    assert sorted(farthest_point_sampling(pts[:20], 100)) == list(range(20))  # never more than N
    with pytest.raises(ValueError):
        farthest_point_sampling(np.empty((0, 3)), 5)


def test_large_objects_are_thinned_before_fps(scene):
    full = preprocess_cloud(scene.cloud.points, _nearest_config(scene, num_points=500))
    thinned = preprocess_cloud(scene.cloud.points, _nearest_config(scene, num_points=500, fps_max_candidates=800))
    assert len(np.unique(thinned.indices)) == 500 and not thinned.padded
    assert np.isin(thinned.indices, full.cluster_indices).all()
    assert not np.array_equal(np.sort(thinned.indices), np.sort(full.indices))  # the cap took effect
    gaps = [np.sort(np.linalg.norm(r.points[:, None] - r.points[None], axis=-1), axis=1)[:, 1] for r in (full, thinned)]
    assert np.median(gaps[1]) > 0.7 * np.median(gaps[0])  # still evenly spread


def test_the_whole_object_cloud_comes_with_the_samples(scene):
    result = preprocess_cloud(scene.cloud.points, _nearest_config(scene, num_points=500))
    dense, rows = result.object_points, result.object_rows
    assert len(dense) > 500 and result.object_normals.shape == dense.shape
    assert np.array_equal(dense[rows], result.points) and np.array_equal(result.object_normals[rows], result.normals)
    assert np.array_equal(scene.cloud.points.reshape(-1, 3)[result.object_indices], dense)  # input points


def test_too_few_points_are_repeated_and_flagged(scene):
    result = preprocess_cloud(scene.cloud.points, _nearest_config(scene, num_points=50000))
    assert result.padded and result.points.shape == (50000, 3)
    assert len(np.unique(result.indices)) == result.num_unique < 50000
    assert not preprocess_cloud(scene.cloud.points, _nearest_config(scene)).padded


def test_normals_face_the_viewpoint_and_match_the_surface(scene):
    result = preprocess_cloud(scene.cloud.points, _nearest_config(scene))
    to_view = -result.points  # the viewpoint is the optical-frame origin
    assert (np.einsum("ij,ij->i", result.normals, to_view) > 0).mean() > 0.99
    assert np.allclose(np.linalg.norm(result.normals, axis=1), 1.0, atol=1e-6)
    # Against the true outward normals of the faces the rays hit (mug wall, inside, rim, handle):
    true = scene.cloud.normals[result.pixel_rc[:, 0], result.pixel_rc[:, 1]]
    cos = np.einsum("ij,ij->i", result.normals, true)
    assert np.median(cos) > 0.95 and (cos > 0).mean() > 0.97
    # A viewpoint given in the call wins over the config's.
    other = preprocess_cloud(scene.cloud.points, _nearest_config(scene), viewpoint=(0.0, 0.0, 0.0))
    assert np.array_equal(other.normals, result.normals)


def test_label_mode_and_carried_labels(scene):
    index = scene.cloud.object_index
    result = preprocess_cloud(scene.cloud.points, PreprocessConfig(target="label", target_label=2), labels=index)
    assert iou(result.cluster_mask(), index == 2) >= 0.85  # the ball, though the mug is larger
    assert (result.labels == 2).mean() > 0.99
    # Labels that are not used for selection still follow the points (here: part ids of the mug).
    parts = preprocess_cloud(scene.cloud.points, _nearest_config(scene), labels=scene.cloud.part_ids)
    assert np.array_equal(parts.labels, scene.cloud.part_ids[parts.pixel_rc[:, 0], parts.pixel_rc[:, 1]])
    assert set(np.unique(parts.labels)) <= {0, 1} and (parts.labels == 1).any()  # body and handle
    with pytest.raises(CloudPreprocessError, match="label 99 is not present"):
        preprocess_cloud(scene.cloud.points, PreprocessConfig(target="label", target_label=99), labels=index)
    with pytest.raises(CloudPreprocessError, match="needs per-point labels"):
        preprocess_cloud(scene.cloud.points, PreprocessConfig(target="label", target_label=2))
    with pytest.raises(CloudPreprocessError, match="labels for"):
        preprocess_cloud(scene.cloud.points, labels=index[:10])
    with pytest.raises(CloudPreprocessError, match="integers"):
        preprocess_cloud(scene.cloud.points, labels=index.astype(float))
    with pytest.raises(ValueError, match="target_point"):
        PreprocessConfig(target="nearest")


def test_label_on_the_table_only_is_reported(scene):
    """The table's label is in the cloud, but its points all go with the plane: a clear error."""
    config = PreprocessConfig(target="label", target_label=scene.table_index)
    with pytest.raises(CloudPreprocessError, match=f"no point with label {scene.table_index}"):
        preprocess_cloud(scene.cloud.points, config, labels=scene.cloud.object_index)


def test_a_curved_object_is_not_taken_for_the_table():
    """A ball alone: a RANSAC band through it has many inliers but is not flat, so nothing is removed."""
    ball = mug_box_ball()[1][1].mesh
    camera = PinholeCamera(width=160, height=120, fx=400.0, fy=400.0, cx=79.5, cy=59.5)
    cloud = render_depth_cloud([(ball, 0)], camera, look_at((0.3, 0.0, 0.2), (0, 0, 0)), noise_std=0.001)
    result = preprocess_cloud(cloud.points)
    assert result.plane is None
    assert iou(result.cluster_mask(), cloud.valid) > 0.97


def test_empty_after_plane_removal():
    table = trimesh.creation.box([1.0, 1.0, 0.02])
    table.apply_translation([0, 0, -0.01])
    mesh = PartMesh(table.vertices, table.faces, np.zeros(len(table.faces)))
    camera = PinholeCamera(width=160, height=120, fx=130.0, fy=130.0, cx=79.5, cy=59.5)
    cloud = render_depth_cloud([(mesh, 0)], camera, look_at((0.5, 0.0, 0.5), (0, 0, 0)), noise_std=0.001)
    with pytest.raises(CloudPreprocessError, match="nothing is left after removing the dominant plane"):
        preprocess_cloud(cloud.points)
    # A few stray points above the table are not an object either.
    stray = np.vstack([cloud.points.reshape(-1, 3), [[0.0, 0.0, 0.3], [0.01, 0.0, 0.3], [0.2, 0.1, 0.4]]])
    with pytest.raises(CloudPreprocessError, match="no cluster"):
        preprocess_cloud(stray)


def test_a_low_object_keeps_its_lower_part():
    """Issue 18 item 4: a 16 mm slab (a pair of pliers' thickness) on the table keeps what the
    camera sees of its sides down to the table's noise margin; a fixed 8 mm cut took half of it.
    The table stays out (seed 5: 4 noise points of 3850, measured)."""
    slab = trimesh.creation.box([0.16, 0.04, 0.016])
    slab.apply_translation([0, 0, 0.008])
    target = object_from_mesh(PartMesh.from_pieces([slab]), ["body"], category="pliers")
    for seed in (0, 1, 2):
        scene = table_top_scene(target, mug_box_ball()[1], seed=seed)
        result = preprocess_cloud(scene.cloud.points, _nearest_config(scene))
        kept = result.cluster_mask()
        assert (kept & scene.target_mask).sum() >= 0.93 * scene.target_mask.sum(), seed
        assert (kept & scene.table_mask).sum() <= 0.005 * kept.sum(), seed  # a noise point or two at most
        world = scene.cloud.points[kept] @ scene.cloud.cam_to_world[:3, :3].T + scene.cloud.cam_to_world[:3, 3]
        assert world[:, 2].min() < 0.004, seed  # sides kept below 4 mm (the 8 mm cut kept none)


def test_a_foot_separated_by_an_unseen_stem_stays_with_its_object():
    """Issue 18 item 4: a vase body on a foot 1.8 cm below it (the stem that joins them not
    modelled) is two clusters; the foot stands within the body's footprint and joins it. The
    distractors beside it do not. Without the rule the foot (6-8 % of the view) was dropped."""
    foot = trimesh.creation.cylinder(0.045, 0.012, sections=48)
    foot.apply_translation([0, 0, 0.006])
    body = trimesh.creation.cylinder(0.05, 0.16, sections=48)
    body.apply_translation([0, 0, 0.11])
    vase = object_from_mesh(PartMesh.from_pieces([body, foot]), ["body", "base"], category="vase")
    for seed in (0, 1, 2):
        scene = table_top_scene(vase, mug_box_ball()[1], seed=seed)
        result = preprocess_cloud(scene.cloud.points, _nearest_config(scene))
        kept = result.cluster_mask()
        assert result.num_clusters == 4, seed  # body, foot, box, ball
        assert (kept & scene.target_mask).sum() >= 0.98 * scene.target_mask.sum(), seed
        assert (kept & scene.distractor_mask).sum() == 0, seed


def test_deterministic(scene):
    config = _nearest_config(scene)
    first = preprocess_cloud(scene.cloud.points, config, labels=scene.cloud.part_ids)
    second = preprocess_cloud(scene.cloud.points.copy(), config, labels=scene.cloud.part_ids)
    for name in ("points", "normals", "labels", "indices", "pixel_rc", "cluster_indices", "plane"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name


def test_timings_are_reported(scene):
    result = preprocess_cloud(scene.cloud.points, _nearest_config(scene))
    steps = ["finite", "units", "crop", "kind", "voxel", "plane", "cluster", "select", "normals", "fps"]
    assert list(result.timings_ms) == [*steps, "total"]
    assert all(t >= 0 for t in result.timings_ms.values())
    assert result.timings_ms["total"] >= sum(result.timings_ms[s] for s in steps) * 0.99
