"""The hold check: a complete cloud's grasps simulated on a surface reconstructed from the cloud."""

import dataclasses
import math

import numpy as np
import pytest
import torch
import trimesh

from gdexgrasp_ros.geometry.reconstruction import closed_surface
from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d
from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.metrics.hold_check import HOLD_PENALTY, HoldCheck, hand_positions, hold_factor
from gdexgrasp_ros.metrics.quality import GraspQuality
from gdexgrasp_ros.objects.part_object import PartMesh, PartObject, sample_mesh
from gdexgrasp_ros.pipeline import GraspCandidate, GraspSynthesizer, SynthesizerConfig, _ranked
from gdexgrasp_ros.stage3.closing import close_on_object, cloud_distance

FINGER_FLEXIONS = [1, 2, 4, 5, 7, 8, 10, 11]


@pytest.fixture(scope="module")
def hand():
    return OpenHand()


def _rod() -> PartMesh:
    """A 1.5 cm rod along y across the palm, just in front of it (wrist frame: the palm faces -z)."""
    tm = trimesh.creation.cylinder(radius=0.0075, height=0.1, sections=48)
    tm.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    tm.apply_translation([0.075, -0.025, -0.0145 - 0.0075 - 0.006])
    return PartMesh(tm.vertices, tm.faces, np.zeros(len(tm.faces), dtype=int))


@pytest.fixture(scope="module")
def rod_grasps(hand):
    """The rod's cloud, and the hand open over it and closed round it (as the closing finish leaves it)."""
    points, normals, _ = sample_mesh(_rod(), 2048, seed=0)
    pts, nrm = torch.as_tensor(points, dtype=torch.float32), torch.as_tensor(normals, dtype=torch.float32)
    r6, t = matrix_to_rot6d(torch.eye(3))[None], torch.zeros(1, 3)
    opened = torch.zeros(1, 16)
    opened[0, FINGER_FLEXIONS] = 0.1
    from gdexgrasp_ros.geometry.normals import point_spacing

    closed = close_on_object(hand, r6, t, opened, cloud_distance(pts, nrm, point_spacing(points)))
    verts = {name: hand.forward(r6, t, q).vertices[0].numpy() for name, q in (("opened", opened), ("closed", closed))}
    return points, normals, verts


def test_the_surface_reconstructed_from_a_complete_cloud_is_closed_and_the_right_size():
    box = trimesh.creation.box(extents=(0.12, 0.06, 0.04))
    rod = trimesh.creation.cylinder(radius=0.0075, height=0.1, sections=48)
    for tm in (box, rod):
        points, normals, _ = sample_mesh(PartMesh(tm.vertices, tm.faces, np.zeros(len(tm.faces), dtype=int)), 2048, 0)
        vertices, faces = closed_surface(points, normals)
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        edges, uses = np.unique(np.sort(mesh.edges, axis=1), axis=0, return_counts=True)
        assert (uses == 2).mean() > 0.99 and (uses % 2 == 0).all(), "closed: every edge between two faces (a few four)"
        assert mesh.is_winding_consistent and mesh.volume > 0, "consistent, outward faces"
        assert abs(mesh.volume / tm.volume - 1.0) < 0.15, (mesh.volume, tm.volume)
        assert np.abs(mesh.bounds - tm.bounds).max() < 0.004


def test_an_open_container_is_closed_at_its_mouth_not_at_the_grid_edge():
    from gdexgrasp_ros.objects.preprocess import preprocess_cloud
    from gdexgrasp_ros.objects.procedural import generate_object

    bucket = generate_object("bucket", 0)  # hollow, open at the top
    pts, _, _ = sample_mesh(bucket.mesh, 8192, 0)
    cloud = preprocess_cloud(pts, cloud_kind="complete")
    vertices, _ = closed_surface(cloud.points, cloud.normals)
    assert np.abs(vertices.max(0) - bucket.mesh.vertices.max(0)).max() < 0.008, "capped within a pitch or two"


def test_bad_input_is_refused_with_a_message():
    flat = np.c_[np.random.default_rng(0).uniform(-0.05, 0.05, (500, 2)), np.zeros(500)]
    with pytest.raises(ValueError, match="one normal each"):
        closed_surface(flat, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="at least 16 points"):
        closed_surface(flat[:3], np.zeros((3, 3)))
    with pytest.raises(ValueError, match="pitch"):
        closed_surface(flat, np.tile([0.0, 0.0, 1.0], (500, 1)), pitch=0.0)


def test_a_hand_closed_round_a_rod_holds_its_reconstruction_and_an_open_hand_does_not(hand, rod_grasps):
    points, normals, verts = rod_grasps
    faces = hand.faces.numpy()
    with HoldCheck.of_cloud(points, normals, up=(0.0, 0.0, 1.0)) as check:
        # Gravity pulls the rod away from the palm (-z): only fingers wrapped round it hold it.
        assert check.displacement(verts["closed"], faces) < 0.02
        assert check.displacement(verts["opened"], faces) > 0.05
        # Gravity along +z pushes the rod into the palm: the open hand supports it too.
        check.gravity = np.array([0.0, 0.0, 1.0])
        assert check.displacement(verts["opened"], faces) < 0.02
        folder = check.decomposition
    import os

    assert not os.path.exists(folder), "the goal's decomposition is removed with the check"


def test_hold_factor_keeps_a_holding_grasp_and_halves_a_falling_one():
    assert hold_factor(1.0) == 1.0 and hold_factor(0.0) == HOLD_PENALTY and hold_factor(math.nan) == 1.0
    assert hold_factor(3 / 7) == pytest.approx(HOLD_PENALTY + (1 - HOLD_PENALTY) * 3 / 7)  # held in 3 of 7 positions


def test_hand_positions_are_the_plan_and_six_axis_shifts():
    assert len(hand_positions(0.0)) == 1 and not hand_positions(0.0)[0].any()
    offsets = np.array(hand_positions(0.0005))
    assert offsets.shape == (7, 3) and not offsets[0].any()
    assert np.allclose(np.linalg.norm(offsets[1:], axis=1), 0.0005) and np.allclose(offsets[1:].sum(0), 0.0)
    with pytest.raises(ValueError, match="hold_check_shift_mm"):
        SynthesizerConfig(hold_check_shift_mm=-1.0)
    import argparse

    from gdexgrasp_ros.benchmark.cli import _millimetres

    assert _millimetres("0.5") == 0.5
    with pytest.raises(argparse.ArgumentTypeError, match="0, 5"):
        _millimetres("-1")


def _candidate(vertices: np.ndarray, score: float) -> GraspCandidate:
    quality = GraspQuality(0.0, 0.0, math.nan, math.nan, 1.0, 0.1, 50, score, 0.0)
    return GraspCandidate(np.eye(3), np.zeros(3), (), np.zeros(16), np.zeros((21, 3)), vertices, vertices[:0], quality,
                          0.0)  # fmt: skip


def test_the_pipeline_ranks_a_grasp_that_holds_above_one_that_falls(hand, rod_grasps):
    points, normals, verts = rod_grasps
    obj = PartObject(points, normals, np.zeros(len(points), dtype=int), ["rod"], "rod", "test")
    synth = GraspSynthesizer(SynthesizerConfig(device="cpu", hold_check="all", hold_check_shift_mm=0.5))
    # The open hand scores higher on geometry alone; the closed one holds.
    grasps = [_candidate(verts["opened"], 0.9), _candidate(verts["closed"], 0.6)]
    note = synth._check_hold(grasps, hand, obj, (0.0, 0.0, 1.0), True, None, check=lambda: None)
    # The closed hand holds the rod as planned and in most of the six shifted positions; the open one in none.
    assert (
        note.startswith("hold check: 1 of 2 grasps held") and "also with the hand moved 0.5 mm along each axis" in note
    )
    ranked = _ranked(grasps, 2)
    assert ranked[0].vertices is verts["closed"] and 0.6 * hold_factor(5 / 7) <= ranked[0].quality.score <= 0.6
    assert ranked[0].quality.simulation_displacement < 0.02 < ranked[1].quality.simulation_displacement
    assert ranked[1].quality.score == pytest.approx(0.9 * HOLD_PENALTY)
    # Off the part (a ratio of 0.2), a grasp that holds still ranks below one on the part that falls.
    held, fell = ranked
    off_part = dataclasses.replace(held, quality=dataclasses.replace(held.quality, part_contact_ratio=0.2))
    on_falls = dataclasses.replace(fell, quality=dataclasses.replace(fell.quality, score=0.1))
    assert _ranked([off_part, on_falls], 2)[0] is on_falls
    # A camera view without a sensor is not simulated; neither is any cloud with the check off.
    camera = [_candidate(verts["opened"], 0.9)]
    note = synth._check_hold(camera, hand, obj, (0.0, 0.0, 1.0), False, None, check=lambda: None)
    assert "without a known sensor" in note
    assert math.isnan(camera[0].quality.simulation_displacement) and camera[0].quality.score == 0.9
    off = GraspSynthesizer(SynthesizerConfig(device="cpu", hold_check="off"))
    assert "off" in off._check_hold(camera, hand, obj, (0.0, 0.0, 1.0), True, None, check=lambda: None)
    assert math.isnan(camera[0].quality.simulation_displacement)
    default = GraspSynthesizer(SynthesizerConfig(device="cpu"))
    assert "complete clouds only" in default._check_hold(camera, hand, obj, (0.0, 0.0, 1.0), False, None, lambda: None)
    with pytest.raises(ValueError, match="hold_check must be one of"):
        SynthesizerConfig(hold_check="yes")


def test_a_camera_view_of_the_rod_is_simulated_with_the_back_it_assumes(hand, rod_grasps):
    from gdexgrasp_ros.geometry.normals import point_spacing
    from gdexgrasp_ros.geometry.visibility import ViewVolume

    points, normals, verts = rod_grasps
    sensor = np.array([0.075, -0.025, -0.6])  # below the palm, looking up at the rod's far side from it
    seen = points[normals[:, 2] < -0.1]
    view = ViewVolume.from_points(seen, sensor, point_spacing(seen))
    faces = hand.faces.numpy()
    with HoldCheck.of_view(view, seen) as check:
        lo, hi = check.mesh.vertices.min(0), check.mesh.vertices.max(0)
        assert hi[2] - lo[2] > 0.012, "the rod's unseen half (towards the palm) is assumed"
        assert check.displacement(verts["closed"], faces) < 0.02
        assert check.displacement(verts["opened"], faces) > 0.05


def test_a_check_that_cannot_run_is_skipped_and_a_cancel_stops_it(hand, rod_grasps):
    from types import SimpleNamespace

    from gdexgrasp_ros.errors import ErrorCode, GraspError
    from gdexgrasp_ros.pipeline import _Run

    points, normals, verts = rod_grasps
    synth = GraspSynthesizer(SynthesizerConfig(device="cpu"))
    few = PartObject(points[:10], normals[:10], np.zeros(10, dtype=int), ["rod"], "rod", "test")
    grasps = [_candidate(verts["closed"], 0.6)]
    note = synth._check_hold(grasps, hand, few, (0.0, 0.0, 1.0), True, None, check=lambda: None)
    assert note.startswith("geometric ranking (hold check skipped: ValueError")
    assert math.isnan(grasps[0].quality.simulation_displacement) and grasps[0].quality.score == 0.6
    obj = PartObject(points, normals, np.zeros(len(points), dtype=int), ["rod"], "rod", "test")
    run = _Run(SimpleNamespace(received=None, timeout=0.0), None, lambda: True)
    with pytest.raises(GraspError) as err:
        synth._check_hold(grasps, hand, obj, (0.0, 0.0, 1.0), True, None, check=run.raise_if_stopped)
    assert err.value.code == ErrorCode.CANCELED
