"""Field round trips of the generated interfaces through real CDR serialization."""

import math

from gdexgrasp_msgs.action import SynthesizeGrasp
from gdexgrasp_msgs.msg import GraspArrangement, GraspQuality, HandGrasp, StageTiming
from geometry_msgs.msg import Point
from rclpy.serialization import deserialize_message, serialize_message
from trajectory_msgs.msg import JointTrajectoryPoint

from gdexgrasp_ros.errors import ErrorCode


def _round_trip(msg):
    return deserialize_message(serialize_message(msg), type(msg))


def _hand_grasp():
    g = HandGrasp()
    g.header.frame_id = "object"
    g.id = "grasp_3"
    g.hand_model = "open_hand"
    g.wrist_pose.position.x = 0.12
    g.wrist_pose.orientation.w = 0.5
    g.wrist_pose.orientation.z = math.sqrt(0.75)
    g.joint_names = [f"j{i}" for i in range(16)]
    g.joint_positions = [0.1 * i for i in range(16)]
    g.keypoints = [Point(x=0.01 * i, y=-0.002 * i, z=0.3) for i in range(21)]
    g.mano_pose = [0.0] * 45
    g.mano_betas = [0.5] * 10
    g.affordance = GraspArrangement.AFFORDANCE_HANDLE_GRIP
    g.contact_part = "handle"
    g.prior_cluster_id = 7
    g.quality = GraspQuality(
        penetration_depth=0.003,
        intersection_volume=2.9e-6,
        simulation_displacement=float("nan"),
        part_contact_ratio=0.8,
        contact_count=9,
        score=0.77,
    )
    g.contact_points = [Point(x=1.0, y=2.0, z=3.0)]
    g.robot_name = "leap_hand"
    g.grasp_posture.joint_names = ["0", "1"]
    g.grasp_posture.points = [JointTrajectoryPoint(positions=[0.2, 0.4])]
    g.robot_pre_grasp_wrist_pose.position.z = -0.05
    return g


def test_hand_grasp_round_trip():
    g = _hand_grasp()
    out = _round_trip(g)
    assert out.id == "grasp_3" and out.header.frame_id == "object"
    assert len(out.keypoints) == 21 and out.keypoints[20].x == g.keypoints[20].x
    assert list(out.joint_positions) == list(g.joint_positions)
    assert out.wrist_pose.orientation.z == g.wrist_pose.orientation.z
    assert out.quality.contact_count == 9 and math.isnan(out.quality.simulation_displacement)
    assert out.quality.score == 0.77 and out.prior_cluster_id == 7
    assert list(out.grasp_posture.points[0].positions) == [0.2, 0.4]
    assert out.robot_pre_grasp_wrist_pose.position.z == -0.05
    assert out.affordance == "handle-grip"


def test_arrangement_round_trip_and_affordance_constants():
    a = GraspArrangement(
        affordance="twist",
        contact_part="lid",
        object_category="bottle",
        confidence=0.75,
        analyzer_backend="offline",
        localizer_backend="labels",
        rationale="open it",
        fallback=True,
    )
    out = _round_trip(a)
    assert out.affordance == "twist" and out.contact_part == "lid" and out.fallback is True
    assert out.confidence == 0.75
    names = {getattr(GraspArrangement, n) for n in dir(GraspArrangement) if n.startswith("AFFORDANCE_")}
    assert names == {"handle-grip", "twist", "wrap-around-grip", "base-support", "trigger-squeeze"}


def test_action_parts_round_trip():
    goal = SynthesizeGrasp.Goal(instruction="pour tea", max_grasps=3, robot_hand="allegro_hand", timeout=12.5)
    out = _round_trip(goal)
    assert out.instruction == "pour tea" and out.max_grasps == 3 and out.timeout == 12.5
    res = SynthesizeGrasp.Result(error_code=SynthesizeGrasp.Result.PART_NOT_FOUND, error_string="no handle")
    res.grasps = [_hand_grasp(), _hand_grasp()]
    res.timings = [StageTiming(stage="optimization", seconds=1.25)]
    out = _round_trip(res)
    assert out.error_code == -7 and len(out.grasps) == 2 and out.timings[0].seconds == 1.25
    fb = SynthesizeGrasp.Feedback(
        stage=SynthesizeGrasp.Feedback.STAGE_OPTIMIZATION,
        stage_name="optimization",
        progress=0.5,
        live_candidates=8,
        best_loss=0.25,
    )
    out = _round_trip(fb)
    assert out.stage == 5 and out.live_candidates == 8 and out.best_loss == 0.25


def test_error_codes_match_the_action_definition():
    for code in ErrorCode:
        assert getattr(SynthesizeGrasp.Result, code.name) == int(code), code.name
    constants = {
        n for n in dir(SynthesizeGrasp.Result) if n.isupper() and isinstance(getattr(SynthesizeGrasp.Result, n), int)
    }
    assert constants == {c.name for c in ErrorCode}


def test_feedback_stage_constants_match_pipeline_stages():
    from gdexgrasp_ros.pipeline import STAGES

    for i, name in enumerate(STAGES):
        assert getattr(SynthesizeGrasp.Feedback, "STAGE_" + name.upper()) == i
