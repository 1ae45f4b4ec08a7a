"""Library results -> gdexgrasp_msgs messages (HandGrasp, GraspArrangement)."""

from __future__ import annotations

import numpy as np
from gdexgrasp_msgs.msg import GraspArrangement, GraspQuality, HandGrasp
from geometry_msgs.msg import Point, Pose
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectoryPoint

from ..pipeline import GraspCandidate


def pose_msg(rotation: np.ndarray, translation: np.ndarray) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in translation)
    x, y, z, w = Rotation.from_matrix(rotation).as_quat()
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = float(x), float(y), float(z), float(w)
    return pose


def _matrix_pose(T: np.ndarray) -> Pose:
    return pose_msg(T[:3, :3], T[:3, 3])


def points_msg(points: np.ndarray) -> list[Point]:
    return [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in np.asarray(points).reshape(-1, 3)]


def arrangement_msg(arr: dict) -> GraspArrangement:
    msg = GraspArrangement()
    for key in ("affordance", "contact_part", "object_category", "analyzer_backend", "localizer_backend", "rationale"):
        if key in arr:
            setattr(msg, key, str(arr[key]))
    msg.analyzer_backend = str(arr.get("analyzer_backend", arr.get("backend", msg.analyzer_backend)))
    msg.confidence = float(arr.get("confidence", 0.0))
    msg.fallback = bool(arr.get("fallback", False))
    return msg


def quality_msg(q) -> GraspQuality:
    return GraspQuality(
        penetration_depth=float(q.penetration_depth),
        intersection_volume=float(q.intersection_volume),
        simulation_displacement=float(q.simulation_displacement),
        simulation_displacement_6dir=float(q.simulation_displacement_6dir),
        part_contact_ratio=float(q.part_contact_ratio),
        force_closure_residual=float(q.force_closure_residual),
        contact_count=int(q.contact_count),
        score=float(q.score),
    )


def hand_grasp_msg(g: GraspCandidate, index: int, header: Header, arrangement: dict, hand_model: str) -> HandGrasp:
    msg = HandGrasp()
    msg.header = header
    msg.id = f"grasp_{index}"
    msg.hand_model = hand_model
    msg.wrist_pose = pose_msg(g.rotation, g.translation)
    msg.joint_names = list(g.joint_names)
    msg.joint_positions = [float(v) for v in g.joints]
    msg.keypoints = points_msg(g.keypoints)
    msg.affordance = str(arrangement.get("affordance", ""))
    msg.contact_part = str(arrangement.get("contact_part", ""))
    msg.prior_cluster_id = int(g.prior_cluster_id)
    msg.quality = quality_msg(g.quality)
    msg.contact_points = points_msg(g.contact_points)
    if g.robot is not None:
        _fill_robot(msg, g.robot, header)
    return msg


def _fill_robot(msg: HandGrasp, robot, header: Header) -> None:
    """Copy a retargeting result (attributes or dict) into the message's robot fields."""
    get = (lambda k, d=None: robot.get(k, d)) if isinstance(robot, dict) else (lambda k, d=None: getattr(robot, k, d))
    msg.robot_name = str(get("robot_name", ""))
    names = [str(n) for n in get("joint_names", [])]
    for traj, key in ((msg.grasp_posture, "positions"), (msg.pre_grasp_posture, "pre_grasp_positions")):
        values = get(key)
        if values is None:
            continue
        traj.header = header
        traj.joint_names = names
        traj.points = [JointTrajectoryPoint(positions=[float(v) for v in values])]
    for field_name, key in (("robot_wrist_pose", "wrist_pose"), ("robot_pre_grasp_wrist_pose", "pre_grasp_wrist_pose")):
        T = get(key)
        if T is not None and np.asarray(T).shape == (4, 4) and np.isfinite(T).all():
            setattr(msg, field_name, _matrix_pose(np.asarray(T)))
