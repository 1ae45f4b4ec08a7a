"""Stage 3: each loss term and metric on hand-checkable cases, simulation, and the optimizer."""

import math

import numpy as np
import pytest
import torch
import trimesh

from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d, rot6d_to_matrix
from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.hand.postures import canonical_posture
from gdexgrasp_ros.metrics import contact as M
from gdexgrasp_ros.metrics.simulation import simulation_displacement
from gdexgrasp_ros.objects.part_object import PartMesh
from gdexgrasp_ros.objects.procedural import generate_object
from gdexgrasp_ros.stage1.prior import posture_prior
from gdexgrasp_ros.stage2.part_init import palm_facing_poses
from gdexgrasp_ros.stage3 import losses as L
from gdexgrasp_ros.stage3.closing import close_on_object, sdf_distance
from gdexgrasp_ros.stage3.optimizer import ObjectContext, OptimizerConfig, PriorGuidedOptimizer


def _mesh(tm: trimesh.Trimesh) -> PartMesh:
    return PartMesh(tm.vertices, tm.faces, np.zeros(len(tm.faces), dtype=int))


@pytest.fixture(scope="module")
def hand():
    return OpenHand()


# -- losses ------------------------------------------------------------------------------------
def test_contact_loss_is_the_prior_weighted_mean_distance():
    d = torch.tensor([[0.01, 0.02, 0.5]])
    c = torch.tensor([1.0, 0.5, 0.0])
    torch.testing.assert_close(L.contact_loss(d, c, n_vertices=4), torch.tensor([(0.01 + 0.01) / 4]))


def test_contact_map_loss_vanishes_when_the_map_matches_the_prior():
    c = torch.tensor([1.0, 0.0])
    std = torch.tensor([0.0, 0.0])
    assert float(L.contact_map_loss(torch.tensor([[0.0, 1.0]]), c, std, 2)[0]) < 1e-6
    wrong = L.contact_map_loss(torch.tensor([[1.0, 0.0]]), c, std, 2)  # touching where it should not, and v.v.
    assert float(wrong[0]) > 0.99
    confident = L.contact_map_loss(torch.tensor([[1.0, 0.0]]), c, torch.tensor([2.0, 2.0]), 2)
    assert math.isclose(float(confident[0]), float(wrong[0]) * math.exp(-2.0), rel_tol=1e-4)


def test_force_closure_of_opposing_and_single_contacts():
    pts = torch.tensor([[[0.03, 0.0, 0.0], [-0.03, 0.0, 0.0]]])
    inward = -pts / 0.03
    assert float(L.force_closure_loss(pts, inward, torch.zeros(3))[0]) < 1e-5
    one = L.force_closure_loss(pts[:, :1], inward[:, :1], torch.zeros(3))
    assert math.isclose(float(one[0]), 1.0, rel_tol=1e-5)
    # Off-centre parallel pushes leave a torque of |x| = 3 cm about the centre.
    skew = L.force_closure_loss(torch.tensor([[[0.03, 0.03, 0.0], [-0.03, -0.03, 0.0]]]),
                                torch.tensor([[[-1.0, 0, 0], [1.0, 0, 0]]]), torch.zeros(3))  # fmt: skip
    assert math.isclose(float(skew[0]), 0.06, rel_tol=1e-4)


def test_penetration_losses_and_thresholds():
    sd = torch.tensor([[-0.003, 0.01, -0.0005]])
    torch.testing.assert_close(L.penetration_loss(sd, 0.001), torch.tensor([0.002]))
    # A vertex 3 mm under a plane z = 0 (normal +z), one above it, one far below (not judged).
    verts = torch.tensor([[[0.0, 0, -0.003], [0.0, 0, 0.01], [0.0, 0, -0.05]]])
    near = torch.zeros(1, 3, 3)
    normals = torch.tensor([0.0, 0, 1]).expand(1, 3, 3)
    torch.testing.assert_close(L.reverse_penetration_loss(verts, near, normals, 0.001), torch.tensor([0.002]))


def test_unseen_back_loss_judges_depth_between_the_seen_front_and_the_assumed_back():
    # Surface seen at 0.10 m, assumed 0.05 m deep: a vertex 2 cm behind it is 2 cm inside; one
    # beyond the back, one in front and one not judged pay nothing.
    z = torch.tensor([[0.12, 0.2, 0.05, 0.12]])
    front, behind = torch.full((1, 4), 0.10), torch.full((1, 4), 0.05)
    judged = torch.tensor([[True, True, True, False]])
    torch.testing.assert_close(L.unseen_back_loss(z, front, behind, judged, 0.001), torch.tensor([0.019]))


def test_a_hand_inside_the_unseen_back_of_a_camera_view_pays(hand):
    """A box seen from one side (camera at the origin looking along +z): a hand in its unseen
    middle pays L_back, the same hand in front of it does not, nor without a view volume."""
    from gdexgrasp_ros.geometry.visibility import ViewVolume
    from gdexgrasp_ros.objects.part_object import PartObject

    g = np.linspace(-0.06, 0.06, 41)
    pts = np.array([[x, y, 0.5] for x in g for y in g])  # the front face of a 12 cm cube
    obj = PartObject(pts, np.tile([0.0, 0.0, -1.0], (len(pts), 1)), np.zeros(len(pts), int), ["body"])
    volume = ViewVolume.from_points(pts, np.zeros(3), 0.003)
    cfg = OptimizerConfig(mode="none")
    prior = posture_prior(hand, "wrap-around-grip", "body")
    r6 = matrix_to_rot6d(torch.eye(3)[None])
    mask = np.ones(len(pts), bool)
    terms = {}
    for name, z, vol in (("middle", 0.56, volume), ("front", 0.3, volume), ("no volume", 0.56, None)):
        ctx = ObjectContext(obj, mask, "cpu", view_volume=vol)
        res = PriorGuidedOptimizer(hand, cfg).run(ctx, prior, r6, torch.tensor([[0.0, 0.0, z]]))
        terms[name] = float(res.terms["back"][0]) if "back" in res.terms else None
    assert terms["middle"] > 0.01 and terms["front"] == 0.0 and terms["no volume"] is None


def test_joint_limit_and_closeness_losses():
    limits = torch.tensor([[-0.5, 0.5], [0.0, 1.0]])
    torch.testing.assert_close(L.joint_limit_loss(torch.tensor([[0.6, -0.2]]), limits), torch.tensor([0.3]))
    torch.testing.assert_close(L.closeness_loss(torch.tensor([[0.01, 0.03]])), torch.tensor([0.02]))


# -- metrics -------------------------------------------------------------------------------------
def _sphere_sdf(center, radius):
    return lambda p: np.linalg.norm(np.asarray(p) - center, axis=1) - radius


def test_intersection_volume_of_a_sphere_inside_a_box():
    box = _mesh(trimesh.creation.box(extents=[0.1, 0.1, 0.1]))
    expected = 4 / 3 * math.pi * 0.02**3  # 33.5 cm^3
    vol = M.intersection_volume(box, _sphere_sdf(np.zeros(3), 0.02))
    assert abs(vol - expected) / expected < 0.10, vol * 1e6
    half = M.intersection_volume(box, _sphere_sdf(np.array([0.05, 0, 0]), 0.02))
    assert abs(half - expected / 2) / (expected / 2) < 0.15, half * 1e6
    # GraspTTA's shell variant only counts the box's surface voxels: a sphere deep inside scores 0.
    assert M.intersection_volume(box, _sphere_sdf(np.zeros(3), 0.02), shell=True) == 0.0
    assert M.intersection_volume(box, _sphere_sdf(np.array([0.3, 0, 0]), 0.02)) == 0.0


def test_penetration_depth_of_a_sphere_pushed_into_a_box():
    box = _mesh(trimesh.creation.box(extents=[0.1, 0.1, 0.1]))
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.02).vertices
    assert math.isclose(M.penetration_depth(sphere + [0.05 + 0.005, 0, 0], box), 0.015, abs_tol=5e-4)
    assert M.penetration_depth(sphere + [0.08, 0, 0], box) == 0.0


def test_part_contact_ratio_and_count():
    obj = np.array([[0.0, 0, 0], [0.1, 0, 0], [0.2, 0, 0]])
    part = np.array([True, False, False])
    hand = np.array([[0.0, 0, 0.002], [0.0, 0, 0.003], [0.1, 0, 0.001], [0.2, 0, 0.05]])
    assert math.isclose(M.part_contact_ratio(hand, obj, part), 2 / 3)
    assert M.contact_count(hand, obj) == 3 and M.on_part(2 / 3)
    assert M.part_contact_ratio(hand + [0, 0, 1.0], obj, part) == 0.0


def test_force_closure_residual_of_a_pinch():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.03)
    fingers = np.array([[0.031, 0, 0], [-0.031, 0, 0]])
    pinch = M.force_closure_residual(fingers, sphere.vertices, sphere.vertex_normals, n_contacts=2)
    poke = M.force_closure_residual(fingers[:1] * [1, 1, 1], sphere.vertices, sphere.vertex_normals, n_contacts=1)
    assert pinch < 0.1 < poke


# -- simulation -----------------------------------------------------------------------------------
def _cylinder_in_palm(radius=0.016):
    center = torch.tensor([0.075, 0.0, -0.0145 - radius - 0.001])
    tm = trimesh.creation.cylinder(radius=radius, height=0.12, sections=48)
    tm.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    tm.apply_translation(center.numpy())

    def sdf(p):
        radial = torch.sqrt((p[:, 0] - center[0]) ** 2 + (p[:, 2] - center[2]) ** 2) - radius
        return torch.maximum(radial, (p[:, 1] - center[1]).abs() - 0.06)

    return _mesh(tm), sdf


def test_a_hand_closed_around_a_cylinder_holds_it_and_an_open_hand_beside_it_does_not(hand):
    mesh, sdf = _cylinder_in_palm()
    r6, t = matrix_to_rot6d(torch.eye(3))[None], torch.zeros(1, 3)
    q0 = torch.as_tensor(canonical_posture("handle-grip"), dtype=torch.float32)
    q0[[1, 2, 4, 5, 7, 8, 10, 11]] = 0.1  # open the fingers, then close them onto the cylinder
    q = close_on_object(hand, r6, t, q0[None], sdf_distance(sdf))[0]
    closed = hand.forward(r6, t, q[None]).vertices[0].numpy()
    assert M.penetration_depth(closed, mesh) < 0.003
    held = simulation_displacement(closed, hand.faces.numpy(), mesh)
    assert held < 0.02, held
    opened = hand.forward(r6, t, torch.as_tensor(canonical_posture("base-support"))[None].float()).vertices[0].numpy()
    dropped = simulation_displacement(opened + [0, 0.12, 0], hand.faces.numpy(), mesh)
    assert dropped > 0.05, dropped


# -- the optimizer ---------------------------------------------------------------------------------
def _bad_start_on_a_mug(hand_model, k=8):
    """Palm centres 2 cm inside a procedural mug's body, beside its handle, palm towards the body."""
    obj = generate_object("mug", seed=1)
    mask = obj.part_mask("handle")
    pts = torch.as_tensor(obj.points, dtype=torch.float32)
    handle_c = pts[torch.as_tensor(mask)].mean(0)
    r_body = float(np.linalg.norm(obj.points[~mask][:, :2], axis=1).max())
    g = torch.Generator().manual_seed(0)
    ang = torch.empty(k).uniform_(0.5, 0.9, generator=g) * torch.where(torch.arange(k) % 2 == 0, 1.0, -1.0)
    palm = torch.stack([(r_body - 0.02) * torch.cos(ang), (r_body - 0.02) * torch.sin(ang), handle_c[2].expand(k)], 1)
    # Palms facing the handle from around it (directions jittered about the body-to-handle axis).
    away = torch.nn.functional.normalize(handle_c - pts.mean(0), dim=0)
    dirs = torch.nn.functional.normalize(
        torch.randn(k, 3, generator=torch.Generator().manual_seed(0)) * 0.6 + away, dim=-1
    )
    r6, _ = palm_facing_poses(handle_c.expand(k, 3).numpy(), dirs.numpy(), np.zeros(k), hand_model, 0.0)
    trans = palm - rot6d_to_matrix(r6) @ hand_model.palm_point
    return obj, mask, r6, trans


def test_optimizer_recovers_handle_grasps_from_a_bad_start(hand):
    obj, mask, r6, trans = _bad_start_on_a_mug(hand)
    tm = trimesh.Trimesh(obj.mesh.vertices, obj.mesh.faces, process=False)
    start = hand.forward(r6, trans, torch.as_tensor(canonical_posture("handle-grip")).float().expand(8, -1))
    assert max(M.penetration_depth(v.numpy(), obj.mesh) for v in start.vertices) > 0.015, "the start is bad"
    prior = posture_prior(hand, "handle-grip", "handle")
    calls = []
    result = PriorGuidedOptimizer(hand, OptimizerConfig()).run(
        ObjectContext(obj, mask, "cpu"), prior, r6, trans, progress=lambda *a: calls.append(a)
    )
    out = hand.forward(result.rot6d, result.trans, result.joints)
    good = 0
    for v in out.vertices.numpy():
        depth = M.penetration_depth(v, obj.mesh)
        ratio = M.part_contact_ratio(v, obj.points, mask)
        good += depth < 0.005 and ratio > 0.5
    assert good >= 6, good
    assert tm.is_watertight
    assert calls and calls[-1][1] == pytest.approx(1.0) and {c[0] for c in calls} == {"A", "B"}
    assert result.loss[result.order[0]] <= result.loss[result.order[-1]]


def test_optimizer_is_deterministic_and_cancellable(hand):
    from gdexgrasp_ros.errors import ErrorCode, GraspError

    obj, mask, r6, trans = _bad_start_on_a_mug(hand, 2)
    ctx = ObjectContext(obj, mask, "cpu")
    prior = posture_prior(hand, "handle-grip", "handle")
    cfg = OptimizerConfig(iterations_a=20, iterations_b=20)
    a = PriorGuidedOptimizer(hand, cfg).run(ctx, prior, r6, trans)
    b = PriorGuidedOptimizer(hand, cfg).run(ctx, prior, r6, trans)
    torch.testing.assert_close(a.trans, b.trans, rtol=0, atol=0)
    checks = []

    def cancel():
        checks.append(1)
        return len(checks) > 2

    with pytest.raises(GraspError) as info:
        PriorGuidedOptimizer(hand, cfg).run(ctx, prior, r6, trans, should_cancel=cancel)
    assert info.value.code == ErrorCode.CANCELED
    assert len(checks) == 3, "checked every 10 iterations"


@pytest.mark.parametrize("mode", ["one_stage", "no_prior"])
def test_ablation_modes_run(hand, mode):
    obj, mask, r6, trans = _bad_start_on_a_mug(hand, 2)
    res = PriorGuidedOptimizer(hand, OptimizerConfig(iterations_a=10, iterations_b=10, mode=mode)).run(
        ObjectContext(obj, mask, "cpu"), posture_prior(hand, "handle-grip", "handle"), r6, trans
    )
    assert ("close" in res.terms) == (mode == "no_prior") and torch.isfinite(res.loss).all()


def test_cloud_penetration_depth_and_ranking_score():
    from gdexgrasp_ros.metrics.quality import penetration_depth_cloud, ranking_score

    plane = np.stack(np.meshgrid(np.linspace(-0.05, 0.05, 21), np.linspace(-0.05, 0.05, 21)), -1).reshape(-1, 2)
    pts = np.c_[plane, np.zeros(len(plane))]
    normals = np.tile([0.0, 0.0, 1.0], (len(pts), 1))
    hand = np.array([[0.0, 0.0, -0.004], [0.01, 0.0, 0.01], [0.0, 0.0, -0.05]])  # 4 mm in; above; too far to judge
    assert math.isclose(penetration_depth_cloud(hand, pts, normals), 0.004, abs_tol=1e-9)
    assert penetration_depth_cloud(hand[1:2], pts, normals) == 0.0
    assert ranking_score(1.0, 0.0, 0.0, 40) == pytest.approx(1.0)
    assert ranking_score(1.0, 0.0, 0.0, 0) == 0.0
    assert ranking_score(1.0, 0.0, 0.0, 50) > ranking_score(0.0, 0.0, 0.0, 50) > ranking_score(0.0, 0.02, 3.0, 50)


def test_ranking_discounts_a_hand_pressed_into_the_object():
    """The hold check favours hands pressed into the object; the intersection volume's factor ranks
    such a grasp below one that only touches, other terms equal (a camera view, NaN, is not judged)."""
    from gdexgrasp_ros.metrics.quality import VOLUME_SCALE_M3, ranking_score

    touching = ranking_score(1.0, 0.002, 0.5, 60, 0.0, 0.0)
    assert ranking_score(1.0, 0.002, 0.5, 60, 0.0, VOLUME_SCALE_M3) == pytest.approx(touching / math.e)
    assert ranking_score(1.0, 0.002, 0.5, 60, 0.0, 20e-6) < 0.01 * touching
    assert ranking_score(1.0, 0.002, 0.5, 60, 0.0, math.nan) == pytest.approx(touching)
    assert ranking_score(1.0, 0.002, 0.5, 60, 0.0, 20e-6, volume_scale=0.0) == pytest.approx(touching), "0: off"


def test_ranking_puts_a_graze_below_a_grasp_that_touches():
    """The demo's best grasp once touched the kettle with 3 vertices: a graze must not outrank a
    grasp in contact, other terms equal; beyond FULL_CONTACT more contact does not count."""
    from gdexgrasp_ros.metrics.quality import FULL_CONTACT, ranking_score

    graze, touching = ranking_score(1.0, 0.0, 0.0, 3), ranking_score(0.8, 0.002, 0.5, 60)
    assert graze < 0.1 < touching
    assert ranking_score(1.0, 0.0, 0.0, FULL_CONTACT // 2) == pytest.approx(0.5)
    assert ranking_score(1.0, 0.0, 0.0, FULL_CONTACT) == ranking_score(1.0, 0.0, 0.0, 5 * FULL_CONTACT)


def test_initial_poses_are_rotations_even_straight_above(hand):
    up = np.tile([0.0, 0.0, 1.0], (4, 1))
    r6, trans = palm_facing_poses(np.zeros((4, 3)), up, np.linspace(0, 3, 4), hand, 0.05)
    R = rot6d_to_matrix(r6)
    palm_point = (R @ hand.palm_point + trans).numpy()
    np.testing.assert_allclose(palm_point, np.tile([0.0, 0.0, 0.05], (4, 1)), atol=1e-6)
    np.testing.assert_allclose((R @ hand.palm_normal).numpy(), -up, atol=1e-6)  # the palm looks down at it
    torch.testing.assert_close(R @ R.transpose(1, 2), torch.eye(3).expand(4, 3, 3), atol=1e-5, rtol=0)
