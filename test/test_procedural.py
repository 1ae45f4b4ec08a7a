"""Procedural objects: closed, labelled, outward, realistic sizes, deterministic; the affordance table."""

import numpy as np
import pytest
import trimesh

from gdexgrasp_ros.objects.affordances import AFFORDANCE_TABLE, AFFORDANCES, affordances_of, parts_affording
from gdexgrasp_ros.objects.part_geometry import (
    aabb_size,
    grip_zone,
    oriented_bounding_box,
    rest_centroid_offset,
    sorted_obb_extents,
    unit_sphere_normalization,
)
from gdexgrasp_ros.objects.procedural import (
    ALL_CATEGORIES,
    TRAIN_CATEGORIES,
    UNSEEN_CATEGORIES,
    generate_mesh,
    generate_object,
)

# Largest extent of real objects of each category, metres (generous bounds).
SIZE_RANGE = {"broom": (0.8, 1.5), "umbrella": (0.5, 1.1), "suitcase": (0.35, 0.8)}


def test_category_split_matches_the_design():
    assert len(TRAIN_CATEGORIES) == 13 and len(UNSEEN_CATEGORIES) >= 12
    assert not set(TRAIN_CATEGORIES) & set(UNSEEN_CATEGORIES)
    for needed in ("frying pan", "saucepan", "broom", "umbrella", "suitcase", "hammer", "screwdriver", "drill",
                   "watering can", "teapot", "flashlight", "jug"):  # fmt: skip
        assert needed in UNSEEN_CATEGORIES


@pytest.mark.parametrize("category", list(ALL_CATEGORIES))
def test_generated_meshes_are_closed_labelled_outward_and_sized(category):
    for seed in (0, 1):
        mesh, names = generate_mesh(category, seed)
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
        assert tm.is_watertight and tm.is_winding_consistent
        assert tm.volume > 0, "faces wound outward"
        assert (mesh.face_parts >= 0).all(), "every face labelled"
        assert set(np.unique(mesh.face_parts)) == set(range(len(names))), "every part owns faces"
        lo, hi = SIZE_RANGE.get(category, (0.08, 0.45))
        assert lo <= (mesh.vertices.max(0) - mesh.vertices.min(0)).max() <= hi
        assert mesh.vertices[:, 2].min() >= -1e-6, "stands on or above z = 0"


def test_sampled_normals_point_outward():
    obj = generate_object("mug", seed=3, n_points=1024)
    assert obj.points.shape == (1024, 3) and np.allclose(np.linalg.norm(obj.normals, axis=1), 1)
    tm = trimesh.Trimesh(obj.mesh.vertices, obj.mesh.faces, process=False)
    # Stepping along the normal leaves the solid; stepping against it enters.
    out_pts = obj.points + 0.002 * obj.normals
    in_pts = obj.points - 0.002 * obj.normals
    assert tm.contains(out_pts).mean() < 0.03 and tm.contains(in_pts).mean() > 0.97
    assert obj.part_names == ["body", "handle"] and 0.05 < obj.part_mask("handle").mean() < 0.5


def test_generation_is_deterministic_and_seeds_vary():
    a, b, c = generate_object("kettle", 5), generate_object("kettle", 5), generate_object("kettle", 6)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.part_ids, b.part_ids)
    assert not np.allclose(a.mesh.vertices.max(0), c.mesh.vertices.max(0))
    assert a.provenance == "procedural:kettle:seed=5:train"


def test_unknown_category_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown category 'spaceship'"):
        generate_mesh("spaceship")


def test_affordance_table_covers_every_category_with_existing_parts():
    assert set(AFFORDANCE_TABLE) == set(ALL_CATEGORIES)
    for cat, parts in AFFORDANCE_TABLE.items():
        _, names = generate_mesh(cat, 0)
        for part, affs in parts.items():
            assert part in names, (cat, part)
            assert affs and set(affs) <= set(AFFORDANCES)
    covered = {a for parts in AFFORDANCE_TABLE.values() for affs in parts.values() for a in affs}
    assert covered == set(AFFORDANCES)
    assert parts_affording("mug", "handle-grip") == ["handle"]
    assert parts_affording("spray bottle", "trigger-squeeze") == ["trigger"]
    assert affordances_of("bottle", "cap") == ("twist",)
    with pytest.raises(ValueError):
        parts_affording("mug", "throw")


def test_part_geometry_on_a_known_box():
    rng = np.random.default_rng(0)
    R = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    local = rng.uniform([-0.05, -0.02, -0.01], [0.05, 0.02, 0.01], size=(4000, 3))
    pts = local @ R.T + [1.0, 2.0, 3.0]
    np.testing.assert_allclose(sorted_obb_extents(pts), [0.1, 0.04, 0.02], atol=2e-3)
    box = oriented_bounding_box(pts)
    np.testing.assert_allclose(box.center, [1.0, 2.0, 3.0], atol=2e-3)
    assert np.isclose(np.linalg.det(box.rotation), 1.0)
    np.testing.assert_allclose(aabb_size(local), [0.1, 0.04, 0.02], atol=2e-3)
    norm = unit_sphere_normalization(pts)
    assert np.isclose(np.linalg.norm(norm.apply(pts), axis=1).max(), 1.0)
    np.testing.assert_allclose(norm.invert(norm.apply(pts)), pts)


def test_rest_centroid_offset_points_from_the_handle_to_the_body():
    obj = generate_object("mug", seed=0)
    v = rest_centroid_offset(obj.points, obj.part_mask("handle"))
    assert v[0] < -0.02, "the handle is on +x, so the body centroid lies towards -x"


def test_the_grip_zone_is_the_stretch_of_a_long_handle_nearest_the_centre():
    rng = np.random.default_rng(0)
    handle = np.c_[rng.uniform(0.0, 0.3, 3000), rng.uniform(-0.01, 0.01, (3000, 2))]  # 30 cm along x
    head = rng.uniform([0.3, -0.04, -0.04], [0.4, 0.04, 0.04], (3000, 3))  # the heavy end at x 0.3-0.4
    pts, mask = np.r_[handle, head], np.r_[np.ones(3000, bool), np.zeros(3000, bool)]
    zone = grip_zone(pts, mask, 0.10)
    assert not (zone & ~mask).any(), "only part points"
    x = pts[zone, 0]
    assert x.min() > 0.195 and len(x) > 900, "the 10 cm next to the head"
    # The centre within the part's extent: the stretch is centred on it.
    middle = grip_zone(handle, np.ones(3000, bool), 0.10)
    assert abs(handle[middle, 0].mean() - 0.15) < 0.01 and np.ptp(handle[middle, 0]) < 0.101
    # Kept whole: a part shorter than the stretch, no stretch, a part in two pieces with the centre between.
    assert grip_zone(pts, mask, 0.5).sum() == mask.sum() and grip_zone(pts, mask, 0.0).sum() == mask.sum()
    ends = np.r_[handle[handle[:, 0] < 0.05], handle[handle[:, 0] > 0.25]]
    assert grip_zone(ends, np.ones(len(ends), bool), 0.10).all()
    # A long continuous part (a 1 m broom handle, the head at one end) is cut; a round body is not.
    stick = np.c_[rng.uniform(0.0, 1.0, 6000), rng.uniform(-0.012, 0.012, (6000, 2))]
    broom = np.r_[stick, rng.uniform([1.0, -0.15, -0.03], [1.3, 0.15, 0.03], (6000, 3))]
    cut = grip_zone(broom, np.r_[np.ones(6000, bool), np.zeros(6000, bool)], 0.10)
    centre = broom[:, 0].mean()  # about 0.83: on the stick, so the stretch is centred there
    assert abs(broom[cut, 0].mean() - centre) < 0.01 and np.ptp(broom[cut, 0]) <= 0.1 and cut.sum() > 500
    angle, height = rng.uniform(0, 2 * np.pi, 4000), rng.uniform(0, 0.15, 4000)
    pot = np.c_[0.12 * np.cos(angle), 0.12 * np.sin(angle), height]  # 24 cm wide, 15 cm tall
    assert grip_zone(pot, np.ones(4000, bool), 0.10).all()


@pytest.mark.parametrize("category", ["cup", "vase", "bucket", "bowl"])
def test_open_containers_are_hollow_with_an_open_mouth(category):
    """A thin wall round an empty cavity that a straight drop from above the mouth reaches down to the floor."""
    mesh, names = generate_mesh(category, seed=2)
    merged = trimesh.Trimesh(mesh.vertices, mesh.faces, process=True)
    assert merged.is_watertight, "closed also once coincident vertices are merged (as the benchmark loads it)"
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    top = tm.bounds[1][2]
    inner_axis = np.array([[0.0, 0.0, z] for z in np.linspace(0.35, 0.8, 6) * top])
    assert not tm.contains(inner_axis).any(), "the cavity is empty"
    # Off the xz plane: a bucket's bail arches over the mouth there.
    hits, _, _ = tm.ray.intersects_location([[0.0, 0.01, top + 0.05]], [[0.0, 0.0, -1.0]])
    assert len(hits) and hits[:, 2].max() < 0.02, "nothing closes the mouth: the first hit is the floor"
    assert tm.volume < 0.5 * tm.convex_hull.volume, "thin walls, not a solid"
    if category != "bowl":
        assert "rim" in names and "body" in names
