"""Library results <-> gdexgrasp_msgs messages (HandGrasp, GraspArrangement, GraspQuality).

Shared by the synthesis server (which fills whole results) and the retargeting node (which
reads grasps and fills their robot fields).
"""

from __future__ import annotations

import numpy as np
from gdexgrasp_msgs.msg import GraspArrangement, GraspQuality, HandGrasp
from geometry_msgs.msg import Point, Pose, Quaternion
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from ..pipeline import GraspCandidate
from ..retarget.retargeter import RetargetingError, RetargetResult, pose_matrix


# -- poses and points ------------------------------------------------------------------------------
def pose_to_matrix(pose: Pose) -> np.ndarray:
    p, q = pose.position, pose.orientation
    return pose_matrix((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))


def matrix_to_pose(T: np.ndarray) -> Pose:
    x, y, z, w = (float(v) for v in Rotation.from_matrix(T[:3, :3]).as_quat())
    px, py, pz = (float(v) for v in T[:3, 3])
    return Pose(position=Point(x=px, y=py, z=pz), orientation=Quaternion(x=x, y=y, z=z, w=w))


def points_msg(points: np.ndarray) -> list[Point]:
    return [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in np.asarray(points).reshape(-1, 3)]


def grasp_keypoints(msg: HandGrasp) -> np.ndarray:
    """(21, 3) keypoints of a HandGrasp; RetargetingError (clear message) when the count is wrong."""
    if len(msg.keypoints) != 21:
        raise RetargetingError(
            f"grasp '{msg.id}': expected 21 keypoints (MANO/OpenPose order), got {len(msg.keypoints)}"
        )
    return np.array([(p.x, p.y, p.z) for p in msg.keypoints], dtype=float)


# -- robot fields -------------------------------------------------------------------------------------
def robot_posture(result: RetargetResult, positions: np.ndarray, frame_id: str) -> JointTrajectory:
    traj = JointTrajectory(joint_names=list(result.joint_names))
    traj.header.frame_id = frame_id
    traj.points = [JointTrajectoryPoint(positions=[float(v) for v in positions])]
    return traj


def fill_robot_fields(msg: HandGrasp, result: RetargetResult) -> None:
    """robot_name, grasp / pre-grasp postures and the robot base (URDF root) poses, in the grasp's frame."""
    msg.robot_name = result.robot_name
    msg.grasp_posture = robot_posture(result, result.positions, msg.header.frame_id)
    msg.pre_grasp_posture = robot_posture(result, result.pre_grasp_positions, msg.header.frame_id)
    msg.robot_wrist_pose = matrix_to_pose(result.base_pose)
    msg.robot_pre_grasp_wrist_pose = matrix_to_pose(result.pre_grasp_base_pose)


def retargeted_grasp(msg: HandGrasp, result: RetargetResult) -> HandGrasp:
    """A copy of the grasp with its robot fields filled."""
    out = HandGrasp()
    for name in out.get_fields_and_field_types():
        setattr(out, name, getattr(msg, name))
    fill_robot_fields(out, result)
    return out


# -- synthesis results ------------------------------------------------------------------------------
def arrangement_msg(arr: dict) -> GraspArrangement:
    msg = GraspArrangement()
    for key in ("affordance", "contact_part", "object_category", "localizer_backend", "rationale"):
        if key in arr:
            setattr(msg, key, str(arr[key]))
    msg.analyzer_backend = str(arr.get("analyzer_backend", arr.get("backend", "")))
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
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = g.rotation, g.translation
    msg.wrist_pose = matrix_to_pose(T)
    msg.joint_names = list(g.joint_names)
    msg.joint_positions = [float(v) for v in g.joints]
    msg.keypoints = points_msg(g.keypoints)
    msg.affordance = str(arrangement.get("affordance", ""))
    msg.contact_part = str(arrangement.get("contact_part", ""))
    msg.prior_cluster_id = int(g.prior_cluster_id)
    msg.quality = quality_msg(g.quality)
    msg.contact_points = points_msg(g.contact_points)
    if g.robot is not None:
        fill_robot_fields(msg, g.robot)
    return msg
