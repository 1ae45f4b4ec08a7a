"""Action server `synthesize_grasp` (gdexgrasp_msgs/action/SynthesizeGrasp).

Keeps the latest cloud and instruction from its topics, validates each goal, runs the
library's GraspSynthesizer and answers every goal with an error code: a failed goal
leaves the node ready for the next. Goals run one at a time (their own mutually
exclusive callback group); topics and cancel requests are served meanwhile by a
MultiThreadedExecutor. Parameters: nodes/parameters.py (SERVER_PARAMETERS).
"""

from __future__ import annotations

import threading
import time

import rclpy
from gdexgrasp_msgs.action import SynthesizeGrasp
from gdexgrasp_msgs.msg import HandGrasp
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header, String

from ..errors import ErrorCode, GraspError
from ..pipeline import GraspSynthesizer
from ..request import RawRequest, SynthesisRequest, validate_request
from . import parameters as P
from .cloud_conversions import CloudFormatError, cloud_to_arrays, is_empty
from .grasp_conversions import feedback_msg, result_msg
from .spin import construct_or_exit, spin_until_shutdown
from .tf_helpers import lookup_rigid, tf_buffer


class GraspSynthesisServer(Node):
    def __init__(self, synthesizer: GraspSynthesizer | None = None, **kwargs):
        super().__init__("grasp_synthesis_server", **kwargs)
        start = P.declare(self, P.SERVER_PARAMETERS, P.server_cross_check)
        self._lock = threading.Lock()
        self._latest_cloud: PointCloud2 | None = None
        self._latest_instruction: str | None = None
        if synthesizer is None:
            synthesizer = GraspSynthesizer(P.synthesizer_config(start))
            synthesizer.load_components()  # a bad backend or model path fails here, not at the first goal
        self._synthesizer = synthesizer
        self._tf_buffer = tf_buffer(self)

        topics = ReentrantCallbackGroup()
        # Latched instruction: a planner may publish it once before the cloud arrives.
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=QoSReliabilityPolicy.RELIABLE)  # fmt: skip
        self.create_subscription(PointCloud2, start["cloud_topic"], self._on_cloud, 1, callback_group=topics)
        self.create_subscription(String, start["instruction_topic"], self._on_instruction, latched,
                                 callback_group=topics)  # fmt: skip
        # The best grasp of every successful goal, for the retargeting node and RViz.
        self._grasp_pub = self.create_publisher(HandGrasp, start["grasps_topic"], 10)
        self._action_server = ActionServer(
            self, SynthesizeGrasp, start["action_name"], execute_callback=self._execute,
            goal_callback=self._on_goal, cancel_callback=self._on_cancel,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )  # fmt: skip
        self.get_logger().info(f"ready: action '{start['action_name']}', preset '{start['preset']}', "
                               f"device '{synthesizer.device}'")  # fmt: skip

    # -- topics -------------------------------------------------------------------------------
    def _on_cloud(self, msg: PointCloud2) -> None:
        with self._lock:
            self._latest_cloud = msg

    def _on_instruction(self, msg: String) -> None:
        with self._lock:
            self._latest_instruction = msg.data

    # -- action callbacks -------------------------------------------------------------------
    def _on_goal(self, goal: SynthesizeGrasp.Goal) -> GoalResponse:
        # Every goal is accepted so that it gets a result with an error code explaining
        # what is wrong with it; a rejection would tell the client nothing.
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        self.get_logger().info("cancel requested")
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle) -> SynthesizeGrasp.Result:
        started = time.monotonic()
        try:
            request, header = self._build_request(goal_handle.request)
            goal_handle.publish_feedback(feedback_msg("preprocess", 0.0, 0, float("nan")))
            output = self._synthesizer.synthesize(
                request,
                progress=lambda *args: goal_handle.publish_feedback(feedback_msg(*args)),
                should_cancel=lambda: goal_handle.is_cancel_requested,
            )
            result = result_msg(output, header, request.hand_model)
            if result.grasps:
                self._grasp_pub.publish(result.grasps[0])
        except GraspError as err:
            result = SynthesizeGrasp.Result(error_code=int(err.code), error_string=err.message)
        except Exception as err:  # noqa: BLE001 - a goal must never take the node down
            self.get_logger().error(f"internal error: {err!r}")
            result = SynthesizeGrasp.Result(error_code=int(ErrorCode.INTERNAL_ERROR),
                                            error_string=f"internal error: {err}")  # fmt: skip
        return self._finish(goal_handle, result, time.monotonic() - started)

    def _finish(self, goal_handle, result, seconds: float) -> SynthesizeGrasp.Result:
        code = ErrorCode(result.error_code)
        if code == ErrorCode.SUCCESS:
            goal_handle.succeed()
        elif code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        # Two call sites: rclpy fixes a log call's severity at its first use.
        if code == ErrorCode.SUCCESS:
            self.get_logger().info(f"goal finished in {seconds:.2f} s: {len(result.grasps)} grasp(s)")
        else:
            self.get_logger().warning(f"goal finished in {seconds:.2f} s: {code.name} {result.error_string}")
        return result

    def _build_request(self, goal: SynthesizeGrasp.Goal) -> tuple[SynthesisRequest, Header]:
        """The validated request, and the header its grasps carry (the cloud's stamp, the result's frame)."""
        with self._lock:
            cloud = goal.cloud if not is_empty(goal.cloud) else self._latest_cloud
            instruction = goal.instruction if goal.instruction.strip() else self._latest_instruction
        points = labels = None
        frame_id = ""
        if cloud is not None:
            try:
                arrays = cloud_to_arrays(cloud)
            except CloudFormatError as err:
                raise GraspError(ErrorCode.INVALID_GOAL, f"unreadable cloud: {err}") from err
            points, labels, frame_id = arrays.points, arrays.labels, arrays.frame_id
        names = tuple(n for n in self.get_parameter("label_names").value if n)
        raw = RawRequest(points=points, labels=labels, frame_id=frame_id, instruction=instruction,
                         object_category=goal.object_category, target_frame=goal.target_frame,
                         max_grasps=goal.max_grasps, hand_model=goal.hand_model, robot_hand=goal.robot_hand,
                         timeout=goal.timeout, part_names=names)  # fmt: skip
        request = validate_request(raw, P.request_defaults(self))
        if request.target_frame and request.target_frame != request.frame_id:
            # Move the cloud into the goal's target_frame, so every result is expressed there.
            R, t = lookup_rigid(self._tf_buffer, request.target_frame, request.frame_id)
            request.points = request.points @ R.T + t
            request.viewpoint = t  # the sensor (the cloud frame's origin) in the target frame
            request.frame_id = request.target_frame
        return request, Header(stamp=cloud.header.stamp, frame_id=request.frame_id)


def main(args=None) -> None:
    rclpy.init(args=args)
    # Bad parameter, device, backend or model path: a message and exit 1.
    node = construct_or_exit("grasp_synthesis_server", GraspSynthesisServer,
                             (GraspError, ValueError, OSError, ImportError))  # fmt: skip
    spin_until_shutdown(node, num_threads=4)


if __name__ == "__main__":
    main()
