"""Our robot hand URDFs and retargeting human grasps onto them (real dex-retargeting, pinocchio, yourdfpy)."""

import pathlib
import shutil

import numpy as np
import pinocchio as pin
import pytest
import yaml
import yourdfpy
from conftest import ROOT, SHARED
from matplotlib.image import imread
from scipy.spatial.transform import Rotation

from gdexgrasp_ros.hand.postures import AFFORDANCES, canonical_posture
from gdexgrasp_ros.retarget import robot_hands
from gdexgrasp_ros.retarget.retargeter import (
    RetargetingError,
    load_config,
    load_retargeter,
    wrist_frame_from_keypoints,
)
from gdexgrasp_ros.viz.scene_render import human_hand, render_postures

ROBOTS = ("leap_hand", "allegro_hand")
PNG_DIR = pathlib.Path("/tmp/retarget_pngs")
REFERENCE = {"leap_hand": "leap_hand_leap_hand_right.urdf", "allegro_hand": "allegro_hand_allegro_hand_right.urdf"}


@pytest.fixture(scope="module")
def retargeters():
    return {(r, m): load_retargeter(r, mode=m) for r in ROBOTS for m in ("position", "vector")}


def _keypoints(posture: str) -> np.ndarray:
    return human_hand(canonical_posture(posture))[2]


# -- URDFs ----------------------------------------------------------------------------------------
def test_committed_urdfs_equal_a_fresh_generation(tmp_path):
    assert robot_hands.main(["--out", str(tmp_path)]) == 0
    for filename in robot_hands.URDF_FILES.values():
        fresh = (tmp_path / filename).read_text()
        committed = (ROOT / "urdf" / filename).read_text()
        assert committed == fresh, f"urdf/{filename} is stale: python -m gdexgrasp_ros.retarget.robot_hands --out urdf/"
    assert robot_hands.generate_urdf("leap_hand") == robot_hands.generate_urdf("leap_hand")  # deterministic


@pytest.mark.parametrize("robot", ROBOTS)
def test_urdf_parses_with_yourdfpy_and_pinocchio_with_16_limited_revolute_joints(robot):
    path = ROOT / "urdf" / robot_hands.URDF_FILES[robot]
    text = path.read_text()
    assert "<mesh" not in text, "primitive geometry only"
    urdf = yourdfpy.URDF.load(str(path))
    assert urdf.validate(), urdf.errors
    revolute = [j for j in urdf.robot.joints if j.type == "revolute"]
    assert len(revolute) == 16 == len(urdf.actuated_joint_names)
    for j in revolute:
        assert j.limit is not None and j.limit.lower < j.limit.upper and j.limit.effort > 0, j.name
    model = pin.buildModelFromUrdf(str(path))
    assert model.nq == 16 and set(model.names[1:]) == {j.name for j in revolute}
    assert np.all(model.lowerPositionLimit < model.upperPositionLimit)
    cfg = load_config(robot)
    for link in list(cfg.fingertips.values()) + ["human_wrist"]:
        assert model.existFrame(link), link


@pytest.mark.parametrize("robot", ROBOTS)
def test_our_kinematics_match_the_published_hand(robot):
    """Fingertip and joint frames agree with the published URDF at random joint positions (< 1e-5 m)."""
    reference = SHARED / "reference" / "robot_hands" / REFERENCE[robot]
    if not reference.is_file():
        pytest.skip(f"the published URDF is not here ({reference})")
    ours = pin.buildModelFromUrdf(str(ROOT / "urdf" / robot_hands.URDF_FILES[robot]))
    theirs = pin.buildModelFromUrdf(str(reference))
    assert list(ours.names) == list(theirs.names)  # same joints in the same tree order
    frames = [f.name for f in theirs.frames if f.type == pin.FrameType.BODY and ours.existFrame(f.name)]
    assert len(frames) >= 20
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.uniform(theirs.lowerPositionLimit, theirs.upperPositionLimit)
        poses = []
        for model in (ours, theirs):
            data = model.createData()
            pin.framesForwardKinematics(model, data, q)
            poses.append(np.array([data.oMf[model.getFrameId(f)].translation for f in frames]))
        assert np.abs(poses[0] - poses[1]).max() < 1e-5


@pytest.mark.parametrize("robot", ROBOTS)
def test_urdf_human_wrist_frame_is_the_configured_wrist_in_base(robot):
    cfg = load_config(robot)
    model = pin.buildModelFromUrdf(str(cfg.urdf_path))
    data = model.createData()
    pin.framesForwardKinematics(model, data, pin.neutral(model))
    frame = data.oMf[model.getFrameId("human_wrist")]
    # The URDF text carries 9 significant digits (pi/2 -> 1.57079633: 3e-9 rad).
    assert np.allclose(frame.translation, cfg.wrist_in_base[:3, 3], atol=1e-7)
    assert np.allclose(frame.rotation, cfg.wrist_in_base[:3, :3], atol=1e-7)


def test_a_table_typo_is_a_clear_error():
    table = robot_hands.leap_hand_table()
    broken = robot_hands.HandTable(table.robot, table.source, table.materials, table.links[1:], table.joints)
    with pytest.raises(ValueError, match="unknown links"):
        robot_hands._check(broken)
    with pytest.raises(ValueError, match="unknown robot hand"):
        robot_hands.generate_urdf("shadow_hand")


# -- retargeting ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["position", "vector"])
@pytest.mark.parametrize("robot", ROBOTS)
def test_canonical_postures_retarget_within_limits_with_small_fingertip_error(retargeters, robot, mode):
    r = retargeters[(robot, mode)]
    rows = []
    for posture in AFFORDANCES:
        res = r.retarget(_keypoints(posture), np.eye(4))
        assert res.joint_names == tuple(r.joint_names) and len(res.positions) == 16
        assert np.all(res.positions >= r.lower) and np.all(res.positions <= r.upper)
        assert np.all(np.isfinite(res.positions))
        assert set(res.fingertip_errors_mm) == {"thumb", "index", "middle", "ring"}
        rows.append((posture, res.mean_fingertip_error_mm, res.max_fingertip_error_mm))
        print(
            f"{robot:12s} {mode:8s} {posture:17s} fingertip error mean {rows[-1][1]:5.1f} mm, max {rows[-1][2]:5.1f} mm"
        )
    means = [m for _, m, _ in rows]
    # Measured: position mode 7.5-11.2 mm mean, vector 6.7-18.8 mm; the bounds leave room, not slack.
    assert np.mean(means) < (12.0 if mode == "position" else 17.0), rows
    assert max(mx for _, _, mx in rows) < 40.0, rows


def test_retargeting_follows_the_human_posture(retargeters):
    """Flexing the human fingers flexes the robot's: the grasp's MCP+PIP flexion exceeds the flat hand's."""
    r = retargeters[("leap_hand", "position")]
    flat = r.retarget(_keypoints("base-support"), np.eye(4)).joint_dict()
    closed = r.retarget(_keypoints("trigger-squeeze"), np.eye(4)).joint_dict()
    for mcp, pip in (("5", "6"), ("9", "10")):  # middle, ring: MCP flexion and PIP
        assert closed[mcp] + closed[pip] > flat[mcp] + flat[pip] + 1.0


def test_result_is_invariant_to_where_the_grasp_is(retargeters):
    """Moving keypoints and wrist together moves only the robot base: same joints, base moved alike."""
    r = retargeters[("allegro_hand", "position")]
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    T[:3, 3] = [0.4, -0.2, 0.9]
    kp = _keypoints("twist")
    a = r.retarget(kp, np.eye(4))
    b = r.retarget(kp @ T[:3, :3].T + T[:3, 3], T)
    assert np.abs(a.positions - b.positions).max() < 1e-6
    assert np.allclose(T @ a.base_pose, b.base_pose, atol=1e-9)


def test_pre_grasp_opens_the_fingers_and_backs_off_along_the_palm_normal(retargeters):
    r = retargeters[("leap_hand", "position")]
    W = np.eye(4)
    W[:3, :3] = Rotation.from_euler("zyx", [0.5, 0.2, -0.4]).as_matrix()
    W[:3, 3] = [0.1, 0.2, 0.3]
    kp = _keypoints("handle-grip") @ W[:3, :3].T + W[:3, 3]
    res = r.retarget(kp, W, open_fraction=0.5, backoff=0.08)
    assert np.allclose(res.approach, -W[:3, 2])  # the palm faces wrist -z
    assert np.allclose(res.pre_grasp_wrist_pose[:3, 3] - W[:3, 3], 0.08 * W[:3, 2])
    assert np.allclose(res.pre_grasp_base_pose[:3, 3] - res.base_pose[:3, 3], 0.08 * W[:3, 2])
    assert np.allclose(res.pre_grasp_base_pose[:3, :3], res.base_pose[:3, :3])
    # Half way to the open posture (zero clipped to the limits), still within the limits.
    assert np.allclose(res.pre_grasp_positions, 0.5 * (res.positions + r.open_posture))
    assert np.all(res.pre_grasp_positions >= r.lower) and np.all(res.pre_grasp_positions <= r.upper)
    flexion = [r.joint_names.index(n) for n in ("1", "2", "5", "6", "9", "10")]
    assert np.all(np.abs(res.pre_grasp_positions[flexion]) <= np.abs(res.positions[flexion]) + 1e-12)
    # The robot base sits where the configured human wrist pose puts it.
    assert np.allclose(res.base_pose @ r.config.wrist_in_base, W)


def test_unreachable_targets_are_clamped_and_reported(retargeters):
    r = retargeters[("leap_hand", "position")]
    kp = _keypoints("base-support")
    kp[[6, 7, 8], 2] += [0.03, 0.06, 0.09]  # the index bent far backwards: beyond the MCP's lower limit
    res = r.retarget(kp, np.eye(4))
    assert "1" in res.clamped_joints and 0 < res.max_clamp_rad <= 2e-3
    assert res.positions[r.joint_names.index("1")] == pytest.approx(r.lower[r.joint_names.index("1")])
    assert res.fingertip_errors_mm["index"] > 20.0  # reported, not hidden


def test_wrist_frame_from_keypoints_matches_the_open_hand_wrist(retargeters):
    kp = _keypoints("base-support")
    W = wrist_frame_from_keypoints(kp)
    assert np.allclose(W[:3, 3], kp[0])
    angle = np.degrees(Rotation.from_matrix(W[:3, :3]).magnitude())
    assert angle < 12.0, angle  # the knuckle line is not exactly the wrist frame's y axis
    r = retargeters[("leap_hand", "position")]
    res = r.retarget(kp, None)  # a hand model without an OpenHand wrist frame (MANO)
    assert res.mean_fingertip_error_mm < 20.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda kp, W: (kp[:20], W), "expected 21 keypoints"),
        (
            lambda kp, W: (np.where(np.arange(21)[:, None] == 8, np.nan, kp), W),
            "non-finite values at \\['index_tip'\\]",
        ),
        (lambda kp, W: (kp, np.diag([1.0, 1.0, -1.0, 1.0])), "not a proper rotation"),
        (lambda kp, W: (kp, np.full((4, 4), np.nan)), "finite 4x4"),
    ],
)
def test_bad_input_is_a_clear_error(retargeters, change, message):
    kp, W = change(_keypoints("twist"), np.eye(4))
    with pytest.raises(RetargetingError, match=message):
        retargeters[("leap_hand", "position")].retarget(kp, W)


def test_bad_pre_grasp_settings_are_a_clear_error(retargeters):
    with pytest.raises(RetargetingError, match="open_fraction"):
        retargeters[("leap_hand", "position")].retarget(_keypoints("twist"), np.eye(4), open_fraction=1.5)


def test_a_new_hand_is_configuration_only(tmp_path, retargeters):
    """A copied config with another name and an absolute URDF path loads without code changes."""
    doc = yaml.safe_load((ROOT / "config" / "retargeting" / "leap_hand.yaml").read_text())
    urdf = tmp_path / "my_hand.urdf"
    shutil.copy(ROOT / "urdf" / "leap_hand_right.urdf", urdf)
    doc["robot"].update(name="my_hand", urdf_path=str(urdf), mode="vector", scaling_factor=1.5)
    (tmp_path / "my_hand.yaml").write_text(yaml.safe_dump(doc))
    r = load_retargeter("my_hand", tmp_path)
    assert r.robot_name == "my_hand" and r.mode == "vector" and r.root_link == "base"
    res = r.retarget(_keypoints("handle-grip"), np.eye(4))
    assert np.all(res.positions >= r.lower) and np.all(res.positions <= r.upper)


def test_configuration_errors_name_the_problem(tmp_path):
    with pytest.raises(RetargetingError, match="no retargeting config for robot 'robotiq'"):
        load_config("robotiq")
    doc = yaml.safe_load((ROOT / "config" / "retargeting" / "allegro_hand.yaml").read_text())
    doc["robot"]["urdf_path"] = str(ROOT / "urdf" / "allegro_hand_right.urdf")
    del doc["robot"]["wrist_in_base"]
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(RetargetingError, match="missing key 'wrist_in_base'"):
        load_config("a", tmp_path)
    doc = yaml.safe_load((ROOT / "config" / "retargeting" / "allegro_hand.yaml").read_text())
    doc["position"]["target_link_names"][0] = "no_such_link"
    doc["robot"]["urdf_path"] = str(ROOT / "urdf" / "allegro_hand_right.urdf")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(RetargetingError, match="link 'no_such_link' is not in"):
        load_retargeter("b", tmp_path)


# -- pictures -------------------------------------------------------------------------------------
def test_posture_pngs_show_the_human_and_the_robot_hand():
    """Five PNGs (human above, retargeted LEAP hand below) in /tmp/retarget_pngs/; look at them."""
    written = render_postures(PNG_DIR, "leap_hand")
    assert [p.name for p, _ in written] == [f"leap_hand_position_{a}.png" for a in AFFORDANCES]
    for path, result in written:
        img = imread(path)[..., :3]
        top, bottom = img[: img.shape[0] // 2], img[img.shape[0] // 2 :]
        skin = (np.abs(top - [0.93, 0.76, 0.65]) < 0.25).all(-1) & (top[..., 0] > top[..., 2] + 0.15)
        dark = (bottom < 0.3).all(-1)  # the robot's dark links
        assert skin.mean() > 0.01 and dark.mean() > 0.01, path
        assert result.mean_fingertip_error_mm < 15.0
