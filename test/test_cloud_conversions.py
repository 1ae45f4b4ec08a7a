import numpy as np
import pytest
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from gdexgrasp_ros.nodes.cloud_conversions import CloudFormatError, arrays_to_cloud, cloud_to_arrays


def test_round_trip_unorganised_with_labels():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(100, 3)).astype(np.float32)
    labels = rng.integers(0, 5, size=100)
    msg = arrays_to_cloud(pts, Header(frame_id="cam"), labels)
    assert msg.height == 1 and msg.width == 100 and msg.point_step == 16
    out = cloud_to_arrays(msg)
    assert out.frame_id == "cam"
    np.testing.assert_array_equal(out.points, pts.astype(np.float64))
    np.testing.assert_array_equal(out.labels, labels)


def test_organised_cloud_keeps_height_width_order():
    pts = np.arange(4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    pts[1, 2] = np.nan
    out = cloud_to_arrays(arrays_to_cloud(pts))
    assert out.points.shape == (4, 6, 3)
    assert np.isnan(out.points[1, 2]).all()
    np.testing.assert_array_equal(out.points[3, 5], pts[3, 5])
    assert out.labels is None


def _xyz_cloud(dtype_code, np_dtype, big_endian, pad=0, n=5):
    size = np.dtype(np_dtype).itemsize
    step = 3 * size + pad
    rec = np.zeros(
        n, dtype={"names": list("xyz"), "formats": [np_dtype] * 3, "offsets": [0, size, 2 * size], "itemsize": step}
    )
    vals = np.arange(3 * n).reshape(n, 3) * 0.5
    for i, c in enumerate("xyz"):
        rec[c] = vals[:, i]
    if big_endian:
        rec = rec.astype(rec.dtype.newbyteorder(">"))
    msg = PointCloud2(height=1, width=n, is_bigendian=big_endian, point_step=step, row_step=step * n)
    msg.fields = [PointField(name=c, offset=i * size, datatype=dtype_code, count=1) for i, c in enumerate("xyz")]
    msg.data = rec.tobytes()
    return msg, vals


@pytest.mark.parametrize("big_endian", [False, True])
def test_float64_padding_and_endianness(big_endian):
    msg, vals = _xyz_cloud(PointField.FLOAT64, np.float64, big_endian, pad=8)
    np.testing.assert_allclose(cloud_to_arrays(msg).points, vals)


def test_missing_z_field_is_a_clear_error():
    msg, _ = _xyz_cloud(PointField.FLOAT32, np.float32, False)
    msg.fields = msg.fields[:2]
    with pytest.raises(CloudFormatError, match="lacks field"):
        cloud_to_arrays(msg)


def test_truncated_data_is_a_clear_error():
    msg, _ = _xyz_cloud(PointField.FLOAT32, np.float32, False)
    msg.data = bytes(msg.data)[:-4]
    with pytest.raises(CloudFormatError, match="sizes disagree"):
        cloud_to_arrays(msg)


def test_normals_survive_conversion_validation_and_preprocessing():
    """A cloud's normal_x/y/z fields reach the object's normals as sent (normalised), instead of
    estimated ones: normals all along +x with length 2, which estimation would never give."""
    from gdexgrasp_ros.objects.camera import PinholeCamera, look_at, mug_box_ball, render_depth_cloud
    from gdexgrasp_ros.objects.preprocess import preprocess_cloud
    from gdexgrasp_ros.request import RawRequest, validate_request

    mug = mug_box_ball()[0].mesh
    camera = PinholeCamera(width=160, height=120, fx=200.0, fy=200.0, cx=79.5, cy=59.5)
    cloud = render_depth_cloud([(mug, 0)], camera, look_at((0.35, 0.0, 0.25), (0.0, 0.0, 0.05)))
    given = np.where(np.isfinite(cloud.points), np.array([2.0, 0.0, 0.0]), np.nan)  # (H, W, 3), NaN on misses
    msg = arrays_to_cloud(cloud.points, Header(frame_id="cam"), normals=given)
    assert [f.name for f in msg.fields] == ["x", "y", "z", "normal_x", "normal_y", "normal_z"]
    arrays = cloud_to_arrays(msg)
    assert arrays.normals.shape == arrays.points.shape and arrays.normals.ndim == 3
    np.testing.assert_array_equal(arrays.normals, given.astype(np.float32).astype(np.float64))
    request = validate_request(RawRequest(points=arrays.points, normals=arrays.normals, instruction="x"))
    out = preprocess_cloud(request.points, normals=request.normals, organised=True)
    assert out.normals_given and np.allclose(out.normals, [1.0, 0.0, 0.0])
    assert np.allclose(out.object_normals, [1.0, 0.0, 0.0])
    assert not preprocess_cloud(request.points, organised=True).normals_given


def test_normal_fields_come_as_three_floats():
    msg = arrays_to_cloud(np.zeros((4, 3)), normals=np.ones((4, 3)))
    msg.fields = [f for f in msg.fields if f.name != "normal_z"]
    with pytest.raises(CloudFormatError, match="normals need all three"):
        cloud_to_arrays(msg)
    msg = arrays_to_cloud(np.zeros((4, 3)), normals=np.ones((4, 3)))
    msg.fields[3].datatype = PointField.INT32
    with pytest.raises(CloudFormatError, match="normals must be FLOAT32 or FLOAT64"):
        cloud_to_arrays(msg)
    plain = cloud_to_arrays(arrays_to_cloud(np.zeros((4, 3)), labels=np.arange(4)))
    assert plain.normals is None and list(plain.labels) == [0, 1, 2, 3]
    both = cloud_to_arrays(arrays_to_cloud(np.zeros((4, 3)), labels=np.arange(4), normals=np.ones((4, 3)),
                                           dtype=np.float64, big_endian=True))  # fmt: skip
    assert np.all(both.normals == 1.0) and list(both.labels) == [0, 1, 2, 3]
