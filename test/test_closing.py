"""Stage 3's closing finish: fingers close on a thin part seen as a cloud, touch it, and hold it in simulation."""

import numpy as np
import pytest
import torch
import trimesh

from gdexgrasp_ros.geometry.inside import surface_distance
from gdexgrasp_ros.geometry.nearest import NearestIndex
from gdexgrasp_ros.geometry.normals import point_spacing
from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d
from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.metrics import contact as M
from gdexgrasp_ros.metrics.simulation import simulation_displacement
from gdexgrasp_ros.objects.part_object import PartMesh, sample_mesh
from gdexgrasp_ros.stage3.closing import ClosingConfig, close_on_object, cloud_distance

FINGER_FLEXIONS = [1, 2, 4, 5, 7, 8, 10, 11]


@pytest.fixture(scope="module")
def hand():
    return OpenHand()


def _rod(radius: float, offset=(0.0, 0.0, 0.0)) -> PartMesh:
    """A rod along y across the palm, just in front of it, clear of the thumb (wrist frame: the palm faces -z)."""
    tm = trimesh.creation.cylinder(radius=radius, height=0.1, sections=48)
    tm.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    tm.apply_translation(np.array([0.075, -0.025, -0.0145 - radius - 0.006]) + offset)
    return PartMesh(tm.vertices, tm.faces, np.zeros(len(tm.faces), dtype=int))


def _cloud(mesh: PartMesh, n: int = 3000):
    pts, nrm, _ = sample_mesh(mesh, n, seed=0)
    return torch.as_tensor(pts, dtype=torch.float32), torch.as_tensor(nrm, dtype=torch.float32), point_spacing(pts)


def _open_hand_pose():
    q0 = torch.zeros(1, 16)
    q0[0, FINGER_FLEXIONS] = 0.1
    return matrix_to_rot6d(torch.eye(3))[None], torch.zeros(1, 3), q0


def test_fingers_wrap_a_thin_handle_seen_as_a_cloud_and_the_simulation_holds_it(hand):
    mesh = _rod(0.0075)  # a 1.5 cm handle
    pts, nrm, spacing = _cloud(mesh)
    r6, t, q0 = _open_hand_pose()
    q = close_on_object(hand, r6, t, q0, cloud_distance(pts, nrm, spacing))
    assert (q[0, FINGER_FLEXIONS] > q0[0, FINGER_FLEXIONS] + 0.3).sum() >= 4, "the fingers closed"
    faces = hand.faces.numpy()
    opened, closed = (hand.forward(r6, t, x).vertices[0].numpy() for x in (q0, q))
    assert M.penetration_depth(closed, mesh) < 0.004, "touching and pressing, not buried"
    assert M.contact_count(closed, pts.numpy()) > 2 * M.contact_count(opened, pts.numpy())
    # Gravity pulls the rod away from the palm (-z): only fingers wrapped round it can hold it.
    assert simulation_displacement(closed, faces, mesh) < 0.02
    assert simulation_displacement(opened, faces, mesh) > 0.05


def test_fingers_in_free_air_and_touches_off_the_part_keep_their_angles(hand):
    far = _rod(0.0075, offset=(0.0, 0.0, -0.3))  # 30 cm below the palm: nothing to touch
    pts, nrm, spacing = _cloud(far)
    r6, t, q0 = _open_hand_pose()
    torch.testing.assert_close(close_on_object(hand, r6, t, q0, cloud_distance(pts, nrm, spacing)), q0)
    near = _rod(0.0075)
    pts, nrm, spacing = _cloud(near)
    # The part is the far rod: the near rod is touched, but not on the part, so nothing changes.
    part = cloud_distance(*_cloud(far)[:2], spacing)
    torch.testing.assert_close(close_on_object(hand, r6, t, q0, cloud_distance(pts, nrm, spacing), part=part), q0)


def test_the_squeeze_flexes_touching_joints_past_the_touch(hand):
    pts, nrm, spacing = _cloud(_rod(0.0075))
    r6, t, q0 = _open_hand_pose()
    touch = close_on_object(hand, r6, t, q0, cloud_distance(pts, nrm, spacing), ClosingConfig(squeeze=0.0))
    pressed = close_on_object(hand, r6, t, q0, cloud_distance(pts, nrm, spacing), ClosingConfig(squeeze=0.03))
    upper = hand.joint_limits[:, 1]
    closed = [j for j in FINGER_FLEXIONS if touch[0, j] > q0[0, j] and touch[0, j] < upper[j] - 0.03]
    assert len(closed) >= 3
    torch.testing.assert_close(pressed[0, closed], touch[0, closed] + 0.03)
    # Up to 0.4 rad past the touch, the press goes on step by step and stops where a step would put a
    # vertex deeper than press_depth: deeper with 4 mm than with 2 mm, never beyond either.
    distance = cloud_distance(pts, nrm, spacing)
    deepest = {}
    for depth in (0.002, 0.004):
        hard = close_on_object(hand, r6, t, q0, distance, ClosingConfig(squeeze=0.4, press_depth=depth))
        assert (hard[0, closed] >= pressed[0, closed] - 1e-6).all(), "at least the 0.03 rad press"
        deepest[depth] = float(distance(hand.forward(r6, t, hard).vertices).min())
        assert deepest[depth] >= -depth - 1e-6
    assert deepest[0.004] < deepest[0.002] - 0.0005
    with pytest.raises(ValueError, match="closing settings"):
        ClosingConfig(step=0.0)
    with pytest.raises(ValueError, match="closing settings"):
        ClosingConfig(press_depth=-0.001)


def test_surface_distance_reads_the_tangent_plane_near_the_surface_and_the_point_distance_beyond_it():
    g = np.arange(-0.05, 0.0501, 0.005)  # a plane patch, points 5 mm apart, normals +z
    pts = torch.as_tensor(np.stack(np.meshgrid(g, g, [0.0]), -1).reshape(-1, 3), dtype=torch.float32)
    nrm = torch.zeros_like(pts)
    nrm[:, 2] = 1.0
    q = torch.tensor([[0.0012, 0.0013, 0.001], [0.0012, 0.0013, -0.001], [0.08, 0.0, 0.001]])
    d = surface_distance(q, pts, nrm, NearestIndex(pts), 0.005)
    torch.testing.assert_close(d[:2], torch.tensor([0.001, -0.001]), atol=1e-6, rtol=0)
    assert d[2] == pytest.approx(0.03, abs=1e-4), "beyond the edge: the distance to the nearest point"
