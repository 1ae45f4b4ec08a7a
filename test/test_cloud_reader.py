"""The PointCloud2 reader (cloud_to_arrays) and the unit check of preprocessing.

Every refusal is a CloudFormatError naming the field or the sizes at fault (the action server
answers INVALID_GOAL "unreadable cloud: <message>"); round trips over float types, byte orders,
organised / unorganised clouds, padding and labels; hypothesis properties: any valid layout
reads back exactly what was written, and corrupting one raises CloudFormatError and nothing
else. Then the millimetre detection: a 15 mm part given in millimetres is not read as 15 m.
"""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from gdexgrasp_ros.nodes.cloud_conversions import CloudFormatError, arrays_to_cloud, cloud_to_arrays
from gdexgrasp_ros.objects.preprocess import (
    CloudPreprocessError,
    CloudUnitsError,
    PreprocessConfig,
    preprocess_cloud,
)

F = PointField
NP_TYPES = {F.INT8: np.int8, F.UINT8: np.uint8, F.INT16: np.int16, F.UINT16: np.uint16, F.INT32: np.int32,
            F.UINT32: np.uint32, F.FLOAT32: np.float32, F.FLOAT64: np.float64}  # fmt: skip
INT_TYPES = (F.INT8, F.UINT8, F.INT16, F.UINT16, F.INT32, F.UINT32)
FLOAT_TYPES = (F.FLOAT32, F.FLOAT64)
# Deterministic (CI must not flake) and bounded: the whole module runs in seconds.
PROPERTY = settings(max_examples=100, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def pack(fields, values, height, width, point_step, row_step=None, big_endian=False, fill=0xA5):
    """A PointCloud2 with fields [(name, offset, datatype)] holding values {name: (H, W) array}.

    Padding bytes hold `fill`, so reading one by mistake shows.
    """
    row_step = width * point_step if row_step is None else row_step
    out = np.full((height, row_step), fill, dtype=np.uint8)
    points = out[:, : width * point_step].reshape(height, width, point_step)
    order = ">" if big_endian else "<"
    for name, offset, datatype in fields:
        if name not in values:
            continue
        kind = np.dtype(NP_TYPES[datatype]).newbyteorder(order)
        raw = np.asarray(values[name]).astype(kind).reshape(height, width, 1).view(np.uint8)
        points[:, :, offset : offset + kind.itemsize] = raw.reshape(height, width, kind.itemsize)
    msg = PointCloud2(height=height, width=width, point_step=point_step, row_step=row_step, is_bigendian=big_endian)
    msg.fields = [PointField(name=n, offset=o, datatype=d, count=1) for n, o, d in fields]
    msg.data = out.tobytes()
    return msg


def xyz_cloud(n=50, dtype=F.FLOAT32, point_step=None, seed=0, label=None):
    """A plausible unorganised cloud (values like a camera's, in metres) and its points."""
    size = np.dtype(NP_TYPES[dtype]).itemsize
    fields = [("x", 0, dtype), ("y", size, dtype), ("z", 2 * size, dtype)]
    pts = np.random.default_rng(seed).uniform([-0.4, -0.3, 0.5], [0.4, 0.3, 1.5], size=(1, n, 3))
    values = {c: pts[..., i] for i, c in enumerate("xyz")}
    if label is not None:
        fields.append(("label", 3 * size, label))
        values["label"] = np.arange(n).reshape(1, n) % 7
    step = point_step or (3 * size + (4 if label is not None else 0))
    return pack(fields, values, 1, n, step), pts.reshape(n, 3)


def refused(msg, *words):
    with pytest.raises(CloudFormatError) as info:
        cloud_to_arrays(msg)
    for word in words:
        assert word in str(info.value), str(info.value)
    return str(info.value)


# --- refusals, one per rule ------------------------------------------------------------------------


def test_missing_field():
    msg, _ = xyz_cloud()
    msg.fields = msg.fields[:2]
    refused(msg, "lacks field", "'z'")


def test_field_declared_twice():
    msg, _ = xyz_cloud()
    msg.fields = [*msg.fields, PointField(name="x", offset=0, datatype=F.FLOAT32, count=1)]
    refused(msg, "field 'x' is declared 2 times")


def test_field_past_point_step():
    # The probe's case: a label field that does not fit was an INTERNAL_ERROR with a numpy message.
    msg, _ = xyz_cloud(point_step=16)
    msg.fields = [*msg.fields, PointField(name="label", offset=14, datatype=F.INT32, count=1)]
    refused(msg, "field 'label'", "ends at byte 18", "past point_step 16")


def test_unread_field_past_point_step():
    msg, _ = xyz_cloud(point_step=16)
    msg.fields = [*msg.fields, PointField(name="rgb", offset=16, datatype=F.UINT32, count=1)]
    refused(msg, "field 'rgb'", "past point_step 16")


def test_field_with_count_past_point_step():
    msg, _ = xyz_cloud(point_step=16)
    msg.fields = [*msg.fields, PointField(name="normal", offset=12, datatype=F.FLOAT32, count=3)]
    refused(msg, "field 'normal'", "x 3", "ends at byte 24")


def test_overlapping_fields():
    msg, _ = xyz_cloud()
    msg.fields[1].offset = 2
    refused(msg, "fields 'x' and 'y' overlap")


def test_label_overlapping_a_coordinate():
    msg, _ = xyz_cloud(label=F.INT32)
    msg.fields[3].offset = 8
    refused(msg, "fields 'z' and 'label' overlap")


def test_point_step_zero():
    msg, _ = xyz_cloud()
    msg.point_step = 0
    refused(msg, "point_step is 0")


def test_row_step_shorter_than_a_row():
    msg, _ = xyz_cloud(n=10)
    msg.row_step = 100
    refused(msg, "row_step 100 is less than width 10 x point_step 12 = 120")


def test_point_step_smaller_than_packed():
    # The probe's case: point_step 12 over 16-byte points was accepted and read scrambled geometry.
    msg, _ = xyz_cloud(n=10, point_step=16)
    msg.point_step = 12
    refused(msg, "row_step 160 leaves 40 bytes", "room for another point")


def test_point_step_larger_than_packed():
    msg, _ = xyz_cloud(n=10, point_step=16)
    msg.point_step = 20
    refused(msg, "row_step 160 is less than width 10 x point_step 20")


@pytest.mark.parametrize("delta", [-1, -12, 1, 12])
def test_data_length_must_match_exactly(delta):
    msg, _ = xyz_cloud(n=10)
    data = bytes(msg.data)
    msg.data = data[:delta] if delta < 0 else data + bytes(delta)
    refused(msg, f"data has {120 + delta} bytes", "row_step 120 x height 1 = 120")


def test_organised_data_length():
    msg = pack([("x", 0, F.FLOAT32), ("y", 4, F.FLOAT32), ("z", 8, F.FLOAT32)],
               {c: np.full((3, 4), 0.5) for c in "xyz"}, 3, 4, 12, row_step=50)  # fmt: skip
    msg.height = 4
    refused(msg, "data has 150 bytes", "row_step 50 x height 4 = 200")


@pytest.mark.parametrize("datatype,name", [(F.INT8, "int8"), (F.UINT16, "uint16"), (F.INT32, "int32")])
def test_integer_coordinates(datatype, name):
    # The probe's case: x declared int8 was later called "probably millimetres".
    msg, _ = xyz_cloud()
    msg.fields[0].datatype = datatype
    refused(msg, f"field 'x' is {name}; x, y, z must be FLOAT32 or FLOAT64")


@pytest.mark.parametrize("index,name,datatype", [(1, "y", 0), (1, "y", 9), (1, "y", 255), (3, "label", 11)])
def test_unknown_datatype(index, name, datatype):
    msg, _ = xyz_cloud(label=F.INT32)
    msg.fields[index].datatype = datatype
    refused(msg, f"field '{name}' has unknown datatype {datatype}")


@pytest.mark.parametrize("index,name,rule", [(2, "z", "x, y, z must be a single value"), (3, "label", "a label must")])
def test_count_above_one(index, name, rule):
    msg, _ = xyz_cloud(label=F.UINT16)
    msg.fields[index].count = 2
    refused(msg, f"field '{name}' has count 2", rule)


def test_big_endian_flag_on_little_endian_data():
    # The probe's case: is_bigendian on little-endian data was later called "probably millimetres".
    msg, _ = xyz_cloud(n=200)
    msg.is_bigendian = True
    refused(msg, "implausible coordinates", "is_bigendian (True)")


def test_little_endian_flag_on_big_endian_data():
    msg, pts = xyz_cloud(n=200)
    big = arrays_to_cloud(pts, big_endian=True)
    big.is_bigendian = False
    refused(big, "implausible coordinates", "check is_bigendian (False)")


def test_byte_swapped_round_numbers_are_implausible_too():
    # 0.5, 1.0, 1.25 swapped are ~1e-41: tiny, not huge.
    pts = np.tile([[0.5, 1.0, 1.25]], (20, 1))
    msg = arrays_to_cloud(pts)
    msg.is_bigendian = True
    refused(msg, "implausible coordinates", "below 1e-30 m")


def test_float64_data_declared_float32():
    msg, _ = xyz_cloud(n=200, dtype=F.FLOAT64)
    for f in msg.fields:
        f.datatype = F.FLOAT32
    refused(msg, "implausible coordinates", "x float32")


def test_fractional_float_labels():
    msg = pack([("x", 0, F.FLOAT32), ("y", 4, F.FLOAT32), ("z", 8, F.FLOAT32), ("label", 12, F.FLOAT32)],
               {"x": np.zeros((1, 3)), "y": np.zeros((1, 3)), "z": np.ones((1, 3)),
                "label": np.array([[1.0, 2.5, 3.0]])}, 1, 3, 16)  # fmt: skip
    refused(msg, "field 'label' is float32", "2.5", "labels must be integers")


# --- what is accepted ------------------------------------------------------------------------------


def test_whole_float_labels_count_zero_and_unknown_unread_field_are_read():
    msg = pack([("x", 0, F.FLOAT32), ("y", 4, F.FLOAT32), ("z", 8, F.FLOAT32), ("part", 12, F.FLOAT64),
                ("extra", 20, 77)],
               {"x": np.zeros((1, 3)), "y": np.zeros((1, 3)), "z": np.ones((1, 3)),
                "part": np.array([[1.0, -2.0, 3.0]])}, 1, 3, 24)  # fmt: skip
    msg.fields[0].count = 0  # left unset by some publishers: one value
    out = cloud_to_arrays(msg)
    assert out.labels.dtype == np.int64
    np.testing.assert_array_equal(out.labels, [1, -2, 3])


def test_non_finite_points_and_a_few_outliers_are_kept():
    msg, pts = xyz_cloud(n=200)
    pts[:10] = np.nan
    pts[10, 2] = np.inf
    pts[11, 0] = 5e4  # 1 absurd value in 570 finite ones: < 1 %, a sensor glitch, dropped later
    out = cloud_to_arrays(arrays_to_cloud(pts))
    np.testing.assert_array_equal(out.points, pts.astype(np.float32).astype(np.float64))


def test_empty_cloud_reads_as_empty():
    msg = arrays_to_cloud(np.zeros((0, 3)), labels=np.zeros(0))
    out = cloud_to_arrays(msg)
    assert out.points.shape == (0, 3) and out.labels.shape == (0,)


# --- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("shape", [(37, 3), (4, 6, 3)])
@pytest.mark.parametrize("with_labels", [False, True])
def test_arrays_to_cloud_round_trip(dtype, big_endian, shape, with_labels):
    rng = np.random.default_rng(3)
    pts = rng.uniform(-1.0, 1.0, size=shape)
    pts.reshape(-1, 3)[5] = np.nan
    labels = rng.integers(-3, 1000, size=shape[:-1]) if with_labels else None
    msg = arrays_to_cloud(pts, Header(frame_id="cam"), labels, dtype=dtype, big_endian=big_endian)
    out = cloud_to_arrays(msg)
    assert out.frame_id == "cam" and out.points.shape == shape
    np.testing.assert_array_equal(out.points, pts.astype(dtype).astype(np.float64))
    if with_labels:
        np.testing.assert_array_equal(out.labels, labels)
    else:
        assert out.labels is None


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("height", [1, 3])
def test_padded_point_and_row_steps_round_trip(big_endian, height):
    # float64 z, float32 x/y out of order, an unread field, gaps, 5 bytes of point and 7 of row padding.
    fields = [("label", 0, F.UINT16), ("y", 4, F.FLOAT32), ("rgb", 8, F.UINT32), ("x", 12, F.FLOAT32),
              ("z", 20, F.FLOAT64)]  # fmt: skip
    rng = np.random.default_rng(4)
    values = {c: rng.uniform(-2, 2, size=(height, 5)) for c in "xyz"}
    values["label"] = rng.integers(0, 65535, size=(height, 5))
    msg = pack(fields, values, height, 5, point_step=33, row_step=5 * 33 + 7, big_endian=big_endian)
    out = cloud_to_arrays(msg)
    expected = np.stack([values["x"].astype(np.float32), values["y"].astype(np.float32), values["z"]], axis=-1)
    np.testing.assert_array_equal(out.points, expected.reshape(-1, 3) if height == 1 else expected)
    np.testing.assert_array_equal(out.labels, values["label"].reshape(-1) if height == 1 else values["label"])


def test_arrays_to_cloud_writes_only_float_coordinates():
    with pytest.raises(ValueError, match="float32 or float64"):
        arrays_to_cloud(np.zeros((2, 3)), dtype=np.int16)


# --- properties ---------------------------------------------------------------------------------------


def _coordinate(width):
    """Plausible values (0 or 2**-20 <= |v| <= 100) and NaN, exactly representable at the field's width."""
    magnitude = st.floats(2.0**-20, 100.0, width=width)
    return st.one_of(st.just(0.0), magnitude, magnitude.map(lambda v: -v), st.just(float("nan")))


@st.composite
def layouts(draw):
    """A valid cloud: random field order, gaps, padding, byte order, float widths, label type."""
    height, width = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    kinds = {c: draw(st.sampled_from(FLOAT_TYPES)) for c in "xyz"}
    label = draw(st.one_of(st.none(), st.sampled_from(INT_TYPES)))
    if label is not None:
        kinds[draw(st.sampled_from(["label", "part", "part_id", "segment"]))] = label
    if draw(st.booleans()):
        kinds["intensity"] = F.FLOAT32  # not read
    fields, cursor = [], 0
    for name in draw(st.permutations(sorted(kinds))):
        offset = cursor + draw(st.integers(0, 3))
        fields.append((name, offset, kinds[name]))
        cursor = offset + np.dtype(NP_TYPES[kinds[name]]).itemsize
    point_step = cursor + draw(st.integers(0, 8))
    row_step = width * point_step + draw(st.integers(0, point_step - 1))
    n = height * width
    values = {}
    for name, _, datatype in fields:
        if name in ("x", "y", "z"):
            flat = draw(st.lists(_coordinate(32 if datatype == F.FLOAT32 else 64), min_size=n, max_size=n))
        else:
            info = np.iinfo(NP_TYPES[datatype]) if datatype in INT_TYPES else None
            lo, hi = (int(info.min), int(info.max)) if info else (-1000, 1000)
            flat = draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))
        values[name] = np.array(flat).reshape(height, width)
    big_endian = draw(st.booleans())
    return dict(fields=fields, values=values, height=height, width=width, point_step=point_step,
                row_step=row_step, big_endian=big_endian)  # fmt: skip


def _expected(layout):
    kinds = {name: NP_TYPES[datatype] for name, _, datatype in layout["fields"]}
    pts = np.stack([layout["values"][c].astype(kinds[c]).astype(np.float64) for c in "xyz"], axis=-1)
    label = next((n for n in ("label", "part", "part_id", "segment") if n in kinds), None)
    labels = layout["values"][label].astype(np.int64) if label else None
    if layout["height"] == 1:
        pts, labels = pts.reshape(-1, 3), None if labels is None else labels.reshape(-1)
    return pts, labels


@PROPERTY
@given(layouts())
def test_any_valid_layout_reads_back_exactly(layout):
    out = cloud_to_arrays(pack(**layout))
    pts, labels = _expected(layout)
    np.testing.assert_array_equal(out.points, pts)
    if labels is None:
        assert out.labels is None
    else:
        np.testing.assert_array_equal(out.labels, labels)


def _layout_possible(msg):
    """Whether the (corrupted) header still describes a layout the reader's rules allow."""
    step = msg.point_step
    if step < 1 or not msg.width * step <= msg.row_step < msg.width * step + step:
        return False
    ends = [f.offset + np.dtype(NP_TYPES[f.datatype]).itemsize for f in msg.fields]
    return max(ends) <= step and len(msg.data) == msg.row_step * msg.height


@PROPERTY
@given(layouts(), st.sampled_from(["truncate", "extend", "point_step", "field_past", "row_step"]), st.data())
def test_a_corrupted_layout_is_a_cloud_format_error(layout, corruption, data):
    msg = pack(**layout)
    if corruption == "truncate":
        msg.data = bytes(msg.data)[: -data.draw(st.integers(1, len(msg.data)))]
    elif corruption == "extend":
        msg.data = bytes(msg.data) + bytes(data.draw(st.integers(1, 64)))
    elif corruption == "point_step":  # the packed data no longer has this point_step
        msg.point_step = data.draw(st.integers(0, 2 * msg.point_step).filter(lambda s: s != msg.point_step))
    elif corruption == "field_past":
        field = data.draw(st.sampled_from(list(msg.fields)))
        size = np.dtype(NP_TYPES[field.datatype]).itemsize
        field.offset = msg.point_step - size + data.draw(st.integers(1, 16))
    else:
        msg.row_step = data.draw(st.integers(0, 2 * msg.row_step + 8).filter(lambda s: s != msg.row_step))
    if corruption == "point_step" and _layout_possible(msg):
        # A narrow row can hold a smaller point_step too: a valid layout, read as declared (the
        # module docstring says so); only CloudFormatError may come out of it, if anything.
        event("point_step: another valid layout")
        try:
            cloud_to_arrays(msg)
        except CloudFormatError:
            pass
        return
    event(corruption)
    with pytest.raises(CloudFormatError):
        cloud_to_arrays(msg)


@PROPERTY
@given(
    layouts(),
    st.fixed_dictionaries(
        {},
        optional={
            "width": st.integers(0, 40),
            "height": st.integers(0, 6),
            "point_step": st.integers(0, 80),
            "row_step": st.integers(0, 400),
            "is_bigendian": st.booleans(),
        },
    ),
    st.lists(st.tuples(st.integers(0, 80), st.integers(0, 12), st.integers(0, 4)), max_size=2),
    st.binary(max_size=64),
)
def test_arbitrary_headers_read_or_raise_cloud_format_error_only(layout, header, field_edits, noise):
    """Any mix of header values, field offsets/types/counts and byte noise: read, or refuse clearly."""
    msg = pack(**layout)
    for name, value in header.items():
        setattr(msg, name, value)
    for index, (offset, datatype, count) in enumerate(field_edits):
        field = msg.fields[index % len(msg.fields)]
        field.offset, field.datatype, field.count = offset, datatype, count
    data = bytearray(msg.data)
    for i, byte in enumerate(noise):
        if data:
            data[(i * 7919) % len(data)] = byte
    msg.data = bytes(data)
    try:
        out = cloud_to_arrays(msg)
    except CloudFormatError as err:
        event(f"refused: {str(err).split(':')[0].split(' (')[0][:40]}")
        return
    event("read")
    assert out.points.shape[-1] == 3 and out.points.dtype == np.float64


# --- unit check (preprocess) ----------------------------------------------------------------------


def _part(size_m: float, n: int, seed: int = 0) -> np.ndarray:
    """n points sampled on a sphere of diameter size_m sitting at 0.3 m (a small part, no table)."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=size_m / 2)
    pts, _ = trimesh.sample.sample_surface(mesh, n, seed=seed)
    return pts + [0.0, 0.0, 0.3]


@pytest.mark.parametrize("n", [300, 2048, 20000])
def test_a_15_mm_part_in_millimetres_is_detected(n):
    # The probe's case: values ~0..15 were read as a 15 m object and ended EMPTY_CLOUD.
    mm = _part(0.015, n) * 1000.0
    with pytest.raises(CloudUnitsError, match="probably in millimetres") as info:
        preprocess_cloud(mm, PreprocessConfig(min_cluster_size=20))
    assert "units apart" in str(info.value)


def test_a_15_mm_part_in_millimetres_converts():
    mm = _part(0.015, 2048) * 1000.0
    result = preprocess_cloud(mm, PreprocessConfig(millimetres="convert", min_cluster_size=20, num_points=256))
    assert result.scale == 0.001
    assert 0.012 < np.ptp(result.object_points, axis=0).max() < 0.018  # metres again


def test_a_15_mm_part_in_metres_stays_in_metres():
    result = preprocess_cloud(_part(0.015, 2048), PreprocessConfig(min_cluster_size=20, num_points=256))
    assert result.scale == 1.0


@pytest.mark.parametrize("n", [200, 2048])
def test_sparse_metre_objects_stay_in_metres(n):
    mesh = trimesh.creation.box((0.3, 0.2, 0.1))
    pts, _ = trimesh.sample.sample_surface(mesh, n, seed=1)
    config = PreprocessConfig(min_cluster_size=3)
    try:
        result = preprocess_cloud(pts + [0, 0, 0.8], config)
    except CloudUnitsError:
        pytest.fail("a 30 cm box in metres was taken for millimetres")
    except CloudPreprocessError:
        return  # too sparse to segment: an EMPTY_CLOUD, not a units question
    assert result.scale == 1.0


def test_ignore_skips_the_unit_check():
    mm = _part(0.015, 500) * 1000.0
    try:
        preprocess_cloud(mm, PreprocessConfig(millimetres="ignore", min_cluster_size=20))
    except CloudUnitsError:
        pytest.fail("millimetres='ignore' still checked units")
    except CloudPreprocessError:
        pass  # read as a 15 m object: the caller asked for that


@pytest.fixture(scope="module")
def camera_scene():
    from gdexgrasp_ros.objects.camera import mug_box_ball, table_top_scene

    return table_top_scene(*mug_box_ball(), seed=0)


def test_a_camera_scene_is_metres_despite_far_outliers(camera_scene):
    cloud = camera_scene.cloud.points.copy()
    finite = np.flatnonzero(np.isfinite(cloud.reshape(-1, 3)).all(1))
    rng = np.random.default_rng(0)
    far = rng.choice(finite, size=len(finite) // 50, replace=False)  # 2 % of the points 20-60 m away
    cloud.reshape(-1, 3)[far] = rng.uniform(20, 60, size=(len(far), 3))
    config = PreprocessConfig(target="nearest", target_point=tuple(camera_scene.target_center_camera))
    assert preprocess_cloud(cloud, config).scale == 1.0
    with pytest.raises(CloudUnitsError, match="millimetres"):
        preprocess_cloud(cloud * 1000.0, config)


def test_unit_thresholds_are_checked():
    with pytest.raises(ValueError, match="millimetre_spacing"):
        PreprocessConfig(millimetre_spacing=0.001, metre_spacing=0.002)
    with pytest.raises(ValueError, match="metre_spacing"):
        PreprocessConfig(metre_spacing=0.0)
