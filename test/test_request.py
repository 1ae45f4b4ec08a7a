import numpy as np
import pytest

from gdexgrasp_ros.errors import ErrorCode, GraspError
from gdexgrasp_ros.request import RawRequest, RequestDefaults, validate_request


def _pts(n=10):
    return np.random.default_rng(1).normal(size=(n, 3))


def _code(raw, defaults=None):
    with pytest.raises(GraspError) as info:
        validate_request(raw, defaults)
    return info.value.code


def test_defaults_applied_and_non_finite_points_dropped():
    pts = _pts()
    pts[3] = [np.nan, 0, 0]
    labels = np.arange(10)
    req = validate_request(
        RawRequest(points=pts, labels=labels, instruction="  open the bottle ", frame_id="cam"),
        RequestDefaults(max_grasps=4, timeout=30.0),
    )
    assert req.points.shape == (9, 3) and np.isfinite(req.points).all()
    assert 3 not in req.labels and req.labels.shape == (9,)
    assert req.instruction == "open the bottle" and req.max_grasps == 4 and req.timeout == 30.0
    assert req.hand_model == "open_hand" and req.robot_hand == "leap_hand"


def test_organised_cloud_shape_is_kept():
    req = validate_request(RawRequest(points=np.zeros((4, 5, 3)), instruction="x"))
    assert req.organized_shape == (4, 5) and req.points.shape == (20, 3)


@pytest.mark.parametrize(
    "raw, code",
    [
        (RawRequest(points=None, instruction="hold it"), ErrorCode.NO_CLOUD),
        (RawRequest(points=np.full((5, 3), np.nan), instruction="hold it"), ErrorCode.EMPTY_CLOUD),
        (RawRequest(points=np.zeros((0, 3)), instruction="hold it"), ErrorCode.EMPTY_CLOUD),
        (RawRequest(points=_pts(), instruction=None), ErrorCode.NO_INSTRUCTION),
        (RawRequest(points=_pts(), instruction="   "), ErrorCode.NO_INSTRUCTION),
        (RawRequest(points=_pts(), instruction="x", max_grasps=1000), ErrorCode.INVALID_GOAL),
        (RawRequest(points=_pts(), instruction="x", timeout=-1.0), ErrorCode.INVALID_GOAL),
        (RawRequest(points=_pts(), instruction="x", timeout=float("nan")), ErrorCode.INVALID_GOAL),
        (RawRequest(points=_pts(), instruction="x", hand_model="robotiq"), ErrorCode.INVALID_GOAL),
        (RawRequest(points=_pts(), instruction="x", robot_hand="shadow_hand"), ErrorCode.INVALID_GOAL),
        (RawRequest(points=np.zeros((5, 2)), instruction="x"), ErrorCode.INVALID_GOAL),
        (RawRequest(points=_pts(), labels=np.arange(3), instruction="x"), ErrorCode.INVALID_GOAL),
        (RawRequest(points=_pts(), instruction="x" * 5000), ErrorCode.INVALID_GOAL),
    ],
)
def test_bad_requests_get_their_error_code(raw, code):
    assert _code(raw) == code


def test_robot_none_is_allowed():
    assert validate_request(RawRequest(points=_pts(), instruction="x", robot_hand="none")).robot_hand == "none"


def test_normals_from_the_cloud_are_validated_flattened_and_unit():
    pts = np.random.default_rng(2).normal(size=(3, 4, 3))
    pts[0, 1] = np.nan
    normals = np.tile([0.0, 0.0, 2.0], (3, 4, 1))
    normals[0, 1] = np.nan  # a missing pixel's normal goes with it
    normals[2, 3] = [3.0, 4.0, 0.0]
    req = validate_request(RawRequest(points=pts, normals=normals, instruction="x"))
    assert req.normals.shape == req.points.shape == (11, 3)
    assert np.allclose(np.linalg.norm(req.normals, axis=1), 1.0)
    assert np.allclose(req.normals[-1], [0.6, 0.8, 0.0]) and np.allclose(req.normals[0], [0, 0, 1])
    assert validate_request(RawRequest(points=pts, instruction="x")).normals is None


@pytest.mark.parametrize("bad, says", [
    (np.zeros((10, 3)), "not finite or is zero"),
    (np.full((10, 3), np.nan), "not finite or is zero"),
    (np.ones((9, 3)), "the points' shape"),
    (np.ones((10, 2)), "the points' shape"),
])  # fmt: skip
def test_bad_normals_are_an_invalid_goal(bad, says):
    with pytest.raises(GraspError, match=says) as info:
        validate_request(RawRequest(points=_pts(), normals=bad, instruction="x"))
    assert info.value.code == ErrorCode.INVALID_GOAL
