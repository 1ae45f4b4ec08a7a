"""AffordPose importer: mapping, units, the wrist-frame alignment, skips, and the database it writes."""

import json

import numpy as np
import pytest
import trimesh
from conftest import SHARED
from scipy.spatial.transform import Rotation

from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d
from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.stage1 import affordpose_import as AP
from gdexgrasp_ros.stage1.grasp_dataset import load_records
from gdexgrasp_ros.stage1.prior_database import PriorDatabase

SAMPLE = SHARED / "data" / "affordpose_sample" / "data.json"


@pytest.fixture(scope="module")
def hand():
    return OpenHand()


def _hand_vertices(hand, R, t, q):
    import torch

    out = hand.forward(matrix_to_rot6d(torch.tensor(R, dtype=torch.float32)[None]),
                       torch.tensor(t, dtype=torch.float32)[None], torch.tensor(q, dtype=torch.float32)[None])  # fmt: skip
    return out.vertices[0].numpy().astype(float)


def _box_lines(centre, size, label):
    box = trimesh.creation.box(extents=size)
    box.apply_translation(centre)
    return box.vertices, box.faces, label


def _interaction(hand, afford_name="Wrap-grasp", class_name="bottle", seed=0):
    """An AffordPose-layout interaction made from the OpenHand at a known pose: the file's GraspIt hand pose is
    the inverse of the importer's alignment, its rhand_mesh our hand's surface, its object two labelled boxes
    (a wrap-grasp body at the palm, a twist cap above it)."""
    rng = np.random.default_rng(seed)
    R_o = Rotation.from_rotvec(rng.normal(0, 1, 3)).as_matrix()
    t_o = rng.normal(0, 0.05, 3)
    q = np.clip(rng.normal(0.4, 0.2, 16), hand.joint_limits[:, 0].numpy(), hand.joint_limits[:, 1].numpy())
    A, b = AP.OPENHAND_IN_AFFORDPOSE_HAND
    A = AP._orthonormal(A)
    R_ap = R_o @ A.T
    t_ap = t_o - R_ap @ b
    x, y, z, w = Rotation.from_matrix(R_ap).as_quat()
    verts = _hand_vertices(hand, R_o, t_o, q)
    palm = t_o + R_o @ np.array([0.05, 0.0, -0.06])  # in front of the palm (-z is the palm side)
    lines = []
    offset = 0
    for v, f, label in (
        _box_lines(palm, (0.06, 0.05, 0.04), 5),
        _box_lines(palm + [0, 0, 0.06], (0.03, 0.03, 0.02), 6),
    ):
        lines += [f"v {p[0]} {p[1]} {p[2]} {label}\n" for p in v]
        lines += [f"f {a + 1 + offset} {b_ + 1 + offset} {c + 1 + offset}\n" for a, b_, c in f]
        offset += len(v)
    return {
        "rhand_mesh": [f"v {p[0]} {p[1]} {p[2]}\n" for p in verts] + ["f 1 2 3\n"],
        "dofs": q.tolist(), "rhand_trans": (t_ap * 1000.0).tolist(), "rhand_quat": [w, x, y, z],
        "object_mesh": lines, "trans_obj": [0, 0, 0], "quat_obj": [1, 0, 0, 0],
        "afford_name": afford_name, "class_name": class_name,
    }, (R_o, t_o, q)  # fmt: skip


def _write(folder, name, data):
    path = folder / "bottle" / "7" / f"7_{name}" / "0.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_an_interaction_comes_back_at_the_pose_it_was_written_from(tmp_path, hand):
    data, (R_o, t_o, q) = _interaction(hand)
    record = AP.import_interaction(hand, _write(tmp_path, "Wrap-grasp", data), 3)
    assert (record.affordance, record.category, record.part) == ("wrap-around-grip", "bottle", "body")
    np.testing.assert_allclose(record.rotation, R_o, atol=1e-5)
    np.testing.assert_allclose(record.translation, t_o, atol=1e-6)  # millimetres read as millimetres
    np.testing.assert_allclose(record.joints, q, atol=1e-6)
    np.testing.assert_allclose(
        record.part_extents, [0.06, 0.05, 0.04], atol=0.01
    )  # the wrap-grasp box only (a PCA box)
    assert record.contact.shape == (hand.num_vertices,)


def test_twist_on_a_class_the_table_knows_is_named_after_its_part_and_unknown_classes_get_generic_names(tmp_path, hand):
    data, _ = _interaction(hand, "Twist", "jar")
    assert AP.import_interaction(hand, _write(tmp_path, "Twist", data), 0).part == "lid"
    data, _ = _interaction(hand, "Twist", "lantern")
    record = AP.import_interaction(hand, _write(tmp_path / "b", "Twist", data), 0)
    assert (record.affordance, record.part) == ("twist", "cap")


def test_the_alignment_is_recovered_from_a_hand_mesh(hand):
    data, _ = _interaction(hand, seed=1)
    A, b, err = AP.fit_hand_alignment(data, hand, iterations=30)
    assert err < 1e-3
    np.testing.assert_allclose(A, AP._orthonormal(AP.OPENHAND_IN_AFFORDPOSE_HAND[0]), atol=1e-3)
    np.testing.assert_allclose(b, AP.OPENHAND_IN_AFFORDPOSE_HAND[1], atol=1e-3)


def test_a_folder_imports_what_maps_and_counts_what_does_not(tmp_path, hand):
    root = tmp_path / "AffordPose"
    for i, name in enumerate(("Wrap-grasp", "Twist", "Lift")):
        data, _ = _interaction(hand, name, seed=i)
        _write(root, name, data)
    broken = root / "bottle" / "8" / "8_Twist" / "0.json"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json")
    out = tmp_path / "db"
    assert AP.main([str(root), "--out", str(out), "--points", "512"]) == 0
    report = json.loads((out / "build.json").read_text())
    assert report["import"]["files"] == 4 and report["import"]["imported"] == 2
    assert report["import"]["skipped"] == {"no G-DexGrasp affordance for 'Lift'": 1, "unreadable": 1}
    records, _ = load_records(out / "grasps.npz")
    assert sorted(r.affordance for r in records) == ["twist", "wrap-around-grip"]
    assert PriorDatabase.load(out / "priors.npz").affordances == ["twist", "wrap-around-grip"]
    assert (out / "clusters.png").stat().st_size > 0
    with pytest.raises(SystemExit):
        AP.main([str(tmp_path / "missing"), "--out", str(out)])


@pytest.mark.skipif(not SAMPLE.is_file(), reason="needs ../shared/data/affordpose_sample")
def test_the_sample_bottle_is_wrapped_on_its_wrap_grasp_region(hand):
    record = AP.import_interaction(hand, SAMPLE, 0)
    assert (record.affordance, record.category, record.part) == ("wrap-around-grip", "bottle", "body")
    assert record.metrics["contacts"] >= 50 and record.metrics["part_ratio"] >= 0.9
    assert record.metrics["penetration_m"] < 0.01
    A, b, err = AP.fit_hand_alignment(SAMPLE, hand)
    angle = Rotation.from_matrix(A.T @ AP._orthonormal(AP.OPENHAND_IN_AFFORDPOSE_HAND[0])).magnitude()
    assert err < 0.012 and np.degrees(angle) < 2.0 and np.linalg.norm(b - AP.OPENHAND_IN_AFFORDPOSE_HAND[1]) < 0.005
