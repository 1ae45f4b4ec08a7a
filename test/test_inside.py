"""Inside / outside of complete clouds (geometry.inside) and what uses it: stage 3's reverse
penetration, stage 2's initial poses and the reported grasp quality (issue 14)."""

import numpy as np
import pytest
import torch
import trimesh

from gdexgrasp_ros.geometry.inside import InsideTest, inside_depth, winding_number
from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d
from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.objects.part_object import PartMesh, PartObject, sample_mesh
from gdexgrasp_ros.objects.procedural import generate_object
from gdexgrasp_ros.objects.shapes import revolved
from gdexgrasp_ros.stage1.prior import posture_prior
from gdexgrasp_ros.stage3.optimizer import ObjectContext, OptimizerConfig, PriorGuidedOptimizer


@pytest.fixture(scope="module")
def hand():
    return OpenHand()


def _cloud(tm: trimesh.Trimesh, n: int = 2048) -> PartObject:
    """A complete cloud: n area-uniform samples of a closed mesh with outward normals."""
    mesh = PartMesh(tm.vertices, tm.faces, np.zeros(len(tm.faces), dtype=int))
    pts, normals, _ = sample_mesh(mesh, n, seed=0)
    return PartObject(pts, normals, np.zeros(n, dtype=int), ["body"], mesh=mesh)


def _flat_hand(hand, at, rotation=None):
    """(rot6d, trans, joints) of the flat hand whose vertices' bounding-box centre is `at`."""
    R = torch.eye(3) if rotation is None else torch.as_tensor(rotation, dtype=torch.float32)
    q = torch.zeros(1, hand.dof)
    local = hand.forward(matrix_to_rot6d(R)[None], torch.zeros(1, 3), q).vertices[0]
    centre = (local.min(0).values + local.max(0).values) / 2
    return matrix_to_rot6d(R)[None], torch.as_tensor(at, dtype=torch.float32)[None] - centre, q


def _physical_terms(hand, obj: PartObject, pose, complete: bool) -> dict[str, float]:
    """Stage 3's terms for one fixed pose (mode 'none' scores the start without moving it)."""
    r6, t, q = pose
    ctx = ObjectContext(obj, np.ones(len(obj), dtype=bool), "cpu", complete=complete)
    res = PriorGuidedOptimizer(hand, OptimizerConfig(mode="none")).run(
        ctx, posture_prior(hand, "wrap-around-grip", "body"), r6, t, joints=q
    )
    return {k: float(v[0]) for k, v in res.terms.items()}


# -- the inside test ---------------------------------------------------------------------------------
@pytest.mark.parametrize("category", ["mug", "bowl", "kettle", "frying pan", "jug", "umbrella"])
def test_the_inside_test_agrees_with_the_mesh(category):
    obj = generate_object(category, seed=3)
    tm = trimesh.Trimesh(obj.mesh.vertices, obj.mesh.faces, process=False)
    lo, hi = tm.bounds
    rng = np.random.default_rng(0)
    queries = (lo + hi) / 2 + rng.uniform(-0.6, 0.6, (1500, 3)) * (hi - lo)
    near_surface = tm.sample(1500, seed=1) + rng.normal(size=(1500, 3)) * 0.01
    test = InsideTest(obj.points, obj.normals)
    for q, needed in ((queries, 0.97), (near_surface, 0.95)):
        agree = float((test.contains(q) == tm.contains(q)).mean())
        assert agree >= needed, (category, agree)


def test_winding_number_takes_numpy_and_torch_and_counts_the_enclosure():
    sphere = _cloud(trimesh.creation.icosphere(subdivisions=3, radius=0.1))
    q = np.array([[0.0, 0.0, 0.0], [0.05, 0.02, 0.0], [0.3, 0.0, 0.0], [0.0, 0.14, 0.0]])
    w = winding_number(q, sphere.points, sphere.normals)
    np.testing.assert_allclose(w, [1.0, 1.0, 0.0, 0.0], atol=0.1)
    wt = winding_number(torch.as_tensor(q, dtype=torch.float32), sphere.points, sphere.normals)
    assert wt.dtype == torch.float32 and np.allclose(wt.numpy(), w, atol=1e-4)
    test = InsideTest(sphere.points, sphere.normals)
    assert test.contains(torch.as_tensor(q)).tolist() == [True, True, False, False]
    # Inside depth: the distance to the nearest surface point (true depth 0.1 - |q|), 0 outside.
    truth = [0.1, 0.1 - np.hypot(0.05, 0.02), 0.0, 0.0]
    np.testing.assert_allclose(inside_depth(q, sphere.points, sphere.normals), truth, atol=0.003)


def test_a_thin_wall_is_inside_and_its_surroundings_are_not():
    plate = _cloud(trimesh.creation.box(extents=[0.004, 0.2, 0.2]))  # 4 mm, thinner than the 7 mm spacing
    test = InsideTest(plate.points, plate.normals)
    assert test.spacing > 0.004
    rng = np.random.default_rng(0)
    yz = rng.uniform(-0.08, 0.08, (200, 2))
    in_wall = np.c_[rng.uniform(-0.0015, 0.0015, 200), yz]
    beside = np.c_[rng.choice([-1, 1], 200) * rng.uniform(0.004, 0.05, 200), yz]
    assert test.contains(in_wall).mean() > 0.97
    assert test.contains(beside).mean() < 0.02  # a few within a spacing of the wall may read inside


# -- stage 3: reverse penetration judged everywhere on complete clouds ---------------------------------
@pytest.mark.parametrize("body", ["sphere", "box"])
def test_a_hand_wholly_inside_a_closed_body_is_penalised(hand, body):
    tm = (trimesh.creation.icosphere(subdivisions=4, radius=0.15) if body == "sphere"
          else trimesh.creation.box(extents=[0.3, 0.24, 0.12]))  # fmt: skip
    obj = _cloud(tm)
    pose = _flat_hand(hand, [0.0, 0.0, 0.0])
    verts = hand.forward(*pose).vertices[0].numpy()
    assert tm.contains(verts).all() and -trimesh.proximity.signed_distance(tm, verts).max() < -0.02
    complete = _physical_terms(hand, obj, pose, complete=True)
    camera = _physical_terms(hand, obj, pose, complete=False)
    assert complete["revpen"] > 1.0, complete  # hundreds of vertices, centimetres deep
    assert camera["revpen"] == 0.0 and camera["pen"] == 0.0, "a camera view cannot see this: no vertex near"


def _cup(radius=0.08, height=0.12, wall=0.005):
    """An open, thin-walled cup standing on z = 0 (a closed solid: the cavity is outside)."""
    r, t = radius, wall
    return revolved([[0, 0], [r, 0], [r, height], [r - t, height], [r - t, t], [0, t]])


def test_a_palm_in_a_cup_with_fingers_through_its_wall_is_penalised(hand):
    tm = _cup()
    obj = _cloud(tm)
    pose = _flat_hand(hand, [0.035, -0.02, 0.07])  # palm in the cavity, fingers out through the +x wall
    verts = hand.forward(*pose).vertices[0].numpy()
    sd = trimesh.proximity.signed_distance(tm, verts)  # + inside
    assert (sd > 0).sum() >= 5 and verts[:, 0].max() > 0.09
    terms = _physical_terms(hand, obj, pose, complete=True)
    assert terms["revpen"] > 0.005 and terms["pen"] > 0.005, terms


def test_a_hand_through_a_thin_wall_is_penalised(hand):
    plate = trimesh.creation.box(extents=[0.006, 0.3, 0.3])
    plate.apply_translation([0.15, 0.0, 0.0])
    pose = _flat_hand(hand, [0.1, 0.0, 0.0])  # fingertips 4 cm beyond the plate
    terms = _physical_terms(hand, _cloud(plate), pose, complete=True)
    assert terms["revpen"] > 0.002 and terms["pen"] > 0.005, terms


def test_a_hand_resting_on_the_outside_pays_nothing(hand):
    table = trimesh.creation.box(extents=[0.3, 0.3, 0.1])
    table.apply_translation([0.0, 0.0, -0.05])  # top face at z = 0
    r6, t, q = _flat_hand(hand, [0.0, 0.0, 0.0])
    lowest = float(hand.forward(r6, t, q).vertices[0, :, 2].min())
    pose = (r6, t + torch.tensor([0.0, 0.0, 0.002 - lowest]), q)  # the lowest vertex 2 mm above the top
    for complete in (True, False):
        terms = _physical_terms(hand, _cloud(table), pose, complete=complete)
        assert terms["revpen"] < 1e-4 and terms["pen"] < 1e-4, (complete, terms)
