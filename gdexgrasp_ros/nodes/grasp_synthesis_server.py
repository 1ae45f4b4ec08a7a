"""Action server `synthesize_grasp` (gdexgrasp_msgs/action/SynthesizeGrasp), a managed lifecycle node.

configure builds the synthesizer (models), subscriptions, publisher and action server; activate
serves goals (before: NOT_ACTIVE); cleanup releases what configure built. `autostart` (default)
configures and activates at start; the launchers set it false and drive the transitions (Nav2 /
yolo_ros convention). Every goal is answered with an error code and leaves the node ready for the
next; one executes at a time and `goal_policy` queues, rejects or preempts the others
(goal_scheduler.py). Parameters: nodes/parameters.py (SERVER_PARAMETERS).
"""

from __future__ import annotations

import threading
import time
from functools import partial

from gdexgrasp_msgs.action import SynthesizeGrasp
from gdexgrasp_msgs.msg import HandGrasp
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from ..errors import ErrorCode, GraspError
from ..pipeline import GraspSynthesizer
from . import parameters as P
from .cloud_fusion import CloudHistory
from .goal_request import goal_request
from .goal_scheduler import GoalScheduler
from .grasp_conversions import failure_msg, feedback_msg, result_msg
from .spin import construct_or_exit, init, shutdown_requested, spin_until_shutdown
from .tf_helpers import tf_buffer

OK, FAIL = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class GraspSynthesisServer(LifecycleNode):
    def __init__(self, synthesizer: GraspSynthesizer | None = None, **kwargs):
        super().__init__("grasp_synthesis_server", **kwargs)
        self._start = P.declare(self, P.SERVER_PARAMETERS, P.server_cross_check)
        self._injected, self._synthesizer, self._active, self._error, self._entities = synthesizer, None, False, "", []
        self._lock = threading.Lock()
        self._latest_instruction = None  # the last String on the instruction topic
        self._clouds = CloudHistory()  # the last PointCloud2s on the cloud topic (fuse_views of them)
        p = lambda name: self.get_parameter(name).value  # noqa: E731
        self._scheduler = GoalScheduler(lambda: p("goal_policy"), lambda: p("max_queued_goals"))
        if self._start["autostart"]:
            self.trigger_configure()
            if self._synthesizer is None:
                raise P.ConfigurationError(self._error)  # exits 1 with the reason (construct_or_exit)
            self.trigger_activate()

    # -- lifecycle ------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        s = self._start
        try:
            synthesizer = self._injected or GraspSynthesizer(P.synthesizer_config(s))
            synthesizer.load_components()  # a bad backend or model path fails here, not at the first goal
        except (GraspError, ValueError, OSError, ImportError) as err:
            self._error = f"cannot configure: {err}"
            self.get_logger().error(self._error)
            return FAIL
        self._synthesizer, self._tf_buffer = synthesizer, tf_buffer(self)
        topics = ReentrantCallbackGroup()
        # Instructions from latched (transient-local) publishers, e.g. a planner that publishes once
        # before the cloud arrives, and from ordinary (volatile) ones: each kind needs its own
        # subscription. Clouds with sensor-data QoS (best effort) match every camera driver.
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=QoSReliabilityPolicy.RELIABLE)  # fmt: skip
        self._grasp_pub = self.create_publisher(HandGrasp, s["grasps_topic"], 10)
        text = partial(self._keep, "_latest_instruction")
        self._entities = [
            self.create_subscription(PointCloud2, s["cloud_topic"], self._on_cloud, qos_profile_sensor_data,
                                     callback_group=topics),
            self.create_subscription(String, s["instruction_topic"], text, 10, callback_group=topics),
            # A volatile publisher cannot feed this one: that is expected, not worth a warning each time.
            self.create_subscription(String, s["instruction_topic"], text, latched, callback_group=topics,
                                     event_callbacks=SubscriptionEventCallbacks(incompatible_qos=lambda _e: None)),
            ActionServer(self, SynthesizeGrasp, s["action_name"], execute_callback=self._execute,
                         goal_callback=lambda _goal: GoalResponse.ACCEPT,  # every goal gets a coded result
                         handle_accepted_callback=self._scheduler.accepted, cancel_callback=self._on_cancel,
                         callback_group=ReentrantCallbackGroup(), result_timeout=int(s["result_timeout"])),
        ]  # fmt: skip
        self.get_logger().info(f"configured: preset '{s['preset']}', device '{synthesizer.device}'")
        return OK

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self.get_logger().info(f"ready: action '{self._start['action_name']}' ({self._start['goal_policy']} policy)")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._scheduler.busy():  # its models and action server are in use: refuse, say why
            self.get_logger().error("cannot clean up while a goal runs: cancel it or wait for it")
            return FAIL
        self._release()
        return OK

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._release()
        return OK

    def _release(self) -> None:  # what configure built: the action server, the subscriptions, the models
        for entity in self._entities:
            entity.destroy() if isinstance(entity, ActionServer) else self.destroy_subscription(entity)
        if self._entities:
            self.destroy_publisher(self._grasp_pub)
        self._entities, self._synthesizer = [], None
        with self._lock:
            self._latest_instruction = None
        self._clouds.clear()

    def _keep(self, name: str, value) -> None:  # the latest instruction, for goals that leave it empty
        with self._lock:
            setattr(self, name, value)

    def _on_cloud(self, msg: PointCloud2) -> None:  # the latest clouds, for goals that leave theirs empty
        if self._entities:  # not after cleanup began (a callback already running must not refill it)
            self._clouds.add(msg, self.get_parameter("fuse_views").value)

    # -- the action ---------------------------------------------------------------------------
    def _on_cancel(self, goal_handle) -> CancelResponse:
        queued = self._scheduler.withdraw(goal_handle)  # a waiting goal ends now, not after the running one
        self.get_logger().info("cancel requested" + (" (the goal was waiting)" if queued else ""))
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle) -> SynthesizeGrasp.Result:
        received = time.monotonic()
        if self._scheduler.turned_away(goal_handle):
            policy = self.get_parameter("goal_policy").value
            return self._finish(goal_handle, failure_msg(GraspError(ErrorCode.BUSY, f"another goal is running "
                                f"(goal_policy {policy}, {self._scheduler.waiting()} waiting)")), 0.0)  # fmt: skip
        if self._scheduler.withdrawn(goal_handle):
            return self._finish(goal_handle, failure_msg(GraspError(ErrorCode.CANCELED, "canceled while waiting")), 0.0)
        try:  # the result is set before the next goal starts (one at a time, also for the clients)
            return self._finish(goal_handle, self._run(goal_handle, received), time.monotonic() - received)
        finally:
            # rclpy keeps the goal (with its cloud, MBs) until result_timeout; the cloud is not needed now.
            goal_handle.request.cloud = PointCloud2()
            self._scheduler.finished(goal_handle)

    def _run(self, goal_handle, received: float) -> SynthesizeGrasp.Result:
        synthesizer = self._synthesizer
        if not self._active or synthesizer is None:
            return failure_msg(GraspError(ErrorCode.NOT_ACTIVE, "the server is not active; activate it first"))
        try:
            p = lambda name: self.get_parameter(name).value  # noqa: E731
            with self._lock:
                text = self._latest_instruction
            clouds = self._clouds.recent(p("fuse_views"), p("fuse_window"))
            names = tuple(n for n in p("label_names") if n)
            goal_handle.publish_feedback(feedback_msg("preprocess", 0.0, 0, float("nan")))  # fusing views takes a while
            request, header = goal_request(goal_handle.request, clouds, None if text is None else text.data, names,
                                           P.request_defaults(self), self._tf_buffer, received, p("fuse_frame"))  # fmt: skip
            output = synthesizer.synthesize(
                request,
                progress=lambda *args: goal_handle.publish_feedback(feedback_msg(*args)),
                should_cancel=lambda: (
                    goal_handle.is_cancel_requested or self._scheduler.preempted(goal_handle) or shutdown_requested()
                ),
            )
            result = result_msg(output, header, request.hand_model)
            if result.grasps:
                self._grasp_pub.publish(result.grasps[0])
            return result
        except GraspError as err:
            if err.code == ErrorCode.CANCELED and self._scheduler.preempted(goal_handle):
                err.message = f"preempted by a newer goal ({err.message})"
            return failure_msg(err)
        except Exception as err:  # noqa: BLE001 - a goal must never take the node down
            self.get_logger().error(f"internal error: {err!r}")
            return failure_msg(GraspError(ErrorCode.INTERNAL_ERROR, f"internal error: {err}"))

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


def main(args=None) -> None:
    init(args)  # rclpy.init; SIGINT / SIGTERM end the spin cleanly, a running goal is canceled (spin.py)
    # Bad parameter, device, backend or model path: a message and exit 1.
    node = construct_or_exit("grasp_synthesis_server", GraspSynthesisServer,
                             (GraspError, ValueError, OSError, ImportError))  # fmt: skip
    spin_until_shutdown(node, num_threads=4)


if __name__ == "__main__":
    main()
