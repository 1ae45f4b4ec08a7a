"""Benchmark shape sets (gdexgrasp_ros/benchmark/shapes.py): discovery of a user's folder, the object
frame every shape is loaded into, the procedural and the real (../shared/data) sets.

The real-shape tests skip when ../shared/data is absent (a user's clone has no ../shared).
"""

import json
import warnings

import numpy as np
import pytest
from conftest import SHARED

from gdexgrasp_ros.benchmark.shapes import (
    DEFAULT_EXTENT,
    TYPICAL_EXTENT,
    UP_AXES,
    BenchShape,
    category_name,
    default_shapes,
    discover_shapes,
    load_shape,
    procedural_shapes,
    shared_shapes,
    typical_extent,
    up_rotation,
)
from gdexgrasp_ros.objects.procedural import ALL_CATEGORIES, UNSEEN_CATEGORIES, generate_mesh, generate_object

DATA = SHARED / "data"
PARTNET = DATA / "partnet_mobility"
UNITS = 10.0  # the files are written in arbitrary units: 10 per metre
OFFSET = np.array([3.0, -2.0, 5.0])  # ... and anywhere: the loader moves them to the object frame


def write_obj(path, vertices, faces):
    lines = [f"v {x:.9f} {y:.9f} {z:.9f}" for x, y, z in vertices] + [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")


def write_psb_labels(path, face_parts, names):
    """Alternating lines: part name, then its 1-based face ids."""
    rows = []
    for i, name in enumerate(names):
        rows += [name, " ".join(str(f + 1) for f in np.flatnonzero(face_parts == i))]
    path.write_text("\n".join(rows) + "\n")


def to_y_up(v):
    """Coordinates of the same object in a frame whose up axis is +y (the inverse of up_rotation('+y'))."""
    return v @ up_rotation("+y")


@pytest.fixture(scope="module")
def mug():
    return generate_mesh("mug", 0)


@pytest.fixture(scope="module")
def shape_dir(tmp_path_factory, mug):
    mesh, names = mug
    root = tmp_path_factory.mktemp("bench") / "myshapes"
    cat = root / "mug"
    cat.mkdir(parents=True)
    write_obj(cat / "mug10.obj", mesh.vertices * UNITS + OFFSET, mesh.faces)
    write_psb_labels(cat / "mug10.labels", mesh.face_parts, names)
    (cat / "mug10.mtl").write_text("newmtl default\n")  # an OBJ's companion: passed over silently
    write_obj(cat / "mug_yup.obj", to_y_up(mesh.vertices) * UNITS - OFFSET, mesh.faces)
    write_psb_labels(cat / "mug_yup.txt", mesh.face_parts, names)  # the .txt beside a mesh is its label file
    write_obj(cat / "plain.obj", mesh.vertices, mesh.faces)  # no labels
    write_obj(cat / "onepart.obj", mesh.vertices, mesh.faces)
    write_psb_labels(cat / "onepart.seg", np.zeros(len(mesh.faces), int), ["body"])
    (cat / "broken.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")  # announces a face it lacks
    (cat / "notes.md").write_text("not a shape\n")
    (cat / "orphan.labels").write_text("body\n1 2 3\n")
    # Labelled points (x y z nx ny nz label), in a category folder named with '_' and capitals.
    pts = generate_object("jug", 0, n_points=600)
    can = root / "Watering_Can"
    can.mkdir()
    np.savetxt(can / "can.xyz", np.column_stack([pts.points * UNITS + OFFSET, pts.normals, pts.part_ids]), fmt="%.6f")
    (root / "stray.obj").write_text("v 0 0 0\n")
    # PartNet-Mobility folders (Y-up, one mesh per part piece) directly in DIR.
    for folder, drop, sample in (("bucket_100454", None, False), ("cup_7", "handle", True), ("jar_9", "handle", False)):
        pm = root / folder
        (pm / "textured_objs").mkdir(parents=True)
        leaves = []
        for i, name in enumerate(names):
            keep = mesh.face_parts == i
            used = np.unique(mesh.faces[keep])
            remap = np.full(len(mesh.vertices), -1)
            remap[used] = np.arange(len(used))
            if name != drop:
                write_obj(pm / "textured_objs" / f"piece-{i}.obj", to_y_up(mesh.vertices[used]) * UNITS + OFFSET,
                          remap[mesh.faces[keep]])  # fmt: skip
            leaves.append({"id": i + 1, "name": name, "objs": [f"piece-{i}"]})
        (pm / "result.json").write_text(json.dumps([{"id": 0, "name": "root", "children": leaves}]))
        if sample:
            (pm / "point_sample").mkdir()
            obj = generate_object("mug", 0, n_points=500)
            np.savetxt(pm / "point_sample" / "pts-500.txt", to_y_up(obj.points) * UNITS + OFFSET)
            np.savetxt(pm / "point_sample" / "label-500.txt", obj.part_ids + 1, fmt="%d")
    return root


def bbox(points):
    return points.min(0), points.max(0)


def assert_object_frame(obj, extent=None):
    geometry = obj.mesh.vertices if obj.mesh is not None else obj.points
    lo, hi = bbox(geometry)
    assert lo[2] == pytest.approx(0.0, abs=1e-9)  # resting on z = 0
    assert (lo[:2] + hi[:2]) == pytest.approx([0.0, 0.0], abs=1e-9)  # centred in x, y
    assert obj.points[:, 2].min() >= -1e-9
    if extent is not None:
        assert (hi - lo).max() == pytest.approx(extent, rel=1e-9)


# ----------------------------------------------------------------------------- small pieces


def test_up_rotation_is_a_proper_rotation_taking_the_axis_to_plus_z():
    axes = {"+x": [1, 0, 0], "-x": [-1, 0, 0], "+y": [0, 1, 0], "-y": [0, -1, 0], "+z": [0, 0, 1], "-z": [0, 0, -1]}
    assert set(UP_AXES) == set(axes)
    for up, axis in axes.items():
        R = up_rotation(up)
        assert np.allclose(R @ R.T, np.eye(3)) and np.linalg.det(R) == pytest.approx(1.0)
        assert np.allclose(R @ axis, [0, 0, 1])
    assert np.array_equal(up_rotation("+z"), np.eye(3))
    for bad in ("z", "up", "+w", None):
        with pytest.raises(ValueError, match="unknown up axis"):
            up_rotation(bad)


def test_typical_extent_table():
    shared_categories = ["kettle", "cup", "mug", "bucket", "pot", "kitchenpot", "scissors", "bottle", "faucet", "box",
                         "pen"]  # fmt: skip
    household = ["vase", "pliers", "knife", "mug", "jug", "teapot", "spatula", "ladle", "hammer", "wrench", "spoon"]
    missing = [c for c in [*ALL_CATEGORIES, *shared_categories, *household] if c not in TYPICAL_EXTENT]
    assert not missing
    assert all(0.05 <= v <= 1.5 for v in TYPICAL_EXTENT.values())
    assert all(c == category_name(c) for c in TYPICAL_EXTENT)  # keys are written as categories are
    assert typical_extent("Watering_Can") == TYPICAL_EXTENT["watering can"] == typical_extent("watering-can")
    assert typical_extent("no such thing") == DEFAULT_EXTENT
    # The procedural generator draws realistic metric sizes: the table agrees with it within a factor 1.5.
    for category in ("mug", "frying pan", "broom", "hammer", "teapot"):
        size = np.ptp(generate_mesh(category, 0)[0].vertices, axis=0).max()
        assert 1 / 1.5 < size / typical_extent(category) < 1.5, category


def test_procedural_shapes_ids_and_seeds():
    shapes = procedural_shapes()
    assert len(shapes) == 5 * len(UNSEEN_CATEGORIES) and len({s.shape_id for s in shapes}) == len(shapes)
    assert BenchShape("procedural/teapot/3", "teapot", "procedural", "", 3) in shapes
    assert {s.category for s in shapes} == set(UNSEEN_CATEGORIES) and {s.source for s in shapes} == {"procedural"}
    two = procedural_shapes(2, ["watering_can", "mug"])
    assert [s.shape_id for s in two] == ["procedural/watering can/0", "procedural/watering can/1", "procedural/mug/0",
                                         "procedural/mug/1"]  # fmt: skip
    assert procedural_shapes(0) == []
    with pytest.raises(ValueError, match="unknown procedural categories"):
        procedural_shapes(1, ["spaceship"])
    with pytest.raises(ValueError, match="per_category"):
        procedural_shapes(-1)


def test_procedural_shape_is_metric_upright_and_closed():
    shape = procedural_shapes(1, ["hammer"])[0]
    loaded = load_shape(shape, n_points=300)
    mesh, names = generate_mesh("hammer", 0)
    assert loaded.scale == 1.0 and loaded.closed and loaded.obj.part_names == names and len(loaded.obj) == 300
    assert np.allclose(np.ptp(loaded.obj.mesh.vertices, 0), np.ptp(mesh.vertices, 0))  # metric: not rescaled
    assert_object_frame(loaded.obj)
    # Neither an extent nor an up axis turns a procedural shape: it is metric and z-up already.
    other = load_shape(shape, up="+x", extent=1.0, n_points=300)
    assert np.allclose(other.obj.mesh.vertices, loaded.obj.mesh.vertices) and other.scale == 1.0


# ----------------------------------------------------------------------------- a user's folder


def test_discover_shapes_kinds_ids_categories_and_order(shape_dir):
    shapes, _ = discover_shapes(shape_dir)
    by_id = {s.shape_id: s for s in shapes}
    assert list(by_id) == sorted(by_id) == [
        "myshapes/Watering_Can/can", "myshapes/bucket_100454", "myshapes/cup_7", "myshapes/mug/mug10",
        "myshapes/mug/mug_yup",
    ]  # fmt: skip
    assert {s.source for s in shapes} == {"dir"} and all(s.seed == 0 for s in shapes)
    assert by_id["myshapes/Watering_Can/can"].category == "watering can"
    assert by_id["myshapes/bucket_100454"].category == "bucket" and by_id["myshapes/cup_7"].category == "cup"
    assert by_id["myshapes/mug/mug10"].path == str(shape_dir / "mug" / "mug10.obj")
    assert discover_shapes(shape_dir) == discover_shapes(str(shape_dir))  # deterministic


def test_discover_shapes_reports_every_skip_with_a_reason(shape_dir):
    _, skipped = discover_shapes(shape_dir)
    why = {path.split("myshapes/")[1]: reason for path, reason in skipped}
    assert skipped == sorted(skipped)
    assert set(why) == {"mug/plain.obj", "mug/onepart.obj", "mug/broken.off", "mug/notes.md", "mug/orphan.labels",
                        "stray.obj", "jar_9"}  # fmt: skip
    assert "no part labels" in why["mug/plain.obj"]
    assert "single part ('body')" in why["mug/onepart.obj"]
    assert "malformed OFF" in why["mug/broken.off"]
    assert "not a shape file" in why["mug/notes.md"]
    assert "without a mesh" in why["mug/orphan.labels"]
    assert "directly in the folder" in why["stray.obj"]
    assert "missing" in why["jar_9"] and "point_sample" in why["jar_9"]
    with pytest.raises(FileNotFoundError, match="shape folder not found"):
        discover_shapes(shape_dir / "nope")


def test_mesh_file_rescaled_to_the_typical_size_with_its_labels(shape_dir, mug):
    mesh, names = mug
    shape = BenchShape("x/mug/mug10", "mug", "dir", str(shape_dir / "mug" / "mug10.obj"))
    loaded = load_shape(shape, n_points=1024, seed=3)
    obj = loaded.obj
    size = np.ptp(mesh.vertices, 0).max()
    assert loaded.scale == pytest.approx(typical_extent("mug") / (UNITS * size))
    assert_object_frame(obj, typical_extent("mug"))
    # Same faces, same part of every face (the handle faces are still the handle), same shape.
    assert obj.part_names == names == ["body", "handle"]
    assert np.array_equal(obj.mesh.faces, mesh.faces) and np.array_equal(obj.mesh.face_parts, mesh.face_parts)
    assert np.allclose(
        obj.mesh.vertices - obj.mesh.vertices[0], (mesh.vertices - mesh.vertices[0]) * UNITS * loaded.scale
    )
    handle = obj.mesh.vertices[np.unique(obj.mesh.faces[obj.mesh.face_parts == names.index("handle")])]
    assert handle[:, 0].max() == pytest.approx(obj.mesh.vertices[:, 0].max())  # the handle sticks out sideways
    assert len(obj) == 1024 and 0.05 < obj.part_mask("handle").mean() < 0.5 and obj.normals is not None
    assert loaded.closed and obj.category == "mug" and obj.extras["kind"] == "mesh"
    # An extent given overrides the table.
    bigger = load_shape(shape, extent=0.3, n_points=1024, seed=3)
    assert_object_frame(bigger.obj, 0.3)
    assert bigger.scale == pytest.approx(loaded.scale * 0.3 / typical_extent("mug"))
    assert np.array_equal(bigger.obj.part_ids, obj.part_ids)  # same sample for the same seed
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="extent must be a positive"):
            load_shape(shape, extent=bad)
    with pytest.raises(ValueError, match="unknown up axis"):
        load_shape(shape, up="up")
    with pytest.raises(FileNotFoundError):
        load_shape(BenchShape("x/mug/gone", "mug", "dir", str(shape_dir / "mug" / "gone.obj")))


def test_closed_mesh_wound_inside_out_is_turned_outward(tmp_path, mug):
    mesh, names = mug
    write_obj(tmp_path / "mug.off.obj", mesh.vertices, mesh.faces[:, ::-1])
    write_psb_labels(tmp_path / "mug.off.labels", mesh.face_parts, names)
    loaded = load_shape(BenchShape("t/mug/inside_out", "mug", "dir", str(tmp_path / "mug.off.obj")), n_points=512)
    assert loaded.closed and np.array_equal(loaded.obj.mesh.faces, mesh.faces)
    centre = loaded.obj.mesh.vertices.mean(0)
    body = loaded.obj.part_mask("body") & (loaded.obj.points[:, 2] > 0.02) & (loaded.obj.points[:, 2] < 0.06)
    outward = np.einsum("ij,ij->i", loaded.obj.normals[body][:, :2], (loaded.obj.points[body] - centre)[:, :2])
    assert (outward > 0).mean() > 0.6  # the body wall's sampled normals point away from the axis


def test_y_up_mesh_lands_upright(shape_dir):
    z_up = load_shape(BenchShape("a", "mug", "dir", str(shape_dir / "mug" / "mug10.obj")), n_points=256)
    y_up_path = str(shape_dir / "mug" / "mug_yup.obj")
    y_up = load_shape(BenchShape("b", "mug", "dir", y_up_path), up="+y", n_points=256)
    assert np.allclose(y_up.obj.mesh.vertices, z_up.obj.mesh.vertices, atol=1e-9)
    assert np.array_equal(y_up.obj.mesh.face_parts, z_up.obj.mesh.face_parts) and y_up.obj.extras["up"] == "+y"
    lying = load_shape(BenchShape("c", "mug", "dir", y_up_path), up="+z", n_points=256)  # told the wrong axis
    assert not np.allclose(np.ptp(lying.obj.mesh.vertices, 0), np.ptp(z_up.obj.mesh.vertices, 0), atol=1e-3)


def test_labelled_point_file(shape_dir):
    shape = BenchShape("myshapes/Watering_Can/can", "watering can", "dir", str(shape_dir / "Watering_Can" / "can.xyz"))
    loaded = load_shape(shape, n_points=400)
    obj = loaded.obj
    assert obj.mesh is None and not loaded.closed and obj.extras["kind"] == "points"
    assert len(obj) == 400 and obj.part_names == ["0", "1", "2"]  # label values (jug: body, handle, lid)
    assert_object_frame(obj, typical_extent("watering can"))
    assert np.allclose(np.linalg.norm(obj.normals, axis=1), 1.0)
    assert len(load_shape(shape, n_points=5000).obj) == 600  # fewer points in the file: all of them


def test_partnet_folder_is_y_up_and_falls_back_on_its_point_sample(shape_dir):
    z_up = load_shape(BenchShape("a", "bucket", "dir", str(shape_dir / "mug" / "mug10.obj")), n_points=256)
    whole = load_shape(BenchShape("b", "bucket", "dir", str(shape_dir / "bucket_100454")), up="+z", n_points=256)
    assert whole.scale == pytest.approx(z_up.scale)  # same category, same file units: same size
    assert whole.obj.extras["kind"] == "partnet_mesh" and whole.obj.extras["up"] == "+y"  # PartNet: +y whatever asked
    assert whole.obj.part_names == ["body", "handle"]
    assert np.allclose(np.ptp(whole.obj.mesh.vertices, 0), np.ptp(z_up.obj.mesh.vertices, 0))
    assert_object_frame(whole.obj, typical_extent("bucket"))
    cup = load_shape(BenchShape("c", "cup", "dir", str(shape_dir / "cup_7")), n_points=256)  # handle mesh missing
    assert cup.obj.extras["kind"] == "partnet_point_sample" and cup.obj.mesh is None and not cup.closed
    assert set(cup.obj.part_names) == {"body", "handle"} and len(cup.obj) == 256
    assert_object_frame(cup.obj, typical_extent("cup"))
    height = np.ptp(cup.obj.points, 0)[2]
    assert height == pytest.approx(
        np.ptp(z_up.obj.points, 0)[2] * typical_extent("cup") / typical_extent("bucket"), rel=0.05
    )


# ----------------------------------------------------------------------------- the real shapes (../shared/data)


def test_shared_shapes_absent_folder_is_empty(tmp_path):
    assert shared_shapes(tmp_path / "nothing") == []
    assert default_shapes(tmp_path, per_category=1) == procedural_shapes(1)


@pytest.mark.skipif(not PARTNET.is_dir(), reason="needs ../shared/data (not in a user's clone)")
def test_shared_shapes_load_every_object_upright_at_the_typical_size():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped, nothing loaded with a piece missing
        shapes = shared_shapes(DATA)
        assert [s.shape_id for s in shapes] == sorted(f"shared/{p.name}" for p in PARTNET.iterdir() if p.is_dir())
        assert default_shapes(DATA, per_category=1) == procedural_shapes(1) + shapes
        loaded = {s.shape_id.split("/")[1]: load_shape(s, up="-x", n_points=1024) for s in shapes}
    categories = {s.shape_id.split("/")[1]: s.category for s in shapes}
    assert categories["cup"] == "mug" and categories["bottle_cap"] == "bottle" and categories["pen_anno2939"] == "pen"
    assert loaded["bottle_cap"].obj.extras["kind"] == "partnet_point_sample"  # a body piece is missing
    assert loaded["cup"].obj.extras["kind"] == "partnet_mesh" and loaded["cup"].obj.mesh is not None

    def centroid_z(obj, part):
        return obj.points[obj.part_mask(part), 2].mean()

    for name, shape in loaded.items():
        obj = shape.obj
        assert obj.extras["up"] == "+y" and shape.scale > 0, name
        assert_object_frame(obj, typical_extent(categories[name]))
        if categories[name] in ("kettle", "bucket"):
            assert centroid_z(obj, "handle") > centroid_z(obj, "base_body"), name
        if categories[name] == "bottle":
            assert obj.part_names[obj.part_ids[obj.points[:, 2].argmax()]] == "lid", name  # the top-most part
            assert centroid_z(obj, "lid") > centroid_z(obj, "body"), name
        if "lid" in obj.part_names and "base_body" in obj.part_names:
            assert centroid_z(obj, "lid") > centroid_z(obj, "base_body"), name
