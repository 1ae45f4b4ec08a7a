"""ManoHand against an independent numpy LBS, on a fake MANO pickle the test writes itself."""

import os
import pickle
import sys

import numpy as np
import pytest
import torch
from fake_mano import PARENTS, V, write_fake_mano
from scipy.spatial.transform import Rotation

from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d
from gdexgrasp_ros.hand.mano import OPENPOSE_FROM_MANO, TIP_VERTICES, ManoHand, load_mano_pickle


@pytest.fixture(scope="module")
def fake_path(tmp_path_factory):
    return write_fake_mano(tmp_path_factory.mktemp("mano") / "MANO_RIGHT.pkl")


def numpy_lbs(data, hand_pose, betas):
    """Textbook LBS (SMPL paper, eq. 1-4), written independently of the library."""
    v_shaped = data["v_template"] + np.tensordot(data["shapedirs"], betas, axes=([2], [0]))
    J = data["J_regressor"] @ v_shaped
    rots = [np.eye(3)] + [Rotation.from_rotvec(r).as_matrix() for r in hand_pose.reshape(15, 3)]
    feat = np.concatenate([(r - np.eye(3)).ravel() for r in rots[1:]])
    v_posed = v_shaped + np.tensordot(data["posedirs"], feat, axes=([2], [0]))
    world = []
    for k in range(16):
        T = np.eye(4)
        T[:3, :3] = rots[k]
        T[:3, 3] = J[k] - (J[PARENTS[k]] if k else 0)
        world.append(T if k == 0 else world[PARENTS[k]] @ T)
    verts = np.zeros_like(v_posed)
    for k in range(16):
        A = world[k].copy()
        A[:3, 3] -= world[k][:3, :3] @ J[k]
        verts += data["weights"][:, k : k + 1] * (v_posed @ A[:3, :3].T + A[:3, 3])
    joints = np.array([w[:3, 3] for w in world])
    return verts, joints


def test_unpickler_reads_chumpy_arrays_without_chumpy(fake_path):
    assert "chumpy" not in sys.modules
    data = load_mano_pickle(fake_path)
    assert isinstance(data["shapedirs"], np.ndarray) and data["shapedirs"].shape == (V, 3, 10)
    assert isinstance(data["J_regressor"], np.ndarray) and data["J_regressor"].shape == (16, V)


def test_lbs_matches_independent_numpy(fake_path):
    data = load_mano_pickle(fake_path)
    hand = ManoHand(fake_path, dtype=torch.float64)
    rng = np.random.default_rng(3)
    pose, betas = rng.normal(0, 0.4, 45), rng.normal(0, 1.0, 10)
    R = Rotation.from_rotvec([0.3, -0.5, 1.1]).as_matrix()
    trans = np.array([0.1, -0.2, 0.4])
    out = hand.forward(matrix_to_rot6d(torch.as_tensor(R)[None]), torch.as_tensor(trans)[None],
                       torch.as_tensor(pose)[None], betas=torch.as_tensor(betas)[None])  # fmt: skip
    verts, joints = numpy_lbs(data, pose, betas)
    expect_v = (verts - joints[0]) @ R.T + trans
    np.testing.assert_allclose(out.vertices[0].numpy(), expect_v, atol=1e-9)
    expect_j = (joints - joints[0]) @ R.T + trans
    mano21 = np.concatenate([expect_j, expect_v[list(TIP_VERTICES.values())]])
    np.testing.assert_allclose(out.keypoints[0].numpy(), mano21[list(OPENPOSE_FROM_MANO)], atol=1e-9)
    assert out.keypoints.shape == (1, 21, 3)
    np.testing.assert_allclose(out.keypoints[0, 0].numpy(), trans, atol=1e-12)  # wrist at trans


def test_pca_pose_maps_through_the_components(fake_path):
    data = load_mano_pickle(fake_path)
    full = ManoHand(fake_path, dtype=torch.float64, flat_hand_mean=False)
    pca = ManoHand(fake_path, dtype=torch.float64, use_pca=True, ncomps=6, flat_hand_mean=False)
    coeffs = torch.tensor([[0.5, -0.2, 0.1, 0.0, 0.3, -0.4]], dtype=torch.float64)
    axis_angle = coeffs.numpy() @ data["hands_components"][:6] + data["hands_mean"]
    np.testing.assert_allclose(pca.hand_pose(coeffs).numpy(), axis_angle, atol=1e-12)
    r6 = matrix_to_rot6d(torch.eye(3, dtype=torch.float64))[None]
    t = torch.zeros(1, 3, dtype=torch.float64)
    a = pca.forward(r6, t, coeffs).vertices
    b = full.forward(r6, t, torch.as_tensor(axis_angle) - full.hand_mean).vertices
    torch.testing.assert_close(a, b)
    assert pca.dof == 6 and full.dof == 45


def test_interface_pieces(fake_path):
    hand = ManoHand(fake_path)
    r6 = matrix_to_rot6d(torch.eye(3))[None]
    out = hand.forward(r6, torch.zeros(1, 3), torch.zeros(1, 45, requires_grad=True))
    pts = torch.rand(1, 20, 3, generator=torch.Generator().manual_seed(0)) * 0.2
    sd = hand.signed_distance(out, pts)
    # |sd| is the distance to the nearest vertex (MANO's surface has no analytic distance).
    nearest = np.linalg.norm(pts[0].numpy()[:, None] - out.vertices[0].detach().numpy()[None], axis=-1).min(1)
    np.testing.assert_allclose(sd.abs()[0].detach().numpy(), nearest, atol=1e-6)
    assert hand.self_penetration(out).shape == (1,)
    assert hand.joint_limits.shape == (45, 2)


def test_missing_and_wrong_files_get_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="MANO model file not found"):
        ManoHand(tmp_path / "nope.pkl")
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps({"v_template": np.zeros((3, 3))}))
    with pytest.raises(ValueError, match="lacks MANO keys"):
        load_mano_pickle(bad)


@pytest.mark.skipif(
    not os.environ.get("GDEXGRASP_MANO_PATH"), reason="set GDEXGRASP_MANO_PATH to a real MANO_RIGHT.pkl"
)
def test_real_mano_file():
    hand = ManoHand(os.environ["GDEXGRASP_MANO_PATH"])
    assert hand.v_template.shape == (778, 3) and hand.faces.shape == (1538, 3)
    out = hand.forward(matrix_to_rot6d(torch.eye(3))[None], torch.zeros(1, 3), torch.zeros(1, 45))
    extent = (out.vertices.max(1).values - out.vertices.min(1).values).max()
    assert 0.12 < float(extent) < 0.25, "a real right hand is about 0.18 m long"
