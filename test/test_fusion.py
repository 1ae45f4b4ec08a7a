"""Fusing a few depth views into one cloud (issue 18 item 3, the library function): points land on
the object, coverage grows with views, normals end up pointing out, bad inputs are refused."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from gdexgrasp_ros.objects.camera import PinholeCamera, look_at, render_depth_cloud
from gdexgrasp_ros.objects.fusion import fuse_clouds, fused_cloud_kind
from gdexgrasp_ros.objects.part_object import PartMesh
from gdexgrasp_ros.objects.preprocess import preprocess_cloud

CAMERA = PinholeCamera(width=160, height=120, fx=130.0, fy=130.0, cx=79.5, cy=59.5)
EYES = [(0.4, 0.0, 0.25), (-0.2, 0.35, 0.25), (-0.2, -0.35, 0.25)]  # three sides, from above


@pytest.fixture(scope="module")
def box():
    mesh = trimesh.creation.box([0.08, 0.06, 0.1])
    mesh.apply_translation([0, 0, 0.05])
    return mesh


@pytest.fixture(scope="module")
def views(box):
    part = PartMesh(box.vertices, box.faces, np.zeros(len(box.faces), dtype=np.int64))
    return [render_depth_cloud([(part, 0)], CAMERA, look_at(eye, (0, 0, 0.05)), 0.0005, seed=i)
            for i, eye in enumerate(EYES)]  # fmt: skip


def _coverage(box, points, radius=0.005):
    """Share of the box's surface within radius of a fused point."""
    surface, _ = trimesh.sample.sample_surface(box, 4000, seed=1)
    d, _ = cKDTree(points).query(surface)
    return float(np.mean(d < radius))


def test_fused_points_lie_on_the_object_and_cover_more_with_more_views(box, views):
    one = fuse_clouds([views[0].points], [views[0].cam_to_world])
    three = fuse_clouds([v.points for v in views], [v.cam_to_world for v in views])
    for fused in (one, three):
        dist = np.abs(trimesh.proximity.signed_distance(box, fused.points))
        assert np.percentile(dist, 99) < 0.003
    assert _coverage(box, three.points) > _coverage(box, one.points) + 0.2
    assert set(np.unique(three.view)) == {0, 1, 2}
    assert np.allclose(three.sensors, EYES)


def test_fused_normals_point_out_of_the_object(box, views):
    fused = fuse_clouds([v.points for v in views], [v.cam_to_world for v in views])
    _, _, faces = trimesh.proximity.closest_point(box, fused.points)
    outward = np.einsum("ij,ij->i", fused.normals, box.face_normals[faces]) > 0
    assert outward.mean() > 0.95
    # ... so the fused cloud goes through preprocessing as a complete cloud with its normals.
    result = preprocess_cloud(fused.points, normals=fused.normals, cloud_kind="complete")
    assert result.points.shape == (2048, 3) and result.cloud_kind == "complete"


def test_deterministic(views):
    a = fuse_clouds([v.points for v in views], [v.cam_to_world for v in views])
    b = fuse_clouds([v.points for v in views], [v.cam_to_world for v in views])
    assert np.array_equal(a.points, b.points) and np.array_equal(a.normals, b.normals)


def test_bad_inputs_are_refused_with_a_reason(views):
    pts, pose = views[0].points, views[0].cam_to_world
    with pytest.raises(ValueError, match="one pose per cloud"):
        fuse_clouds([pts, pts], [pose])
    with pytest.raises(ValueError, match="no clouds"):
        fuse_clouds([], [])
    with pytest.raises(ValueError, match="4x4"):
        fuse_clouds([pts], [np.eye(3)])
    scaled = pose.copy()
    scaled[:3, :3] *= 2.0
    with pytest.raises(ValueError, match="not a rigid transform"):
        fuse_clouds([pts], [scaled])
    with pytest.raises(ValueError, match="has a finite point"):
        fuse_clouds([np.full((4, 4, 3), np.nan)], [pose])
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        fuse_clouds([np.zeros((5, 2))], [pose])


def test_labels_travel_with_the_kept_points(views):
    # Label each pixel by its column half: a kept point's label must be its own pixel's.
    labels = [np.broadcast_to((np.arange(v.points.shape[1]) >= v.points.shape[1] // 2).astype(int), v.points.shape[:2])
              for v in views]  # fmt: skip
    fused = fuse_clouds([v.points for v in views], [v.cam_to_world for v in views], labels=labels)
    plain = fuse_clouds([v.points for v in views], [v.cam_to_world for v in views])
    assert np.array_equal(fused.points, plain.points) and plain.labels is None
    expected = []
    for v, lab in zip(views, labels, strict=True):
        finite = np.isfinite(v.points).all(-1)
        expected.append(lab[finite])
    expected = np.concatenate(expected)
    world = np.concatenate([v.world_points()[np.isfinite(v.points).all(-1)] for v in views])
    _, row = cKDTree(world).query(fused.points)
    assert np.array_equal(fused.labels, expected[row])
    assert set(np.unique(fused.labels)) == {0, 1}
    with pytest.raises(ValueError, match="label arrays"):
        fuse_clouds([v.points for v in views], [v.cam_to_world for v in views], labels=labels[:1])
    with pytest.raises(ValueError, match="shape"):
        fuse_clouds([views[0].points], [views[0].cam_to_world], labels=[np.zeros(3)])


def test_table_scene_views_circle_the_target_and_the_first_is_the_single_view():
    from gdexgrasp_ros.objects.camera import mug_box_ball, table_top_scene

    mug = mug_box_ball()[0]
    single = table_top_scene(mug, [], seed=3)
    three = table_top_scene(mug, [], seed=3, views=3)
    assert len(three.views) == 3 and three.views[0] is three.cloud
    assert np.array_equal(single.cloud.points, three.cloud.points, equal_nan=True)
    eyes = np.array([v.cam_to_world[:3, 3] - three.target_center_world for v in three.views])
    assert np.allclose(np.linalg.norm(eyes, axis=1), np.linalg.norm(eyes[0]))  # same distance
    assert np.allclose(eyes[:, 2], eyes[0, 2])  # same height
    azimuth = np.degrees(np.arctan2(eyes[:, 1], eyes[:, 0]))
    assert np.allclose(np.sort((azimuth - azimuth[0]) % 360), [0, 120, 240], atol=1e-6)
    with pytest.raises(ValueError, match="views"):
        table_top_scene(mug, [], views=0)


def test_views_from_around_make_a_complete_cloud_and_views_from_one_side_do_not(views):
    around = fuse_clouds([v.points for v in views], [v.cam_to_world for v in views])
    assert fused_cloud_kind(around) == "complete"
    assert fused_cloud_kind(fuse_clouds([views[0].points], [views[0].cam_to_world])) == "camera"
    # Two sensors 20 degrees apart on the same side, and the same sensor twice: still one side.
    near = look_at((0.4 * np.cos(0.35), 0.4 * np.sin(0.35), 0.25), (0, 0, 0.05))
    side = fuse_clouds([views[0].points, views[0].points], [views[0].cam_to_world, near])
    assert fused_cloud_kind(side) == "camera"
    same = fuse_clouds([views[0].points, views[0].points], [views[0].cam_to_world] * 2)
    assert fused_cloud_kind(same) == "camera"
