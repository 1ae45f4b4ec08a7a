"""Loaders for meshes, labelled points, PartNet-Mobility folders and AffordPose JSON (gdexgrasp_ros.objects.loaders).

Every fixture is a small file written by the test itself into tmp_path; the tests on the real
shapes in ../shared/data skip when that folder is absent.
"""

import json

import numpy as np
import pytest
import trimesh
from conftest import SHARED

from gdexgrasp_ros.objects.loaders import (
    AFFORDPOSE_LABELS,
    load_affordpose_object,
    load_labelled_points,
    load_mesh,
    load_partnet_mobility,
    load_partnet_point_sample,
    read_affordpose_grasp,
)
from gdexgrasp_ros.objects.part_object import UNLABELLED, sample_mesh

EXTENTS = (0.2, 0.1, 0.06)


def _box(extents=EXTENTS, center=(0.0, 0.0, 0.0)):
    """8 vertices, 12 outward (counter-clockwise from outside) triangles."""
    box = trimesh.creation.box(extents=extents)
    return np.asarray(box.vertices) + np.asarray(center), np.asarray(box.faces)


def _obj_text(vertices, faces, start=1):
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    lines += ["f " + " ".join(str(i + start) for i in f) for f in faces]
    return "\n".join(lines) + "\n"


def _write_obj(path, vertices, faces):
    path.write_text(_obj_text(vertices, faces))
    return path


def _write_off(path, vertices, polygons):
    lines = ["OFF", "# written by the test", f"{len(vertices)} {len(polygons)} 0"]
    lines += [f"{x} {y} {z}" for x, y, z in vertices]
    lines += [f"{len(p)} " + " ".join(map(str, p)) for p in polygons]
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_ply(path, vertices, faces, vertex_labels=None, face_labels=None):
    head = ["ply", "format ascii 1.0", f"element vertex {len(vertices)}"]
    head += [f"property float {c}" for c in "xyz"] + (["property int label"] if vertex_labels is not None else [])
    head += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    head += (["property int label"] if face_labels is not None else []) + ["end_header"]
    rows = [" ".join(map(str, v)) + ("" if vertex_labels is None else f" {vertex_labels[i]}") for i, v in
            enumerate(vertices)]  # fmt: skip
    rows += [f"3 {a} {b} {c}" + ("" if face_labels is None else f" {face_labels[i]}") for i, (a, b, c) in
             enumerate(faces)]  # fmt: skip
    path.write_text("\n".join(head + rows) + "\n")
    return path


def _write_box(tmp_path, fmt):
    vertices, faces = _box()
    path = tmp_path / f"box.{fmt}"
    if fmt == "obj":
        return _write_obj(path, vertices, faces)
    if fmt == "off":
        return _write_off(path, vertices, faces)
    if fmt == "ply":
        return _write_ply(path, vertices, faces)
    trimesh.Trimesh(vertices, faces, process=False).export(path)
    return path


def _assert_outward_unit(points, normals, center=(0.0, 0.0, 0.0)):
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-9)
    assert np.all(np.sum(normals * (points - np.asarray(center)), axis=1) > 0)


# ----------------------------------------------------------------------------- load_mesh


@pytest.mark.parametrize("fmt", ["obj", "ply", "off", "stl"])
def test_each_format_loads_the_box_with_outward_normals(tmp_path, fmt):
    mesh, names = load_mesh(_write_box(tmp_path, fmt))
    assert names == [] and len(mesh.faces) == 12
    assert np.all(mesh.face_parts == UNLABELLED)
    np.testing.assert_allclose(mesh.vertices.max(0) - mesh.vertices.min(0), EXTENTS, atol=1e-6)
    points, normals, _ = sample_mesh(mesh, 500, seed=1)
    assert points.shape == (500, 3)
    _assert_outward_unit(points, normals)


def test_obj_keeps_vertex_and_face_order_across_groups_and_polygon_forms(tmp_path):
    # Two `o` groups, materials, v/vt/vn face forms and a quad: trimesh itself would regroup these.
    text = (
        "mtllib none.mtl\no first\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\nusemtl a\n"
        "f 1/1/1 2/1/1 3/1/1\no second\nv 0 0 1\nv 1 0 1\nusemtl b\nf 5//1 6//1 3//1 4//1\nf -1 -2 1\n"
    )
    path = tmp_path / "groups.obj"
    path.write_text(text)
    mesh, _ = load_mesh(path, labels=[0, 1, 2], part_names=["a", "b", "c"])
    np.testing.assert_array_equal(mesh.vertices[4:], [[0, 0, 1], [1, 0, 1]])
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [4, 5, 2], [4, 2, 3], [5, 4, 0]])
    np.testing.assert_array_equal(mesh.face_parts, [0, 1, 1, 2])  # the quad's two triangles share its label


def test_label_file_names_parts_with_one_based_face_ids(tmp_path):
    obj = _write_box(tmp_path, "obj")
    labels = tmp_path / "box.labels"
    labels.write_text("lid\n1 2\nbody\n3 4 5 6\n7 8 9 10\n12\n")
    with pytest.raises(ValueError, match="expected a part name"):  # the id line "7 8 9 10" is out of step
        load_mesh(obj, labels)
    labels.write_text("lid\n1 2\nbody\n3 4 5 6 7 8 9 10\nlid\n12\n\n")
    mesh, names = load_mesh(obj, labels)
    assert names == ["lid", "body"]
    np.testing.assert_array_equal(mesh.face_parts[[0, 1, 11]], [0, 0, 0])  # faces 1, 2 and 12
    assert np.all(mesh.face_parts[2:10] == 1)
    assert mesh.face_parts[10] == UNLABELLED  # face 11 is in no part
    mesh, names = load_mesh(obj, labels, part_names=["body", "handle", "lid"])
    assert names == ["body", "handle", "lid"] and mesh.face_parts[0] == 2 and mesh.face_parts[2] == 0


@pytest.mark.parametrize(
    "text, message",
    [
        ("lid\n1 13\n", "face id 13 out of range 1..12"),
        ("lid\n0 1\n", "face id 0 out of range"),
        ("lid\n1 2\nbody\n", "has no face-id line"),
        ("lid\n1 x\n", "must be integers"),
        ("lid\n1 2\nbody\n2 3\n", "face 2 is already in part 'lid'"),
    ],
)
def test_bad_label_files_raise_naming_the_file(tmp_path, text, message):
    labels = tmp_path / "bad.labels"
    labels.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        load_mesh(_write_box(tmp_path, "obj"), labels)
    assert "bad.labels" in str(err.value)


def test_face_ids_count_polygons_as_written(tmp_path):
    # A square pyramid: the base is one quad (file face 1) followed by four triangles.
    vertices = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0.5, 0.5, 1)]
    polygons = [(3, 2, 1, 0), (0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4)]
    path = _write_off(tmp_path / "pyramid.off", vertices, polygons)
    labels = tmp_path / "pyramid.labels"
    labels.write_text("base\n1\nside\n2 3 4 5\n")
    mesh, names = load_mesh(path, labels)
    assert len(mesh.faces) == 6 and names == ["base", "side"]
    np.testing.assert_array_equal(mesh.face_parts, [0, 0, 1, 1, 1, 1])
    _assert_outward_unit(*sample_mesh(mesh, 300)[:2], center=(0.5, 0.5, 0.3))
    mesh, _ = load_mesh(path, labels=[4, 3, 3, 3, 3], part_names=list("abcde"), per="face")
    np.testing.assert_array_equal(mesh.face_parts, [4, 4, 3, 3, 3, 3])


def test_vertex_labels_become_face_labels_by_majority_vote(tmp_path):
    vertices, faces = _box()
    path = _write_obj(tmp_path / "box.obj", vertices, faces)
    vertex_labels = (vertices[:, 2] > 0).astype(int)  # top four vertices are part 1
    mesh, names = load_mesh(path, labels=vertex_labels, part_names=["bottom", "top"])
    assert names == ["bottom", "top"]
    expected = (vertex_labels[faces].sum(1) >= 2).astype(int)
    np.testing.assert_array_equal(mesh.face_parts, expected)
    assert 0 < expected.sum() < 12  # the side faces split both ways, so the vote is really exercised
    top = np.flatnonzero(np.all(vertices[faces][:, :, 2] > 0, axis=1))
    assert np.all(mesh.face_parts[top] == 1) and len(top) == 2
    mesh, names = load_mesh(path, labels=np.arange(12) % 3)  # per face, default names
    assert names == ["part_0", "part_1", "part_2"]
    np.testing.assert_array_equal(mesh.face_parts, np.arange(12) % 3)


def test_tetrahedron_labels_are_ambiguous_unless_per_is_given(tmp_path):
    vertices = np.array([(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)], float)
    faces = [(0, 2, 1), (0, 1, 3), (0, 3, 2), (1, 2, 3)]
    path = _write_obj(tmp_path / "tet.obj", vertices, faces)
    with pytest.raises(ValueError, match="per='face' or per='vertex'"):
        load_mesh(path, labels=[0, 0, 1, 1])
    by_vertex, _ = load_mesh(path, labels=[0, 0, 1, 1], per="vertex")
    by_face, _ = load_mesh(path, labels=[0, 0, 1, 1], per="face")
    np.testing.assert_array_equal(by_face.face_parts, [0, 0, 1, 1])
    np.testing.assert_array_equal(by_vertex.face_parts, [0, 0, 1, 1])  # (0,2,1)->0 (0,1,3)->0 (0,3,2)->1 (1,2,3)->1
    by_vertex, _ = load_mesh(path, labels=[1, 0, 0, 1], per="vertex")
    np.testing.assert_array_equal(by_vertex.face_parts, [0, 1, 1, 0])


def test_label_array_errors(tmp_path):
    path = _write_box(tmp_path, "obj")
    with pytest.raises(ValueError, match="match neither the 12 faces nor the 8 vertices"):
        load_mesh(path, labels=[0] * 5)
    with pytest.raises(ValueError, match="part id 2 but only 2 part names"):
        load_mesh(path, labels=np.arange(12) % 3, part_names=["a", "b"])
    with pytest.raises(ValueError, match="negative"):
        load_mesh(path, labels=[-2] * 12)
    with pytest.raises(ValueError, match="integers"):
        load_mesh(path, labels=[0.5] * 12)


def test_ply_label_property_is_honoured(tmp_path):
    vertices, faces = _box()
    face_labels = np.arange(12) % 2
    mesh, names = load_mesh(_write_ply(tmp_path / "f.ply", vertices, faces, face_labels=face_labels))
    assert names == ["part_0", "part_1"]
    np.testing.assert_array_equal(mesh.face_parts, face_labels)
    vertex_labels = (vertices[:, 0] > 0).astype(int)
    mesh, _ = load_mesh(_write_ply(tmp_path / "v.ply", vertices, faces, vertex_labels=vertex_labels))
    np.testing.assert_array_equal(mesh.face_parts, (vertex_labels[faces].sum(1) >= 2).astype(int))


def test_mesh_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.obj"):
        load_mesh(tmp_path / "nothere.obj")
    with pytest.raises(FileNotFoundError, match="nothere.labels"):
        load_mesh(_write_box(tmp_path, "obj"), tmp_path / "nothere.labels")
    (tmp_path / "box.glb").write_text("x")
    with pytest.raises(ValueError, match="unsupported mesh format '.glb'"):
        load_mesh(tmp_path / "box.glb")
    (tmp_path / "bad.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n")
    with pytest.raises(ValueError, match=r"bad.obj: line 4: face vertex 4 out of range"):
        load_mesh(tmp_path / "bad.obj")
    (tmp_path / "empty.obj").write_text("v 0 0 0\n")
    with pytest.raises(ValueError, match="no faces"):
        load_mesh(tmp_path / "empty.obj")
    (tmp_path / "bad.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n")
    with pytest.raises(ValueError, match="bad.off"):
        load_mesh(tmp_path / "bad.off")


# ----------------------------------------------------------------------------- load_labelled_points


def test_labelled_points_with_normals(tmp_path):
    path = tmp_path / "pts.txt"
    path.write_text("# x y z nx ny nz label\n0 0 0 0 0 2 7\n1 0 0 3 0 0 3  # a comment\n0 1 0 0 -1 0 7\n")
    obj = load_labelled_points(path)
    assert obj.part_names == ["3", "7"]  # sorted label values
    np.testing.assert_array_equal(obj.part_ids, [1, 0, 1])
    np.testing.assert_allclose(obj.normals, [[0, 0, 1], [1, 0, 0], [0, -1, 0]])
    assert obj.provenance == str(path)
    obj = load_labelled_points(path, part_names={7: "handle", 3: "body"})
    assert obj.part_names == ["body", "handle"] and obj.part_mask("handle").sum() == 2
    assert load_labelled_points(path, part_names=["body", "handle"]).part_names == ["body", "handle"]
    with pytest.raises(ValueError, match="1 part names for 2 distinct labels"):
        load_labelled_points(path, part_names=["body"])
    with pytest.raises(ValueError, match=r"labels \[7\] have no entry"):
        load_labelled_points(path, part_names={3: "body"})


def test_labelled_points_without_normals_and_errors(tmp_path):
    path = tmp_path / "pts.txt"
    path.write_text("0 0 0 2\n1 0 0 -1\n0 1 0 2\n")
    obj = load_labelled_points(path)
    assert obj.normals is None and obj.part_names == ["2"]
    np.testing.assert_array_equal(obj.part_ids, [0, UNLABELLED, 0])
    path.write_text("0 0 0 1 2\n")
    with pytest.raises(ValueError, match="5 columns"):
        load_labelled_points(path)
    path.write_text("0 0 0 1.5\n")
    with pytest.raises(ValueError, match="integers"):
        load_labelled_points(path)
    path.write_text("0 0 0 0 0 0 1\n")
    with pytest.raises(ValueError, match="zero normal"):
        load_labelled_points(path)
    path.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no points"):
        load_labelled_points(path)
    with pytest.raises(FileNotFoundError, match="gone.txt"):
        load_labelled_points(tmp_path / "gone.txt")


# ----------------------------------------------------------------------------- PartNet-Mobility


def _partnet_folder(tmp_path, double_sided=False, missing=("missing",)):
    """body (a cube at the origin) + lid (a flat box above it, plus a second 'lid' leaf whose obj is missing)."""
    folder = tmp_path / "mug"
    (folder / "textured_objs").mkdir(parents=True)
    tree = [
        {
            "text": "Mug",
            "name": "mug",
            "id": 0,
            "children": [
                {"name": "body", "id": 1, "objs": ["body-0"]},
                {
                    "name": "lid_group",
                    "id": 2,
                    "children": [
                        {"name": "lid", "id": 3, "objs": ["lid-0"]},
                        {"name": "lid", "id": 4, "objs": list(missing)},
                    ],
                },
            ],
        }
    ]
    (folder / "result.json").write_text(json.dumps(tree))
    (folder / "meta.json").write_text(json.dumps({"model_cat": "Mug", "model_id": "x"}))
    v, f = _box((0.1, 0.1, 0.1))
    if double_sided:
        f = np.concatenate([f, f[:, ::-1]])
    text = "mtllib body-0.mtl\no piece\nusemtl m\n" + _obj_text(v, f)
    (folder / "textured_objs" / "body-0.obj").write_text(text)
    _write_obj(folder / "textured_objs" / "lid-0.obj", *_box((0.1, 0.1, 0.02), (0, 0, 0.06)))
    return folder


def test_partnet_mobility_parts_from_leaves(tmp_path):
    folder = _partnet_folder(tmp_path)
    with pytest.warns(UserWarning, match=r"missing.obj: listed for part 'lid'"):
        obj = load_partnet_mobility(folder, n=3000, seed=2)
    assert obj.part_names == ["body", "lid"]  # the two 'lid' leaves are one part
    assert len(obj) == 3000 and obj.category == "mug" and obj.provenance == str(folder)
    assert obj.extras["missing_objs"] == ["missing"] and obj.extras["double_sided"] is False
    np.testing.assert_array_equal(np.bincount(obj.mesh.face_parts), [12, 12])
    lid_area = 2 * (0.1 * 0.1 + 2 * 0.1 * 0.02)
    share = obj.part_mask("lid").mean()
    assert abs(share - lid_area / (lid_area + 0.06)) < 0.04
    body, lid = obj.part_mask("body"), obj.part_mask("lid")
    _assert_outward_unit(obj.points[body], obj.normals[body])
    _assert_outward_unit(obj.points[lid], obj.normals[lid], center=(0, 0, 0.06))
    assert np.all(obj.points[lid][:, 2] >= 0.05 - 1e-9)


def test_partnet_mobility_rescale_and_double_sided(tmp_path):
    folder = _partnet_folder(tmp_path, double_sided=True, missing=())
    obj = load_partnet_mobility(folder, n=500, target_extent=0.3)
    assert np.ptp(obj.points, axis=0).max() == pytest.approx(0.3)
    assert np.ptp(obj.mesh.vertices, axis=0).max() == pytest.approx(0.3, rel=0.02)
    assert len(obj.mesh.faces) == 24  # the reversed copies of the body's 12 triangles are dropped
    assert obj.normals is None and obj.extras["double_sided"] is True


def test_partnet_mobility_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_partnet_mobility(tmp_path / "nowhere")
    folder = _partnet_folder(tmp_path)
    for obj_file in (folder / "textured_objs").iterdir():
        obj_file.unlink()
    with pytest.warns(UserWarning), pytest.raises(FileNotFoundError, match="none of the meshes"):
        load_partnet_mobility(folder)
    (folder / "result.json").unlink()
    with pytest.raises(FileNotFoundError, match="result.json"):
        load_partnet_mobility(folder)


def test_partnet_point_sample_maps_leaf_ids_to_names(tmp_path):
    folder = _partnet_folder(tmp_path)
    (folder / "point_sample").mkdir()
    pts = np.arange(30, dtype=float).reshape(10, 3) / 100
    np.savetxt(folder / "point_sample" / "pts-10.txt", pts, fmt="%.6f")
    ids = [1, 1, 3, 4, 1, 3, 1, 1, 4, 1]
    (folder / "point_sample" / "label-10.txt").write_text("\n".join(map(str, ids)) + "\n")
    obj = load_partnet_point_sample(folder)
    assert obj.part_names == ["body", "lid"] and obj.normals is None and obj.category == "mug"
    np.testing.assert_array_equal(obj.part_ids, [0, 0, 1, 1, 0, 1, 0, 0, 1, 0])
    np.testing.assert_allclose(obj.points, pts)
    sub = load_partnet_point_sample(folder, n=4, seed=1)
    assert len(sub) == 4 and set(map(tuple, sub.points)) <= set(map(tuple, pts))
    (folder / "point_sample" / "label-10.txt").write_text("\n".join(map(str, ids[:-1] + [2])) + "\n")
    assert load_partnet_point_sample(folder).part_names == ["body", "lid", "lid_group"]  # an inner node's id
    (folder / "point_sample" / "label-10.txt").write_text("\n".join(map(str, ids[:-1] + [9])) + "\n")
    with pytest.raises(ValueError, match=r"ids \[9\] are not part ids in result.json"):
        load_partnet_point_sample(folder)
    (folder / "point_sample" / "label-10.txt").write_text("1\n1\n")
    with pytest.raises(ValueError, match="for 2 labels"):
        load_partnet_point_sample(folder)
    (folder / "point_sample" / "label-10.txt").unlink()
    with pytest.raises(FileNotFoundError, match="label-N.txt"):
        load_partnet_point_sample(folder)


# ----------------------------------------------------------------------------- AffordPose


def _affordpose_dict():
    """A box whose top four vertices are labelled twist (6) and bottom four wrap-grasp (5)."""
    v, f = _box((0.06, 0.06, 0.2))
    labels = np.where(v[:, 2] > 0, 6, 5)
    lines = [f"v {x} {y} {z} {lab}\n" for (x, y, z), lab in zip(v, labels, strict=True)]
    lines += [f"f {a + 1}/{a + 1}/{a + 1} {b + 1} {c + 1}\n" for a, b, c in f]
    return (
        {
            "object_mesh": lines,
            "rhand_mesh": ["v 0 0 0\n"],
            "dofs": [0.1] * 16,
            "rhand_trans": [10.0, -20.0, 30.0],
            "rhand_quat": [2.0, 0.0, 0.0, 0.0],
            "trans_obj": [0, 0, 0],
            "quat_obj": [1, 0, 0, 0],
            "afford_name": "Twist",
            "class_name": "Bottle",
        },
        v,
        f,
        labels,
    )


def test_affordpose_object_parts_from_vertex_labels(tmp_path):
    data, v, f, labels = _affordpose_dict()
    path = tmp_path / "1.json"
    path.write_text(json.dumps(data))
    obj = load_affordpose_object(path, n=1000, seed=3)
    assert obj.part_names == ["wrap-grasp", "twist"] and obj.category == "bottle"
    assert len(obj) == 1000 and obj.provenance == str(path)
    assert obj.extras == {"affordpose_label_ids": [5, 6], "afford_name": "Twist"}
    votes = (labels[f] == 6).sum(1) >= 2
    np.testing.assert_array_equal(obj.mesh.face_parts, votes.astype(int))
    np.testing.assert_array_equal(obj.mesh.faces, f)
    _assert_outward_unit(obj.points, obj.normals)
    assert obj.points[obj.part_mask("twist"), 2].mean() > 0 > obj.points[obj.part_mask("wrap-grasp"), 2].mean()
    same = load_affordpose_object(data, n=1000, seed=3)
    np.testing.assert_array_equal(same.points, obj.points)
    assert AFFORDPOSE_LABELS[0] == "none" and 2 not in AFFORDPOSE_LABELS


def test_affordpose_grasp_in_metres(tmp_path):
    data, *_ = _affordpose_dict()
    path = tmp_path / "1.json"
    path.write_text(json.dumps(data))
    grasp = read_affordpose_grasp(path)
    np.testing.assert_allclose(grasp["trans_m"], [0.01, -0.02, 0.03])
    np.testing.assert_allclose(grasp["quat_wxyz"], [1, 0, 0, 0])
    assert grasp["dofs"].shape == (16,) and grasp["afford_name"] == "Twist" and grasp["class_name"] == "Bottle"
    assert "rhand_mesh" not in grasp


def test_affordpose_errors(tmp_path):
    data, *_ = _affordpose_dict()
    with pytest.raises(ValueError, match="need 16 dofs"):
        read_affordpose_grasp({**data, "dofs": [0.0] * 15})
    relabel = [ln.replace(" 5\n", " 2\n") if ln.startswith("v") else ln for ln in data["object_mesh"]]
    with pytest.raises(ValueError, match=r"unknown AffordPose labels \[2\]"):
        load_affordpose_object({**data, "object_mesh": relabel})
    unlabelled = [ln.replace(" 5\n", "\n") if ln.startswith("v") else ln for ln in data["object_mesh"]]
    with pytest.raises(ValueError, match="v x y z LABEL"):
        load_affordpose_object({**data, "object_mesh": unlabelled})
    with pytest.raises(ValueError, match="face vertex 9 out of range"):
        load_affordpose_object({**data, "object_mesh": data["object_mesh"] + ["f 1 2 9\n"]})
    with pytest.raises(ValueError, match="missing AffordPose fields"):
        load_affordpose_object({"class_name": "bottle"})
    with pytest.raises(ValueError, match="identity"):
        read_affordpose_grasp({**data, "trans_obj": [0, 0, 1]})
    with pytest.raises(FileNotFoundError, match="gone.json"):
        read_affordpose_grasp(tmp_path / "gone.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: invalid JSON"):
        load_affordpose_object(tmp_path / "bad.json")


# ----------------------------------------------------------------------------- real shapes (../shared/data)

DATA = SHARED / "data"


@pytest.mark.skipif(not (DATA / "partnet_mobility").is_dir(), reason="needs ../shared/data (not in a user's clone)")
class TestRealShapes:
    @pytest.mark.parametrize("name", ["cup", "kettle"])
    def test_handle_is_a_real_minority_part(self, name):
        obj = load_partnet_mobility(DATA / "partnet_mobility" / name, n=4096, target_extent=0.15)
        share = obj.part_mask("handle").mean()
        assert 0.03 < share < 0.40, f"{name}: handle share {share:.3f}"
        assert np.ptp(obj.points, axis=0).max() == pytest.approx(0.15)
        assert len(obj) == 4096 and obj.extras["missing_objs"] == []

    def test_cup_point_sample_labels_name_result_json_parts(self):
        folder = DATA / "partnet_mobility" / "cup"
        tree = json.loads((folder / "result.json").read_text())
        leaf_names = {c["name"] for c in tree[0]["children"]}
        obj = load_partnet_point_sample(folder)
        assert len(obj) == 10000 and set(obj.part_names) <= leaf_names
        assert {obj.part_names[i] for i in np.unique(obj.part_ids)} == {"body", "handle", "lid"}
        assert 0.03 < obj.part_mask("handle").mean() < 0.40

    def test_bottle_cap_missing_piece_is_skipped_with_a_warning(self):
        with pytest.warns(UserWarning, match="original-6"):
            obj = load_partnet_mobility(DATA / "partnet_mobility" / "bottle_cap", n=1024)
        assert obj.extras["missing_objs"] == ["original-6"] and set(obj.part_names) == {"body", "neck", "lid"}

    @pytest.mark.skipif(not (DATA / "affordpose_sample").is_dir(), reason="needs ../shared/data/affordpose_sample")
    def test_affordpose_sample(self):
        path = DATA / "affordpose_sample" / "data.json"
        obj = load_affordpose_object(path, n=4096)
        assert obj.category == "bottle" and {"wrap-grasp", "twist"} <= set(obj.part_names)
        assert 0 < obj.part_mask("twist").mean() < 0.5 * obj.part_mask("wrap-grasp").mean()
        assert np.ptp(obj.points, axis=0).max() < 0.5  # metres: a bottle, not millimetres
        grasp = read_affordpose_grasp(path)
        assert len(grasp["dofs"]) == 16 and np.linalg.norm(grasp["trans_m"]) < 0.5
