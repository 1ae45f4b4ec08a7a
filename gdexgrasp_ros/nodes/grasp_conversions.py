"""Library results <-> gdexgrasp_msgs messages (HandGrasp, GraspArrangement, GraspQuality).

Shared by the synthesis server (which fills whole results) and the retargeting node (which
reads grasps and fills their robot fields).
"""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from gdexgrasp_msgs.action import SynthesizeGrasp
from gdexgrasp_msgs.msg import GraspArrangement, GraspQuality, HandGrasp, StageTiming
from geometry_msgs.msg import Point, Pose, Quaternion
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from ..pipeline import STAGES, GraspCandidate, SynthesisResult
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


def duration_msg(seconds: float) -> Duration:
    sec, nanosec = divmod(int(round(seconds * 1e9)), 1_000_000_000)
    return Duration(sec=sec, nanosec=nanosec)


def hand_trajectory(result: RetargetResult, pre_grasp_time: float, grasp_time: float) -> JointTrajectory:
    """Two points: the opened pre-grasp posture at pre_grasp_time, the grasp at grasp_time (from start)."""
    traj = JointTrajectory(joint_names=list(result.joint_names))
    for q, t in ((result.pre_grasp_positions, pre_grasp_time), (result.positions, grasp_time)):
        traj.points.append(JointTrajectoryPoint(positions=[float(v) for v in q], time_from_start=duration_msg(t)))
    return traj


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
def arrangement_msg(result: SynthesisResult) -> GraspArrangement:
    """What stage 1 decided (empty affordance and part when the preset uses no language)."""
    msg = GraspArrangement(rationale=result.rationale)
    arr, loc = result.arrangement, result.localization
    if arr is not None:
        msg.affordance, msg.contact_part, msg.object_category = arr.affordance, arr.contact_part, arr.object_category
        msg.confidence, msg.analyzer_backend, msg.fallback = float(arr.confidence), arr.backend, bool(arr.fallback)
        msg.low_confidence = bool(arr.low_confidence)
    if loc is not None:
        msg.localizer_backend = loc.backend
        msg.fallback = bool(msg.fallback or loc.fallback)
    return msg


def result_msg(output: SynthesisResult, header: Header, hand_model: str) -> SynthesizeGrasp.Result:
    """A SUCCESS result: arrangement, ranked grasps (in `header`'s frame and stamp) and stage timings."""
    result = SynthesizeGrasp.Result(error_code=SynthesizeGrasp.Result.SUCCESS)
    result.arrangement = arrangement_msg(output)
    result.grasps = [hand_grasp_msg(g, i, header, result.arrangement, hand_model) for i, g in enumerate(output.grasps)]
    result.timings = [StageTiming(stage=k, seconds=float(v)) for k, v in output.timings.items()]
    return result


def failure_msg(err) -> SynthesizeGrasp.Result:
    """A failed goal's result: its code, message and the timings of the stages that ran."""
    result = SynthesizeGrasp.Result(error_code=int(err.code), error_string=err.message)
    result.timings = [StageTiming(stage=k, seconds=float(v)) for k, v in getattr(err, "timings", {}).items()]
    return result


def feedback_msg(stage: str, progress: float, live: int, best_loss: float) -> SynthesizeGrasp.Feedback:
    return SynthesizeGrasp.Feedback(stage=STAGES.index(stage) if stage in STAGES else 0, stage_name=stage,
                                    progress=float(progress), live_candidates=int(live),
                                    best_loss=float(best_loss))  # fmt: skip


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


def hand_grasp_msg(g: GraspCandidate, index: int, header: Header, arrangement: GraspArrangement,
                   hand_model: str) -> HandGrasp:  # fmt: skip
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
    msg.affordance, msg.contact_part = arrangement.affordance, arrangement.contact_part
    msg.prior_cluster_id = int(g.prior_cluster_id)
    msg.quality = quality_msg(g.quality)
    msg.contact_points = points_msg(g.contact_points)
    if g.robot is not None:
        fill_robot_fields(msg, g.robot)
    return msg
