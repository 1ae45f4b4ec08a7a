"""Map a human hand grasp (21 keypoints + wrist pose) to a robot hand's joints with dex-retargeting.

ROS-free. The robot is chosen by configuration: config/retargeting/<robot>.yaml names the URDF,
the fixed pose of the human wrist frame in the robot base frame, the scale from human to robot
size, the fingertip frames and the dex-retargeting targets (see leap_hand.yaml for the layout).

Steps of `Retargeter.retarget`:
1. keypoints into the human wrist frame (OpenHand convention: +x towards the middle finger, +y
   towards the thumb, +z out of the back of the hand; the palm faces -z);
2. scale about the wrist (scaling_factor) and map into the robot base frame (wrist_in_base):
   targets = R (s p) + t;
3. solve with dex-retargeting: position mode matches robot link origins to targets (fingertips and
   DIP joints), vector mode matches robot link differences to scaled keypoint differences;
4. clamp to the URDF limits (the solver's bounds have a 1e-3 rad slack) and report what was clamped;
5. measure the fingertip position error (robot tip frame vs its target, mm, in the robot frame);
6. pre-grasp: fingers opened part of the way to the open posture, wrist backed off along the
   approach direction (the palm normal, wrist -z) by `backoff` metres.

The robot base pose in the grasp's frame puts the robot's `wrist_in_base` point on the human
wrist: base = wrist * inverse(wrist_in_base). With scaling_factor > 1 the robot's fingertips reach
further from the wrist than the human's did (the posture's shape is kept, not the contact points).
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass, field

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from ..hand.base import KEYPOINT_NAMES

MODES = ("position", "vector")
# Fields of a config's position/vector section handed to dex-retargeting's RetargetingConfig.
_DEX_FIELDS = {
    "position": ("target_link_names", "target_link_human_indices", "normal_delta", "huber_delta"),
    "vector": ("target_origin_link_names", "target_task_link_names", "target_link_human_indices",
               "normal_delta", "huber_delta"),
}  # fmt: skip


class RetargetingError(ValueError):
    """Bad input or configuration for retargeting; the message says what and where."""


# -- configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RobotHandConfig:
    name: str
    config_path: pathlib.Path
    urdf_path: pathlib.Path
    mode: str
    wrist_in_base: np.ndarray  # (4, 4) pose of the human wrist frame in the robot base frame
    scaling_factor: float
    fingertips: dict[str, str]  # human digit -> robot fingertip link
    open_fraction: float
    backoff: float
    open_posture: dict[str, float]
    sections: dict[str, dict] = field(default_factory=dict)  # "position" / "vector" -> dex-retargeting fields


def default_config_dir() -> pathlib.Path:
    """config/retargeting of the source tree when run from it, else the installed package share."""
    source = pathlib.Path(__file__).resolve().parents[2] / "config" / "retargeting"
    if (source / "leap_hand.yaml").is_file():
        return source
    try:
        from ament_index_python.packages import get_package_share_directory

        return pathlib.Path(get_package_share_directory("gdexgrasp_ros")) / "config" / "retargeting"
    except (ImportError, LookupError) as err:
        raise RetargetingError(f"no retargeting config directory: not in a source tree and {err}") from err


def _require(mapping: dict, key: str, where: str):
    if key not in mapping:
        raise RetargetingError(f"{where}: missing key '{key}'")
    return mapping[key]


def pose_from_xyz_rpy(xyz, rpy) -> np.ndarray:
    """4x4 pose from a translation and URDF-style fixed-axis roll, pitch, yaw (radians)."""
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", np.asarray(rpy, float)).as_matrix()
    T[:3, 3] = np.asarray(xyz, float)
    return T


def load_config(robot_name: str, config_dir: str | pathlib.Path | None = None) -> RobotHandConfig:
    """Read config_dir/<robot_name>.yaml (config_dir None: default_config_dir())."""
    folder = pathlib.Path(config_dir) if config_dir else default_config_dir()
    path = folder / f"{robot_name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise RetargetingError(f"no retargeting config for robot '{robot_name}': {path} missing (found {known})")
    doc = yaml.safe_load(path.read_text()) or {}
    robot = _require(doc, "robot", str(path))
    where = f"{path}: robot"
    urdf = pathlib.Path(_require(robot, "urdf_path", where))
    urdf = (path.parent / urdf).resolve() if not urdf.is_absolute() else urdf
    if not urdf.is_file():
        raise RetargetingError(f"{where}.urdf_path: {urdf} does not exist")
    mode = robot.get("mode", "position")
    if mode not in MODES:
        raise RetargetingError(f"{where}.mode: '{mode}' is not one of {MODES}")
    wrist = _require(robot, "wrist_in_base", where)
    scale = float(_require(robot, "scaling_factor", where))
    if not 0.1 < scale < 10.0:
        raise RetargetingError(f"{where}.scaling_factor: {scale} is not a plausible human-to-robot scale")
    tips = dict(_require(robot, "fingertips", where))
    unknown = [d for d in tips if f"{d}_tip" not in KEYPOINT_NAMES]
    if unknown:
        raise RetargetingError(f"{where}.fingertips: unknown digits {unknown} (thumb, index, middle, ring, little)")
    pre = robot.get("pre_grasp", {}) or {}
    return RobotHandConfig(
        name=str(robot.get("name", robot_name)),
        config_path=path,
        urdf_path=urdf,
        mode=mode,
        wrist_in_base=pose_from_xyz_rpy(_require(wrist, "xyz", where), _require(wrist, "rpy", where)),
        scaling_factor=scale,
        fingertips=tips,
        open_fraction=float(pre.get("open_fraction", 0.6)),
        backoff=float(pre.get("backoff", 0.08)),
        open_posture={str(k): float(v) for k, v in (pre.get("open_posture") or {}).items()},
        sections={m: dict(doc[m]) for m in MODES if m in doc},
    )


def load_retargeter(
    robot_name: str, config_dir: str | pathlib.Path | None = None, mode: str | None = None
) -> Retargeter:
    """The retargeter for a configured robot hand; mode overrides the config's default mode."""
    return Retargeter(load_config(robot_name, config_dir), mode=mode)


# -- result -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetargetResult:
    robot_name: str
    mode: str
    joint_names: tuple[str, ...]  # URDF order
    positions: np.ndarray  # (D,) rad at the grasp, within the URDF limits
    pre_grasp_positions: np.ndarray  # (D,) rad, fingers opened
    wrist_pose: np.ndarray  # (4, 4) human wrist frame in the grasp's frame (the input)
    pre_grasp_wrist_pose: np.ndarray  # (4, 4) backed off along the approach direction
    base_pose: np.ndarray  # (4, 4) robot base (URDF root link) in the grasp's frame
    pre_grasp_base_pose: np.ndarray  # (4, 4)
    approach: np.ndarray  # (3,) unit approach direction (the palm normal) in the grasp's frame
    fingertip_errors_mm: dict[str, float]  # digit -> |robot tip - target|, robot frame
    clamped_joints: tuple[str, ...]  # joints the solver left outside their limits (then clamped)
    max_clamp_rad: float
    targets: np.ndarray  # (21, 3) scaled human keypoints in the robot base frame
    solve_seconds: float

    @property
    def mean_fingertip_error_mm(self) -> float:
        return float(np.mean(list(self.fingertip_errors_mm.values())))

    @property
    def max_fingertip_error_mm(self) -> float:
        return float(np.max(list(self.fingertip_errors_mm.values())))

    def joint_dict(self) -> dict[str, float]:
        return dict(zip(self.joint_names, self.positions.tolist(), strict=True))


# -- input helpers ------------------------------------------------------------------------------
def pose_matrix(position, quaternion_xyzw) -> np.ndarray:
    """4x4 pose from a position and a quaternion (x, y, z, w; normalised here, must not be zero)."""
    p = np.asarray(position, float).reshape(-1)
    q = np.asarray(quaternion_xyzw, float).reshape(-1)
    if p.shape != (3,) or q.shape != (4,):
        raise RetargetingError(f"pose needs a 3-vector and a quaternion (x, y, z, w); got {p.shape} and {q.shape}")
    if not (np.isfinite(p).all() and np.isfinite(q).all()):
        raise RetargetingError("pose has non-finite values")
    norm = np.linalg.norm(q)
    if norm < 1e-6:
        raise RetargetingError("pose quaternion is zero")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(q / norm).as_matrix()
    T[:3, 3] = p
    return T


def wrist_frame_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """A right hand's wrist frame (OpenHand convention) from its keypoints, for hand models whose
    wrist rotation follows another convention (MANO): +x wrist -> middle MCP, +z out of the back
    of the hand (index x little knuckle line), origin at the wrist keypoint."""
    kp = _checked_keypoints(keypoints)
    x = kp[9] - kp[0]
    across = kp[5] - kp[17]  # little -> index knuckle: towards the thumb side
    z = np.cross(x, across)
    if np.linalg.norm(x) < 1e-6 or np.linalg.norm(z) < 1e-9:
        raise RetargetingError("keypoints are degenerate: cannot find the wrist frame")
    x, z = x / np.linalg.norm(x), z / np.linalg.norm(z)
    T = np.eye(4)
    T[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    T[:3, 3] = kp[0]
    return T


def _checked_keypoints(keypoints) -> np.ndarray:
    kp = np.asarray(keypoints, dtype=float)
    if kp.shape != (len(KEYPOINT_NAMES), 3):
        raise RetargetingError(f"expected {len(KEYPOINT_NAMES)} keypoints x 3 (MANO/OpenPose order), got {kp.shape}")
    if not np.isfinite(kp).all():
        bad = sorted({KEYPOINT_NAMES[i] for i in np.argwhere(~np.isfinite(kp))[:, 0]})
        raise RetargetingError(f"keypoints have non-finite values at {bad}")
    return kp


def _checked_pose(pose) -> np.ndarray:
    T = np.asarray(pose, dtype=float)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise RetargetingError(f"wrist pose must be a finite 4x4 matrix, got shape {T.shape}")
    R = T[:3, :3]
    if not np.allclose(R.T @ R, np.eye(3), atol=1e-4) or np.linalg.det(R) < 0:
        raise RetargetingError("wrist pose rotation is not a proper rotation matrix")
    return T


# -- the retargeter -----------------------------------------------------------------------------
class Retargeter:
    """One configured robot hand; `retarget` maps one human grasp at a time (not thread-safe)."""

    def __init__(self, config: RobotHandConfig, mode: str | None = None):
        self.config = config
        self.mode = mode or config.mode
        if self.mode not in MODES:
            raise RetargetingError(f"mode '{self.mode}' is not one of {MODES}")
        if self.mode not in config.sections:
            raise RetargetingError(f"{config.config_path}: no '{self.mode}' section")
        self._model, self._data = _pinocchio_model(config.urdf_path)
        self.joint_names, self.root_link = _urdf_structure(config.urdf_path)
        self.lower, self.upper = self._limits()
        self._tip_frames = {d: self._frame_id(link) for d, link in config.fingertips.items()}
        self._solver = self._build_solver()
        self._solver_index = [self._solver.joint_names.index(n) for n in self.joint_names]
        self.open_posture = self._open_posture()

    @property
    def robot_name(self) -> str:
        return self.config.name

    # -- setup ----------------------------------------------------------------------------------
    def _limits(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = [], []
        for name in self.joint_names:
            idx = self._model.joints[self._model.getJointId(name)].idx_q
            lo.append(self._model.lowerPositionLimit[idx])
            hi.append(self._model.upperPositionLimit[idx])
        lo, hi = np.array(lo), np.array(hi)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (lo < hi).all()):
            raise RetargetingError(f"{self.config.urdf_path}: every actuated joint needs finite limits")
        return lo, hi

    def _frame_id(self, link: str) -> int:
        if not self._model.existFrame(link):
            raise RetargetingError(f"{self.config.config_path}: link '{link}' is not in {self.config.urdf_path}")
        return self._model.getFrameId(link)

    def _build_solver(self):
        from dex_retargeting.retargeting_config import RetargetingConfig

        section = self.config.sections[self.mode]
        cfg = {k: section[k] for k in _DEX_FIELDS[self.mode] if k in section}
        for link in (
            cfg.get("target_link_names", [])
            + cfg.get("target_origin_link_names", [])
            + cfg.get("target_task_link_names", [])
        ):
            self._frame_id(link)
        cfg.update(
            type=self.mode,
            urdf_path=str(self.config.urdf_path),
            add_dummy_free_joint=False,  # the wrist pose comes from the human grasp, not the solver
            scaling_factor=self.config.scaling_factor,
            low_pass_alpha=-1.0,  # grasps are independent: no temporal filter
        )
        try:
            return RetargetingConfig.from_dict(cfg).build()
        except (ValueError, KeyError, TypeError) as err:
            raise RetargetingError(f"{self.config.config_path} [{self.mode}]: {err}") from err

    def _open_posture(self) -> np.ndarray:
        unknown = set(self.config.open_posture) - set(self.joint_names)
        if unknown:
            raise RetargetingError(f"{self.config.config_path}: open_posture names unknown joints {sorted(unknown)}")
        q = np.array([self.config.open_posture.get(n, 0.0) for n in self.joint_names])
        return np.clip(q, self.lower, self.upper)

    # -- kinematics -----------------------------------------------------------------------------
    def link_positions(self, positions: np.ndarray, links) -> np.ndarray:
        """Origins (N, 3) of named links in the robot base frame at joint positions (URDF order)."""
        import pinocchio as pin

        q = np.zeros(self._model.nq)
        for name, value in zip(self.joint_names, positions, strict=True):
            q[self._model.joints[self._model.getJointId(name)].idx_q] = value
        pin.framesForwardKinematics(self._model, self._data, q)
        return np.array([self._data.oMf[self._frame_id(link)].translation.copy() for link in links])

    def targets_in_base(self, keypoints_in_wrist: np.ndarray) -> np.ndarray:
        """Scaled human keypoints (21, 3), given in the human wrist frame, in the robot base frame."""
        T = self.config.wrist_in_base
        return (self.config.scaling_factor * keypoints_in_wrist) @ T[:3, :3].T + T[:3, 3]

    # -- solving --------------------------------------------------------------------------------
    def retarget(self, keypoints, wrist_pose=None, open_fraction: float | None = None,
                 backoff: float | None = None) -> RetargetResult:  # fmt: skip
        """keypoints (21, 3) and wrist_pose (4, 4; None: from the keypoints) in one frame, metres."""
        kp = _checked_keypoints(keypoints)
        W = _checked_pose(wrist_pose) if wrist_pose is not None else wrist_frame_from_keypoints(kp)
        frac = self.config.open_fraction if open_fraction is None else float(open_fraction)
        back = self.config.backoff if backoff is None else float(backoff)
        if not 0.0 <= frac <= 1.0 or not np.isfinite(back) or back < 0:
            raise RetargetingError(f"open_fraction must lie in [0, 1] and backoff be >= 0; got {frac}, {back}")
        targets = self.targets_in_base((kp - W[:3, 3]) @ W[:3, :3])
        started = time.perf_counter()
        raw = self._solve(targets)
        seconds = time.perf_counter() - started
        q = np.clip(raw, self.lower, self.upper)
        outside = np.abs(raw - q)
        clamped = tuple(n for n, d in zip(self.joint_names, outside, strict=True) if d > 0)
        return RetargetResult(
            robot_name=self.robot_name,
            mode=self.mode,
            joint_names=tuple(self.joint_names),
            positions=q,
            pre_grasp_positions=q + frac * (self.open_posture - q),
            **self._poses(W, back),
            fingertip_errors_mm=self._fingertip_errors(q, targets),
            clamped_joints=clamped,
            max_clamp_rad=float(outside.max()),
            targets=targets,
            solve_seconds=seconds,
        )

    def _solve(self, targets: np.ndarray) -> np.ndarray:
        section = self.config.sections[self.mode]
        idx = np.asarray(section["target_link_human_indices"])
        if self.mode == "position":
            ref = targets[idx]
        else:  # dex-retargeting multiplies the reference vectors by scaling_factor itself
            ref = (targets[idx[1]] - targets[idx[0]]) / self.config.scaling_factor
        # Start every grasp from the same point (mid-range): results must not depend on the previous grasp.
        self._solver.reset()
        qpos = self._solver.retarget(ref)
        return np.asarray(qpos, float)[self._solver_index]

    def _fingertip_errors(self, q: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        digits = list(self.config.fingertips)
        tips = self.link_positions(q, [self.config.fingertips[d] for d in digits])
        want = targets[[KEYPOINT_NAMES.index(f"{d}_tip") for d in digits]]
        return {d: float(1000.0 * e) for d, e in zip(digits, np.linalg.norm(tips - want, axis=1), strict=True)}

    def _poses(self, W: np.ndarray, backoff: float) -> dict[str, np.ndarray]:
        approach = -W[:3, 2]  # the palm faces wrist -z: the hand approaches the object along it
        W_pre = W.copy()
        W_pre[:3, 3] -= backoff * approach
        base_in_wrist = np.linalg.inv(self.config.wrist_in_base)
        return {
            "wrist_pose": W,
            "pre_grasp_wrist_pose": W_pre,
            "base_pose": W @ base_in_wrist,
            "pre_grasp_base_pose": W_pre @ base_in_wrist,
            "approach": approach,
        }


def _pinocchio_model(urdf_path: pathlib.Path):
    import pinocchio as pin

    try:
        model = pin.buildModelFromUrdf(str(urdf_path))
    except (ValueError, RuntimeError) as err:
        raise RetargetingError(f"pinocchio cannot read {urdf_path}: {err}") from err
    return model, model.createData()


def _urdf_structure(urdf_path: pathlib.Path) -> tuple[list[str], str]:
    """Actuated joints in the order the URDF declares them (a hand driver's order, unlike pinocchio's
    tree order) and the root link (the frame the hand hangs from in TF)."""
    import yourdfpy

    urdf = yourdfpy.URDF.load(str(urdf_path), build_scene_graph=False, load_meshes=False)
    names = list(urdf.actuated_joint_names)
    if not names:
        raise RetargetingError(f"{urdf_path} has no actuated joint")
    children = {j.child for j in urdf.robot.joints}
    roots = [link.name for link in urdf.robot.links if link.name not in children]
    if len(roots) != 1:
        raise RetargetingError(f"{urdf_path} must have exactly one root link, found {roots}")
    return names, roots[0]
