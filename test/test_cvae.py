"""Stage 2's part-aware CVAE: encoder shapes and invariances, a tiny overfit, checkpoints, inference frames."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from gdexgrasp_ros.errors import GraspError
from gdexgrasp_ros.geometry.rotations import up_frame
from gdexgrasp_ros.geometry.sampling import farthest_point_sampling, farthest_point_sampling_batched
from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.stage2 import cvae_training as T
from gdexgrasp_ros.stage2.cvae import (
    CVAEConfig,
    PartAwareCVAE,
    PartQuery,
    load_checkpoint,
    save_checkpoint,
)
from gdexgrasp_ros.stage2.generation import GenerationInput, make_generator
from gdexgrasp_ros.stage2.pointnet2 import PointNet2Encoder

CONFIG = CVAEConfig(clusters=4, points=128, latent=8, width=64)


def _box_object(size, seed=0, n=1500):
    """Points and outward normals of a box 'body' with a box 'handle' on its +x side; mask of the handle."""
    rng = np.random.default_rng(seed)

    def box(centre, extent, count):
        faces = rng.integers(0, 6, count)
        axis, sign = faces // 2, np.where(faces % 2, 1.0, -1.0)
        p = rng.uniform(-0.5, 0.5, (count, 3))
        p[np.arange(count), axis] = 0.5 * sign
        normals = np.zeros((count, 3))
        normals[np.arange(count), axis] = sign
        return centre + p * extent, normals

    body, nb = box(np.zeros(3), np.array([0.08, 0.08, 0.1]), n)
    handle, nh = box(np.array([0.04 + size[0] / 2, 0, 0]), np.asarray(size), n // 3)
    mask = np.r_[np.zeros(len(body), bool), np.ones(len(handle), bool)]
    return np.r_[body, handle], np.r_[nb, nh], mask


def _dataset(count=16, seed=0):
    rng = np.random.default_rng(seed)
    hand = OpenHand()
    rows = []
    for i in range(count):
        size = rng.uniform([0.01, 0.02, 0.05], [0.03, 0.03, 0.09])
        pts, nrm, mask = _box_object(size, i)
        query = PartQuery.build(pts, nrm, mask, i % CONFIG.clusters, CONFIG)
        R = Rotation.from_rotvec(rng.normal(0, 1, 3)).as_matrix()
        t = pts[mask].mean(0) + rng.normal(0, 0.03, 3)
        pick = rng.choice(len(pts), T.PEN_POINTS, replace=False)

        class Rec:
            rotation, translation = R, t

        rows.append((query, Rec, hand.default_posture("handle-grip"), pts[pick], nrm[pick]))
    return T._stack(rows, CONFIG), hand


def test_the_encoder_gives_one_code_per_cloud_whatever_the_point_order():
    torch.manual_seed(0)
    enc = PointNet2Encoder(out=32).eval()
    xyz = torch.randn(3, 200, 3)
    xyz = xyz / xyz.norm(dim=-1).amax(1)[:, None, None]
    feats, scale = torch.randn(3, 200, 3), torch.tensor([0.05, 0.1, 0.2])
    code = enc(xyz, feats, scale)
    assert code.shape == (3, 32)
    perm = torch.randperm(200)
    np.testing.assert_allclose(enc(xyz[:, perm], feats[:, perm], scale).detach(), code.detach(), atol=1e-5)
    assert not torch.allclose(enc(xyz, feats, scale * 2), code), "the scale factor is part of the code"


def test_torch_farthest_point_sampling_matches_the_numpy_one():
    pts = np.random.default_rng(1).normal(size=(300, 3))
    got = farthest_point_sampling_batched(torch.as_tensor(pts[None]), 20)[0].numpy()
    assert list(got) == list(farthest_point_sampling(pts, 20))


def test_model_outputs_and_condition_sizes():
    data, _ = _dataset(4)
    model = PartAwareCVAE(CONFIG)
    inputs, centre = T.network_inputs(data.points, data.normals, data.rest, data.cluster, CONFIG, data.groups)
    r6, t, mu, logvar = model(inputs, torch.zeros(4, 6), torch.zeros(4, 3))
    assert r6.shape == (4, 6) and t.shape == (4, 3) and mu.shape == logvar.shape == (4, CONFIG.latent)
    assert model.condition(inputs).shape == (4, 4 * CONFIG.code) and centre.shape == (4, 3)
    obj = PartAwareCVAE(CVAEConfig(clusters=4, points=128, latent=8, width=64, object_based=True))
    assert obj.condition(inputs).shape == (4, 2 * CONFIG.code), "the object-based network has no V or S^P"
    R, tt = model.sample(inputs, 5)
    assert R.shape == (4, 5, 3, 3) and tt.shape == (4, 5, 3)


def test_a_turn_about_up_moves_the_targets_with_the_object():
    data, hand = _dataset(2)
    yaw = torch.tensor([0.7, -2.0])
    turned = T.turned(data, yaw)
    Rz = torch.as_tensor(Rotation.from_euler("z", 0.7).as_matrix(), dtype=torch.float32)
    np.testing.assert_allclose(turned.points[0], data.points[0] @ Rz.T, atol=1e-6)
    np.testing.assert_allclose(turned.translation[0], Rz @ data.translation[0], atol=1e-6)
    # the hand relative to the part is unchanged: same vertex-to-part distances
    from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d

    def gaps(d):
        v = hand.forward(matrix_to_rot6d(d.rotation), d.translation, d.joints).vertices
        return torch.cdist(v, d.points).min(-1).values

    np.testing.assert_allclose(gaps(turned), gaps(data), atol=1e-5)


def test_a_tiny_overfit_drops_the_loss_tenfold():
    torch.manual_seed(0)
    data, hand = _dataset(16)
    model = PartAwareCVAE(CONFIG)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = None
    for _ in range(600):  # ~10x at 600 Adam steps of lr 1e-3 (the paper's rate)
        terms = T.losses(model, hand, data)
        first = first if first is not None else float(terms["total"].detach())
        opt.zero_grad()
        terms["total"].backward()
        opt.step()
    last = float(T.losses(model, hand, data)["total"].detach())
    assert last < first / 10, (first, last)


def test_checkpoints_round_trip_and_bad_files_are_named(tmp_path):
    torch.manual_seed(0)
    model = PartAwareCVAE(CONFIG).eval()
    save_checkpoint(model, tmp_path / "w.safetensors", {"epochs": 3})
    loaded, extra = load_checkpoint(tmp_path / "w.safetensors")
    assert extra == {"epochs": 3} and loaded.config == CONFIG
    data, _ = _dataset(2)
    inputs, _ = T.network_inputs(data.points, data.normals, data.rest, data.cluster, CONFIG, data.groups)
    z = torch.randn(2, CONFIG.latent)
    for a, b in zip(model.decode(z, model.condition(inputs)), loaded.decode(z, loaded.condition(inputs)), strict=True):
        np.testing.assert_allclose(a.detach(), b.detach(), atol=1e-6)
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    for path, says in ((tmp_path / "junk.safetensors", "not a readable CVAE"), (tmp_path / "none", "no CVAE weights")):
        with pytest.raises((ValueError, FileNotFoundError), match=says):
            load_checkpoint(path)
    with pytest.raises(GraspError, match="object-based network"):
        obj = PartAwareCVAE(CVAEConfig(clusters=4, points=128, latent=8, width=64, object_based=True))
        save_checkpoint(obj, tmp_path / "obj.safetensors")
        make_generator("cvae", path=str(tmp_path / "obj.safetensors"))
    with pytest.raises(GraspError, match="generator 'cvae'"):
        make_generator("cvae", path=str(tmp_path / "junk.safetensors"))


def test_inference_returns_k_poses_in_the_clouds_frame(tmp_path):
    """A cloud seen in a rotated frame (up = that frame's image of z) gets the same poses, rotated."""
    torch.manual_seed(0)
    save_checkpoint(PartAwareCVAE(CONFIG).eval(), tmp_path / "w.safetensors")
    gen = make_generator("cvae", path=str(tmp_path / "w.safetensors"))
    hand = OpenHand()
    pts, nrm, mask = _box_object([0.02, 0.025, 0.07])
    query = GenerationInput(pts, nrm, mask, 6, hand, seed=3, cluster_id=1)
    poses = gen.generate(query)
    assert poses.count == 6 and poses.generator == "cvae" and "cluster 1" in poses.description
    Q = Rotation.from_euler("xyz", [0.4, -1.1, 2.0]).as_matrix()
    up = Q @ np.array([0, 0, 1.0])
    seen = gen.generate(GenerationInput(pts @ Q.T, nrm @ Q.T, mask, 6, hand, seed=3, cluster_id=1, up=tuple(up)))
    # the up frame of the rotated cloud differs from Q by a yaw; compare where the wrists are relative to the part
    centre = pts[mask].mean(0)
    d0 = np.sort(np.linalg.norm(poses.trans.numpy() - centre, axis=1))
    d1 = np.sort(np.linalg.norm(seen.trans.numpy() - Q @ centre, axis=1))
    assert np.allclose(d0, d1, atol=0.03), "poses follow the cloud's frame"
    assert math.isclose(float(np.linalg.det(up_frame(up / np.linalg.norm(up)))), 1.0, abs_tol=1e-9)
