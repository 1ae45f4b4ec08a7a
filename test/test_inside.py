"""Inside / outside of complete clouds (geometry.inside) and what uses it: stage 3's reverse
penetration, stage 2's initial poses and the reported grasp quality (issue 14)."""

import numpy as np
import pytest
import torch
import trimesh

from gdexgrasp_ros.geometry.inside import InsideTest, inside_depth, winding_number
from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d, rot6d_to_matrix
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


# -- stage 2: initial poses start outside the object --------------------------------------------------
def test_initial_hands_that_start_inside_are_pushed_out_along_their_approach(hand):
    from gdexgrasp_ros.metrics.contact import penetration_depth
    from gdexgrasp_ros.stage2.generation import GenerationInput, make_generator

    obj = generate_object("mug", seed=0)
    prior = posture_prior(hand, "handle-grip", "handle")
    q = torch.as_tensor(prior.joints, dtype=torch.float32).expand(16, -1)

    def placed(complete):
        query = GenerationInput(obj.points, obj.normals, obj.part_mask("handle"), 16, hand, 0, complete=complete,
                                joints=prior.joints)  # fmt: skip
        poses = make_generator("part_facing").generate(query)
        depths = [penetration_depth(v.numpy(), obj.mesh) for v in hand.forward(poses.rot6d, poses.trans, q).vertices]
        return poses, np.array(depths)

    raw, raw_depth = placed(False)
    cleared, depth = placed(True)
    inside = raw_depth > 0.002
    assert inside.sum() >= 4, "the curled fingers of hands 2 cm from a mug's handle reach into its body"
    assert depth.max() < 0.002, depth
    moved = (cleared.trans - raw.trans).norm(dim=1).numpy() > 0
    assert (moved == inside).all()
    torch.testing.assert_close(cleared.rot6d, raw.rot6d)  # still facing the part, only further out
    away = -(rot6d_to_matrix(raw.rot6d) @ hand.palm_normal)
    shift = cleared.trans - raw.trans
    torch.testing.assert_close(shift, (shift * away).sum(1, keepdim=True) * away, atol=1e-5, rtol=0)
    assert f"{inside.sum()} of 16 started inside the object" in cleared.description
    assert "started inside" not in raw.description


# -- the reported quality of a grasp on a complete cloud -------------------------------------------------
def _on_a_suitcase(hand, depth):
    """The flat hand against the suitcase's broad +y face, palm towards it; its lowest point `depth` m
    under the face (negative: above it)."""
    obj = generate_object("suitcase", seed=0)
    body = obj.points[obj.part_ids == obj.part_id("body")]
    face = float(body[:, 1].max())
    R = torch.tensor([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # the palm normal (hand -z) to world -y
    r6, t, q = _flat_hand(hand, [0.0, 0.0, 0.23], R)
    lowest = float(hand.forward(r6, t, q).vertices[0, :, 1].min())
    return obj, (r6, t + torch.tensor([0.0, face - depth - lowest, 0.0]), q)


def test_a_buried_hand_reports_its_true_depth_and_ranks_below_a_resting_one(hand):
    from gdexgrasp_ros.metrics import contact as M
    from gdexgrasp_ros.metrics.contact import surface_contact_count
    from gdexgrasp_ros.metrics.quality import evaluate_grasp, ranking_score

    everything = None
    reports = {}
    for name, depth in (("buried", 0.04), ("resting", -0.002)):
        obj, pose = _on_a_suitcase(hand, depth)
        everything = np.ones(len(obj), dtype=bool)
        out = hand.forward(*pose)
        verts = out.vertices[0].numpy()

        def sdf(p, out=out):
            return hand.signed_distance(out, torch.as_tensor(p, dtype=torch.float32)[None])[0].numpy()

        truth = M.penetration_depth(verts, obj.mesh)  # trimesh signed distance on the closed mesh
        complete = evaluate_grasp(verts, obj.points, obj.normals, everything, hand_sdf=sdf, complete=True)
        camera = evaluate_grasp(verts, obj.points, obj.normals, everything, hand_sdf=sdf)
        reports[name] = complete
        assert abs(complete.penetration_depth - truth) < 0.003, (name, complete.penetration_depth, truth)
        true_volume = M.intersection_volume(obj.mesh, sdf)
        assert abs(complete.intersection_volume - true_volume) <= 0.15 * true_volume + 2e-6, (name, true_volume)
        assert np.isnan(camera.intersection_volume) and np.isnan(camera.inside_fraction)
        assert np.isnan(complete.simulation_displacement), "no closed surface: not simulated"
        # The score takes the volume in m^3 (quality.VOLUME_SCALE_M3): a unit slip would move it by orders.
        assert complete.score == pytest.approx(ranking_score(complete.part_contact_ratio, complete.penetration_depth,
                                                             complete.force_closure_residual,
                                                             surface_contact_count(verts, obj.points, obj.normals),
                                                             complete.inside_fraction, complete.intersection_volume))  # fmt: skip
        if name == "buried":
            assert truth > 0.035 and complete.inside_fraction > 0.5 and complete.contact_count > 0
            assert camera.penetration_depth < truth - 0.01, "the 2 cm guard cannot see this deep"
    buried, resting = reports["buried"], reports["resting"]
    assert resting.penetration_depth == 0.0 and resting.inside_fraction == 0.0 and resting.contact_count > 0
    assert buried.score < 0.1 < 0.5 < resting.score


def test_ranking_discounts_the_share_of_the_hand_inside():
    from gdexgrasp_ros.metrics.quality import ranking_score

    assert ranking_score(1.0, 0.0, 0.0, 50, inside_fraction=0.0) == pytest.approx(1.0)
    assert ranking_score(1.0, 0.0, 0.0, 50, inside_fraction=0.1) == pytest.approx(0.8)
    assert ranking_score(1.0, 0.0, 0.0, 50, inside_fraction=0.6) == 0.0
    assert ranking_score(1.0, 0.0, 0.0, 50, inside_fraction=float("nan")) == pytest.approx(1.0)  # camera view


def test_the_pipeline_judges_a_complete_cloud_with_the_inside_test(hand):
    from gdexgrasp_ros.pipeline import GraspSynthesizer

    obj, resting = _on_a_suitcase(hand, -0.002)
    _, buried = _on_a_suitcase(hand, 0.04)
    everything = np.ones(len(obj), dtype=bool)
    prior = posture_prior(hand, "wrap-around-grip", "body")
    r6, t, q = (torch.cat(pair) for pair in zip(buried, resting, strict=True))
    opt = PriorGuidedOptimizer(hand, OptimizerConfig(mode="none")).run(
        ObjectContext(obj, everything, "cpu", complete=True), prior, r6, t, joints=q
    )
    grasps = GraspSynthesizer()._evaluate(hand, opt, obj, everything, prior, part_known=True, check=lambda: None,
                                          complete=True)  # fmt: skip
    grasps.sort(key=lambda g: -g.quality.score)
    assert len(grasps) == 2 and grasps[0].quality.penetration_depth == 0.0, "the resting hand ranks first"
    assert grasps[1].quality.penetration_depth > 0.035 and grasps[1].quality.intersection_volume > 1e-5
    assert opt.terms["revpen"][0] > 1.0 and opt.terms["revpen"][1] < 1e-4


def test_the_benchmark_depth_on_an_open_mesh_follows_its_solid_not_ray_parity():
    """PartNet meshes are open shells and part soups, where trimesh's ray-parity inside test put
    hand points far outside a pen "inside" it; metrics.contact judges such a mesh by its filled
    voxelization (an open cup's cavity stays outside) and the nearest face near the surface."""
    from gdexgrasp_ros.metrics import contact as M

    # An open cup (a thick wall and a bottom: outer radius 4 cm, inner 3 cm) and a label: an open
    # sheet beside its wall, which makes the mesh no closed surface.
    outer = trimesh.creation.cylinder(radius=0.04, height=0.10)
    cavity = trimesh.creation.cylinder(radius=0.03, height=0.09)
    cavity.apply_translation([0, 0, 0.01])
    cup = outer.difference(cavity)
    label = trimesh.Trimesh([[0.045, -0.02, -0.02], [0.045, 0.02, -0.02], [0.045, 0.02, 0.02], [0.045, -0.02, 0.02]],
                            [[0, 1, 2], [0, 2, 3]])  # fmt: skip
    open_cup = trimesh.util.concatenate([cup, label])
    assert cup.is_watertight and not open_cup.is_watertight
    mesh = PartMesh(open_cup.vertices, open_cup.faces, np.zeros(len(open_cup.faces), dtype=int))
    points = np.array([
        [0.0, 0.0, 0.0],  # in the cavity: air
        [0.035, 0.0, 0.0],  # in the wall, 5 mm from either face
        [0.0, 0.0, -0.047],  # in the bottom, 3 mm deep
        [0.041, 0.0, 0.0],  # 1 mm outside the wall
        [0.10, 0.0, 0.0],  # far outside
    ])  # fmt: skip
    depths = M.inside_depths(points, mesh)
    assert depths[0] == 0.0 and depths[3] == 0.0 and depths[4] == 0.0
    assert depths[1] == pytest.approx(0.005, abs=5e-4) and depths[2] == pytest.approx(0.003, abs=5e-4)
    # 2-3.5 mm outside the wall lies in filled voxels the surface crosses (2 mm voxels): still
    # outside (away from the label, which is a surface of its own).
    angle, height, radius = np.meshgrid(np.linspace(np.pi / 4, 7 * np.pi / 4, 48), np.linspace(-0.04, 0.04, 9),
                                        (0.0421, 0.0425, 0.0433), indexing="ij")  # fmt: skip
    ring = np.stack([radius * np.cos(angle), radius * np.sin(angle), height], -1).reshape(-1, 3)
    assert not M.inside_depths(ring, mesh).any()
    # A closed mesh keeps trimesh's exact signed distance.
    closed = PartMesh(cup.vertices, cup.faces, np.zeros(len(cup.faces), dtype=int))
    exact = np.maximum(trimesh.proximity.signed_distance(cup, points), 0.0)
    assert np.allclose(M.inside_depths(points, closed), exact)
