"""Action server `synthesize_grasp` (gdexgrasp_msgs/action/SynthesizeGrasp).

Keeps the latest cloud and instruction from its topics, validates each goal, runs the
library's GraspSynthesizer and answers every goal with an error code: a failed goal
leaves the node ready for the next. Goals run one at a time (their own mutually
exclusive callback group); topics and cancel requests are served meanwhile by a
MultiThreadedExecutor.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from gdexgrasp_msgs.action import SynthesizeGrasp
from gdexgrasp_msgs.msg import HandGrasp, StageTiming
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.time import Time
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header, String

from ..errors import ErrorCode, GraspError
from ..objects.preprocess import PreprocessConfig
from ..pipeline import STAGES, GraspSynthesizer, SynthesizerConfig
from ..request import RawRequest, RequestDefaults, validate_request
from ..stage3.optimizer import OptimizerConfig
from .cloud_conversions import CloudFormatError, cloud_to_arrays, is_empty
from .grasp_conversions import arrangement_msg, hand_grasp_msg
from .spin import construct_or_exit, spin_until_shutdown


class GraspSynthesisServer(Node):
    def __init__(self, synthesizer: GraspSynthesizer | None = None, **kwargs):
        super().__init__("grasp_synthesis_server", **kwargs)
        self.declare_parameter("cloud_topic", "object_cloud")
        self.declare_parameter("instruction_topic", "instruction")
        self.declare_parameter("action_name", "synthesize_grasp")
        self.declare_parameter("max_grasps", 5)
        self.declare_parameter("goal_timeout", 120.0)
        self.declare_parameter("hand_model", "open_hand")
        self.declare_parameter("robot_hand", "leap_hand")
        self.declare_parameter("robot_hands", ["leap_hand", "allegro_hand"])
        self.declare_parameter("device", "auto")
        self.declare_parameter("mano_model_path", "")
        self.declare_parameter("cpu_threads", 1)
        self.declare_parameter("num_candidates", 8)
        self.declare_parameter("iterations_a", 700)
        self.declare_parameter("iterations_b", 700)
        self.declare_parameter("preprocess", True)
        self.declare_parameter("analyzer", "offline")
        self.declare_parameter("localizer", "geometric")
        self.declare_parameter("label_names", [""])
        self.declare_parameter("analyzer_model", "")
        self.declare_parameter("analyzer_base_url", "")
        self.declare_parameter("analyzer_api_key_env", "OPENAI_API_KEY")
        self.declare_parameter("analyzer_timeout", 20.0)
        self.declare_parameter("analyzer_model_path", "")
        self.declare_parameter("localizer_model_path", "")
        self.declare_parameter("localizer_points", 2048)
        self.declare_parameter("millimetres", "error")
        self.declare_parameter("target_selection", "largest")
        self.declare_parameter("grasps_topic", "grasp")

        self._lock = threading.Lock()
        self._latest_cloud: PointCloud2 | None = None
        self._latest_instruction: str | None = None
        if synthesizer is None:
            synthesizer = GraspSynthesizer(self._synthesizer_config())
            synthesizer.load_components()  # a bad backend or model path fails here, not at the first goal
        self._synthesizer = synthesizer
        self._tf_buffer = _tf_buffer(self)

        topics = ReentrantCallbackGroup()
        goals = MutuallyExclusiveCallbackGroup()
        # Latched instruction: a planner may publish it once before the cloud arrives.
        latched = QoSProfile(
            depth=1,
            durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
            reliability=QoSReliabilityPolicy.RELIABLE,
        )
        self.create_subscription(PointCloud2, self._param("cloud_topic"), self._on_cloud, 1, callback_group=topics)
        self.create_subscription(
            String, self._param("instruction_topic"), self._on_instruction, latched, callback_group=topics
        )
        # The best grasp of every successful goal, for the retargeting node and RViz.
        self._grasp_pub = self.create_publisher(HandGrasp, self._param("grasps_topic"), 10)
        self._action_server = ActionServer(
            self,
            SynthesizeGrasp,
            self._param("action_name"),
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
            callback_group=goals,
        )
        self.get_logger().info(f"ready: action '{self._param('action_name')}' on device '{self._param('device')}'")

    def _param(self, name: str):
        return self.get_parameter(name).value

    def _synthesizer_config(self) -> SynthesizerConfig:
        analyzer, localizer = self._param("analyzer"), self._param("localizer")
        analyzer_options: dict = {}
        if analyzer == "openai":
            analyzer_options = {"api_key_env": self._param("analyzer_api_key_env"),
                                "timeout": self._param("analyzer_timeout")}  # fmt: skip
            if self._param("analyzer_model"):
                analyzer_options["model"] = self._param("analyzer_model")
            if self._param("analyzer_base_url"):
                analyzer_options["base_url"] = self._param("analyzer_base_url")
        elif analyzer == "transformers" and self._param("analyzer_model_path"):
            analyzer_options = {"model_path": self._param("analyzer_model_path")}
        localizer_options = {}
        if localizer == "detector" and self._param("localizer_model_path"):
            localizer_options = {"model_path": self._param("localizer_model_path")}
        return SynthesizerConfig(
            analyzer_options=analyzer_options,
            localizer_options=localizer_options,
            preprocess_config=PreprocessConfig(
                millimetres=self._param("millimetres"), target=self._param("target_selection")
            ),  # fmt: skip
            device=self._param("device"),
            cpu_threads=self._param("cpu_threads"),
            num_candidates=self._param("num_candidates"),
            preprocess=self._param("preprocess"),
            analyzer=self._param("analyzer"),
            localizer=self._param("localizer"),
            localizer_points=self._param("localizer_points"),
            optimizer=OptimizerConfig(
                iterations_a=self._param("iterations_a"), iterations_b=self._param("iterations_b")
            ),
            mano_model_path=self._param("mano_model_path"),
        )

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
        goal = goal_handle.request
        result = SynthesizeGrasp.Result()
        try:
            request = self._build_request(goal)
            self._feedback(goal_handle, "preprocess", 0.0, 0, float("nan"))
            output = self._synthesizer.synthesize(
                request,
                progress=lambda stage, frac, live, loss: self._feedback(goal_handle, stage, frac, live, loss),
                should_cancel=lambda: goal_handle.is_cancel_requested,
            )
            # The grasps refer to the object as the cloud saw it: its stamp, the request's frame.
            stamp = request.extras.get("stamp") or self.get_clock().now().to_msg()
            header = Header(stamp=stamp, frame_id=request.frame_id)
            result.arrangement = arrangement_msg(output.arrangement)
            result.grasps = [hand_grasp_msg(g, i, header, output.arrangement, request.hand_model)
                             for i, g in enumerate(output.grasps)]  # fmt: skip
            result.timings = [StageTiming(stage=k, seconds=float(v)) for k, v in output.timings.items()]
            result.error_code = int(ErrorCode.SUCCESS)
            if result.grasps:
                self._grasp_pub.publish(result.grasps[0])
        except GraspError as err:
            result.error_code = int(err.code)
            result.error_string = err.message
        except Exception as err:  # noqa: BLE001 - a goal must never take the node down
            self.get_logger().error(f"internal error: {err!r}")
            result.error_code = int(ErrorCode.INTERNAL_ERROR)
            result.error_string = f"internal error: {err}"
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

    def _build_request(self, goal: SynthesizeGrasp.Goal):
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
        raw = RawRequest(
            points=points,
            labels=labels,
            frame_id=frame_id,
            instruction=instruction,
            object_category=goal.object_category,
            target_frame=goal.target_frame,
            max_grasps=goal.max_grasps,
            hand_model=goal.hand_model,
            robot_hand=goal.robot_hand,
            timeout=goal.timeout,
        )
        defaults = RequestDefaults(
            max_grasps=self._param("max_grasps"),
            hand_model=self._param("hand_model"),
            robot_hand=self._param("robot_hand"),
            timeout=self._param("goal_timeout"),
            robot_hands=tuple(self._param("robot_hands")),
        )
        request = validate_request(raw, defaults)
        request.extras["stamp"] = cloud.header.stamp
        if request.target_frame and request.target_frame != request.frame_id:
            self._express_in_target_frame(request)
        names = [n for n in self._param("label_names") if n]
        if names:
            request.extras["part_names"] = names
        return request

    def _express_in_target_frame(self, request) -> None:
        """Move the cloud into the goal's target_frame (tf2), so every result is expressed there."""
        if self._tf_buffer is None:
            raise GraspError(ErrorCode.TRANSFORM_FAILED,
                             f"cannot express the result in '{request.target_frame}': tf2_ros is not available "
                             "(ROS 2 from PyPI wheels); leave target_frame empty to get the cloud's frame")  # fmt: skip
        try:
            tf = self._tf_buffer.lookup_transform(request.target_frame, request.frame_id, Time(),
                                                  timeout=Duration(seconds=1.0))  # fmt: skip
        except Exception as err:  # noqa: BLE001 - tf2 raises several exception types
            raise GraspError(ErrorCode.TRANSFORM_FAILED,
                             f"no transform from '{request.frame_id}' to '{request.target_frame}': {err}") from err  # fmt: skip
        q, p = tf.transform.rotation, tf.transform.translation
        R = Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix()
        t = np.array([p.x, p.y, p.z])
        request.points = request.points @ R.T + t
        request.extras["viewpoint"] = t  # the sensor (the cloud frame's origin) in the target frame
        request.frame_id = request.target_frame

    def _feedback(self, goal_handle, stage: str, progress: float, live: int, best_loss: float) -> None:
        fb = SynthesizeGrasp.Feedback()
        fb.stage = STAGES.index(stage) if stage in STAGES else 0
        fb.stage_name = stage
        fb.progress = float(progress)
        fb.live_candidates = int(live)
        fb.best_loss = float(best_loss)
        goal_handle.publish_feedback(fb)


def _tf_buffer(node: Node):
    """A tf2 buffer + listener, or None when tf2_ros is not importable (ROS 2 from PyPI wheels)."""
    try:
        from tf2_ros import Buffer, TransformListener
    except ImportError:
        node.get_logger().info("tf2_ros is not importable: goals with a target_frame get TRANSFORM_FAILED")
        return None
    buffer = Buffer()
    node._tf_listener = TransformListener(buffer, node)
    return buffer


def main(args=None) -> None:
    rclpy.init(args=args)
    # Bad device, backend or model path: a message and exit 1.
    node = construct_or_exit(
        "grasp_synthesis_server", GraspSynthesisServer, (GraspError, ValueError, OSError, ImportError)
    )
    spin_until_shutdown(node, num_threads=4)


if __name__ == "__main__":
    main()
