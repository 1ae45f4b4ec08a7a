"""The server over DDS: its lifecycle transitions, and the goal policy with three concurrent clients."""

import threading
import time
import uuid

import numpy as np
import pytest
from conftest import ROOT
from gdexgrasp_msgs.action import SynthesizeGrasp
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.action import ActionClient
from ros_helpers import close_spinning, spinning_node, start_node, wait_for
from std_msgs.msg import Header

from gdexgrasp_ros.demo import INSTRUCTION, default_scene
from gdexgrasp_ros.nodes.cloud_conversions import arrays_to_cloud

R = SynthesizeGrasp.Result


@pytest.fixture(scope="module")
def graph():
    """A server started unconfigured (autostart false) and a client node with three action clients."""
    ns = f"/gdexgrasp_policy_{uuid.uuid4().hex[:8]}"
    server = start_node("gdexgrasp_ros.nodes.grasp_synthesis_server", ns, str(ROOT / "config" / "gdexgrasp.yaml"),
                        ["-p", "autostart:=false", "-p", "iterations_a:=150", "-p", "iterations_b:=150",
                         "-p", "robot_hand:=none", "-p", "max_queued_goals:=2"])  # fmt: skip
    node, executor = spinning_node("policy_client", ns, threads=3)
    clients = [ActionClient(node, SynthesizeGrasp, "synthesize_grasp") for _ in range(3)]
    yield node, clients, server
    close_spinning(node, executor, server)


def _call(node, srv_type, name, request, server, timeout=60.0):
    client = node.create_client(srv_type, name)
    wait_for(lambda: client.service_is_ready(), 60.0, name, server)
    future = client.call_async(request)
    wait_for(future.done, timeout, f"{name} answer", server)
    return future.result()


def _transition(node, server, transition_id):
    req = ChangeState.Request(transition=Transition(id=transition_id))
    return _call(node, ChangeState, "grasp_synthesis_server/change_state", req, server, timeout=120.0).success


def _state(node, server) -> str:
    return _call(node, GetState, "grasp_synthesis_server/get_state", GetState.Request(), server).current_state.label


def _set_policy(node, server, policy: str):
    value = ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=policy)
    req = SetParameters.Request(parameters=[Parameter(name="goal_policy", value=value)])
    assert _call(node, SetParameters, "grasp_synthesis_server/set_parameters", req, server).results[0].successful


def _goal():
    s = default_scene()
    cloud = arrays_to_cloud(s.cloud.points, Header(frame_id="camera_optical_frame"),
                            np.where(s.cloud.object_index == 0, s.cloud.part_ids, -1))  # fmt: skip
    return SynthesizeGrasp.Goal(cloud=cloud, instruction=INSTRUCTION, object_category="kettle", max_grasps=1)


def _send_all(clients, goal, server, gap=0.3):
    """Send one goal per client, `gap` s apart; returns [(result, started_at, finished_at)] in sending
    order: when its first feedback (the server started executing it) and its result arrived."""
    handles, started, finished = [], [], []
    for c in clients:
        wait_for(c.server_is_ready, 60.0, "the action server", server)
        first = []
        fut = c.send_goal_async(
            goal, feedback_callback=lambda _fb, first=first: first or first.append(time.monotonic())
        )
        wait_for(fut.done, 30.0, "goal acceptance", server)
        handles.append(fut.result())
        result = fut.result().get_result_async()
        done = []
        result.add_done_callback(lambda _f, done=done: done.append(time.monotonic()))
        started.append(first)
        finished.append((result, done))
        time.sleep(gap)
    out = []
    for first, (result, done) in zip(started, finished, strict=True):
        wait_for(lambda done=done: done, 300.0, "a result", server)
        out.append((result.result().result, first[0] if first else None, done[0]))
    return out


def test_lifecycle_transitions_gate_the_goals(graph):
    node, clients, server = graph
    assert _state(node, server) == "unconfigured"
    assert _transition(node, server, Transition.TRANSITION_CONFIGURE)
    assert _state(node, server) == "inactive"
    ((res, _, _),) = _send_all(clients[:1], SynthesizeGrasp.Goal(instruction="hold it"), server)
    assert res.error_code == R.NOT_ACTIVE and "activate" in res.error_string
    assert _transition(node, server, Transition.TRANSITION_ACTIVATE)
    ((res, _, _),) = _send_all(clients[:1], SynthesizeGrasp.Goal(instruction="hold it"), server)
    assert res.error_code == R.NO_CLOUD, "an active server validates and answers goals"
    assert _transition(node, server, Transition.TRANSITION_DEACTIVATE)
    assert _transition(node, server, Transition.TRANSITION_CLEANUP)  # frees the models and the action server
    assert _state(node, server) == "unconfigured"
    assert _transition(node, server, Transition.TRANSITION_CONFIGURE)
    assert _transition(node, server, Transition.TRANSITION_ACTIVATE)
    assert _state(node, server) == "active"


def test_queue_runs_three_clients_one_at_a_time_in_order(graph):
    node, clients, server = graph
    _set_policy(node, server, "queue")
    out = _send_all(clients, _goal(), server)
    assert [r.error_code for r, _, _ in out] == [R.SUCCESS] * 3, [r.error_string for r, _, _ in out]
    finished = [t for _, _, t in out]
    assert finished == sorted(finished), "queued goals finish in arrival order"
    # One at a time: a queued goal starts executing (its first feedback) only after the previous result.
    for (_, _, previous_done), (_, started, _) in zip(out, out[1:], strict=False):
        assert started is not None and started >= previous_done - 0.05, (started, previous_done)


def test_reject_answers_busy_while_a_goal_runs(graph):
    node, clients, server = graph
    _set_policy(node, server, "reject")
    codes = [r.error_code for r, _, _ in _send_all(clients, _goal(), server)]
    assert codes == [R.SUCCESS, R.BUSY, R.BUSY], codes


class _Goal:
    """One goal in flight: its handle, result and when the server began optimizing it."""

    def __init__(self, client, goal, server):
        self.optimizing = threading.Event()
        wait_for(client.server_is_ready, 60.0, "the action server", server)
        fut = client.send_goal_async(goal, feedback_callback=self._feedback)
        wait_for(fut.done, 30.0, "goal acceptance", server)
        self.handle, self.server = fut.result(), server
        self.result = self.handle.get_result_async()

    def _feedback(self, fb):
        if fb.feedback.stage_name == "optimization":
            self.optimizing.set()

    def wait_optimizing(self):
        wait_for(self.optimizing.is_set, 120.0, "the optimization stage", self.server)
        return self

    def outcome(self):
        wait_for(self.result.done, 300.0, "a result", self.server)
        return self.result.result().result


def test_preempt_cancels_the_running_goal_and_answers_older_waiting_ones_busy(graph):
    node, clients, server = graph
    _set_policy(node, server, "preempt")
    first = _Goal(clients[0], _goal(), server).wait_optimizing()
    second, third = _Goal(clients[1], _goal(), server), _Goal(clients[2], _goal(), server)
    a, b, c = first.outcome(), second.outcome(), third.outcome()
    assert a.error_code == R.CANCELED and "preempted" in a.error_string
    assert {t.stage for t in a.timings} >= {"preprocess", "optimization"}, "a stopped goal reports its stages"
    assert b.error_code in (R.BUSY, R.CANCELED), "only the newest goal runs to the end"
    assert c.error_code == R.SUCCESS, c.error_string


def test_a_waiting_goal_canceled_by_its_client_ends_at_once(graph):
    node, clients, server = graph
    _set_policy(node, server, "queue")
    running = _Goal(clients[0], _goal(), server).wait_optimizing()
    waiting = _Goal(clients[1], _goal(), server)
    waiting.handle.cancel_goal_async()
    res = waiting.outcome()
    assert res.error_code == R.CANCELED and "waiting" in res.error_string
    assert not running.result.done(), "answered while the running goal still runs"
    assert running.outcome().error_code == R.SUCCESS


def test_cleanup_is_refused_while_a_goal_runs(graph):
    node, clients, server = graph
    running = _Goal(clients[0], _goal(), server).wait_optimizing()
    assert _transition(node, server, Transition.TRANSITION_DEACTIVATE)
    assert not _transition(node, server, Transition.TRANSITION_CLEANUP), "its models are in use"
    assert running.outcome().error_code == R.SUCCESS, "a goal already running finishes after deactivate"
    assert _transition(node, server, Transition.TRANSITION_CLEANUP)
    assert _state(node, server) == "unconfigured"
