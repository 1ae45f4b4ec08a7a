"""Node `grasp_input_node`: turns topics into SynthesizeGrasp goals, for systems that only publish topics.

Subscribes to `object_cloud` (PointCloud2, sensor-data QoS, the latest is kept) and `instruction`
(std_msgs/String, reliable, volatile: one latched before start-up is not answered unless
`use_latched_instruction`). Each new, non-empty instruction sends one goal with the latest cloud;
the text of the running goal, or of the last goal sent less than `debounce` s ago, is ignored; a
different text while a goal runs cancels it (CANCELED, "superseded") and sends the new one. No cloud
within `cloud_wait` s: NO_CLOUD; no server within `server_wait` s: NO_SERVER (no goal sent).
With `server_cloud`, goals go without a cloud (the server uses the clouds it received itself, fused
when its `fuse_views` > 1). Publishes every grasp of a successful result on `ranked_grasps`
(HandGrasp, best first), then one JSON line per instruction on `status` and in the log (with the
stage timings); feedback is logged at most once a second. Parameters: nodes/parameters.py
(GRASP_INPUT_PARAMETERS).
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass

from action_msgs.msg import GoalStatus
from gdexgrasp_msgs.action import SynthesizeGrasp
from gdexgrasp_msgs.msg import GraspArrangement, HandGrasp
from rclpy.action import ActionClient
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import String

from ..errors import ErrorCode
from ..request import MAX_GRASPS_LIMIT
from . import parameters as P
from .spin import construct_or_exit, init, shutdown_requested, spin_until_shutdown

FEEDBACK_LOG_PERIOD = 1.0  # seconds between two feedback log lines of a goal
CODE_NAMES = {int(c): c.name for c in ErrorCode}


@dataclass(eq=False)
class _Goal:
    instruction: str
    sent: float  # time.monotonic() when the goal was sent
    handle: object = None  # the ClientGoalHandle once accepted
    superseded: bool = False  # a newer instruction canceled it
    last_log: float = -math.inf  # last feedback log line

    def cancel(self) -> None:  # (the node's lock held) now, or as soon as the server has accepted it
        self.superseded = True
        self.handle is not None and self.handle.cancel_goal_async()


class GraspInputNode(Node):
    def __init__(self, **kwargs):
        super().__init__("grasp_input_node", **kwargs)
        start = P.declare(self, P.GRASP_INPUT_PARAMETERS)
        self._param = lambda name: self.get_parameter(name).value  # live parameters, read at each use
        self._lock = threading.Lock()
        self._cloud: PointCloud2 | None = None
        self._running: _Goal | None = None  # the goal whose result has not arrived
        self._last: _Goal | None = None  # the last goal sent (debounce)
        latched = start["use_latched_instruction"]
        instruction_qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL if latched else QoSDurabilityPolicy.VOLATILE)  # fmt: skip
        cloud_sub = self.create_subscription(PointCloud2, start["cloud_topic"], self._on_cloud, qos_profile_sensor_data,
                                             callback_group=ReentrantCallbackGroup())  # fmt: skip
        # Instructions one at a time (each may wait for a cloud and the server); the rest runs beside them.
        self.create_subscription(String, start["instruction_topic"], self._on_instruction, instruction_qos,
                                 callback_group=MutuallyExclusiveCallbackGroup())  # fmt: skip
        self._client = ActionClient(self, SynthesizeGrasp, start["action_name"], callback_group=ReentrantCallbackGroup())  # fmt: skip
        self._grasps_pub = self.create_publisher(HandGrasp, start["grasps_topic"], MAX_GRASPS_LIMIT)
        self._status_pub = self.create_publisher(String, start["status_topic"], 10)
        self._cloud_topic = cloud_sub.topic_name
        self._action = self.resolve_service_name(start["action_name"])
        self.get_logger().info(f"ready: instructions on '{self.resolve_topic_name(start['instruction_topic'])}' "
                               f"({'latched answered' if latched else 'new ones only'}), "
                               f"clouds on '{self._cloud_topic}', goals to '{self._action}'")  # fmt: skip

    def _on_cloud(self, msg: PointCloud2) -> None:
        self._cloud = msg  # one reference: older clouds are released

    def _on_instruction(self, msg: String) -> None:
        text, now = msg.data.strip(), time.monotonic()
        if not text:
            return
        with self._lock:
            if self._running is not None and not self._client.server_is_ready():
                self._running = None  # the server went away: its result will never come
            running, last = self._running, self._last
        debounce = self._param("debounce")
        same_as_running = running is not None and running.instruction == text
        if same_as_running or (last is not None and last.instruction == text and now - last.sent < debounce):
            why = "its goal is still running" if same_as_running else f"repeated within debounce ({debounce} s)"
            self.get_logger().info(f"ignored '{text}': {why}")
            return
        wait = self._param("cloud_wait")
        if not self._wait(lambda: self._cloud is not None, wait):
            self._report(text, now, "NO_CLOUD", f"no cloud received on '{self._cloud_topic}' within {wait} s "
                         "(is the camera publishing?)")  # fmt: skip
            return
        wait = self._param("server_wait")
        if not self._wait(self._client.server_is_ready, wait):
            self._report(text, now, "NO_SERVER", f"action server '{self._action}' not available after {wait} s "
                         "(is grasp_synthesis_server running and active?)")  # fmt: skip
            return
        p = self._param
        cloud = PointCloud2() if p("server_cloud") else self._cloud  # empty: the server's own (fused) clouds
        goal_msg = SynthesizeGrasp.Goal(cloud=cloud, instruction=text, object_category=p("object_category"),
                                        target_frame=p("target_frame"), max_grasps=p("max_grasps"),
                                        hand_model=p("hand_model"), robot_hand=p("robot_hand"), timeout=p("timeout"))  # fmt: skip
        goal = _Goal(text, time.monotonic())
        with self._lock:
            previous, self._running, self._last = self._running, goal, goal
            if previous is not None:
                previous.cancel()
        self.get_logger().info(f"sending goal '{text}'" + (f", canceling '{previous.instruction}'" if previous else ""))  # fmt: skip
        future = self._client.send_goal_async(goal_msg, feedback_callback=lambda fb: self._on_feedback(goal, fb))
        future.add_done_callback(lambda f: self._on_accepted(goal, f))

    def _wait(self, ready, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not ready():
            if time.monotonic() >= deadline or not self.context.ok() or shutdown_requested():
                return False
            time.sleep(0.05)
        return True

    def _on_accepted(self, goal: _Goal, future) -> None:
        handle = future.result()
        if not handle.accepted:
            self._done(goal)
            self._report(goal.instruction, goal.sent, "REJECTED", "the action server rejected the goal")
            return
        with self._lock:
            goal.handle = handle
            if goal.superseded:
                handle.cancel_goal_async()
        handle.get_result_async().add_done_callback(lambda f: self._on_result(goal, f))

    def _done(self, goal: _Goal) -> None:
        with self._lock:
            self._running = None if self._running is goal else self._running

    def _on_feedback(self, goal: _Goal, msg) -> None:
        now, fb = time.monotonic(), msg.feedback
        with self._lock:
            if now - goal.last_log < FEEDBACK_LOG_PERIOD:
                return
            goal.last_log = now
        self.get_logger().info(f"'{goal.instruction}': {fb.stage_name} {fb.progress:.0%}")

    def _on_result(self, goal: _Goal, future) -> None:
        r = future.result().result
        if future.result().status != GoalStatus.STATUS_SUCCEEDED and r.error_code == SynthesizeGrasp.Result.SUCCESS:
            r.error_code, r.error_string = SynthesizeGrasp.Result.INTERNAL_ERROR, "the goal ended without a result"
        self._done(goal)
        if r.error_code == SynthesizeGrasp.Result.SUCCESS and not goal.superseded:
            for grasp in r.grasps:  # best first
                self._grasps_pub.publish(grasp)
        error = r.error_string
        if goal.superseded:
            error += " (superseded by a newer instruction)" if error else "superseded: grasps not published"
        self._report(goal.instruction, goal.sent, CODE_NAMES.get(r.error_code, str(r.error_code)), error, r)

    def _report(self, instruction: str, started: float, code: str, error: str, result=None) -> None:
        """The status line of one instruction, on `status` and in the log."""
        if not self.context.ok():
            return
        r = result if result is not None else SynthesizeGrasp.Result(arrangement=GraspArrangement())
        score = r.grasps[0].quality.score if r.grasps else math.nan
        line = json.dumps({"instruction": instruction, "error_code": code, "error_string": error, "grasps": len(r.grasps),
                           "best_score": round(score, 4) if math.isfinite(score) else None,
                           "affordance": r.arrangement.affordance, "contact_part": r.arrangement.contact_part,
                           "seconds": round(time.monotonic() - started, 2),
                           "timings": {t.stage: round(t.seconds, 3) for t in r.timings}})  # fmt: skip
        self._status_pub.publish(String(data=line))
        # Separate call sites: rclpy fixes a log call's severity at its first use.
        if code == "SUCCESS":
            self.get_logger().info(line)
        elif result is None:  # no goal ran
            self.get_logger().error(line)
        else:
            self.get_logger().warning(line)

    def close(self) -> None:
        """Cancel the running goal (its client is going away), then destroy the node."""
        with self._lock:
            if self._running is not None and self.context.ok():
                self._running.cancel()
        self.destroy_node()


def main(args=None) -> None:
    init(args)  # rclpy.init; SIGINT / SIGTERM end the spin cleanly (spin.py)
    node = construct_or_exit("grasp_input_node", GraspInputNode, (P.ConfigurationError,))
    spin_until_shutdown(node, num_threads=4, close=node.close)


if __name__ == "__main__":
    main()
