"""A real action round trip over DDS: the server runs in its own process."""

import threading
import uuid

import numpy as np
import pytest
import rclpy
from action_msgs.msg import GoalStatus
from conftest import ROOT
from gdexgrasp_msgs.action import SynthesizeGrasp
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from ros_helpers import server_start_log, start_node, stop_node, wait_for
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header, String

from gdexgrasp_ros.nodes.cloud_conversions import arrays_to_cloud

R = SynthesizeGrasp.Result


@pytest.fixture(scope="module")
def client():
    ns = f"/gdexgrasp_test_{uuid.uuid4().hex[:8]}"
    server = start_node("gdexgrasp_ros.nodes.grasp_synthesis_server", ns, str(ROOT / "config" / "gdexgrasp.yaml"))
    rclpy.init()
    node = rclpy.create_node("test_client", namespace=ns)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    action = ActionClient(node, SynthesizeGrasp, "synthesize_grasp")
    wait_for(lambda: action.server_is_ready(), 30.0, "the action server", server)
    yield node, action, server
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown()
    log = stop_node(server)
    assert "Traceback" not in log, log


def _send(action, goal, timeout=30.0, feedback=None):
    fut = action.send_goal_async(goal, feedback_callback=feedback)
    wait_for(fut.done, timeout, "goal acceptance")
    handle = fut.result()
    assert handle.accepted
    res_fut = handle.get_result_async()
    wait_for(res_fut.done, timeout, "the result")
    return res_fut.result()


def _cloud(points, frame="camera"):
    return arrays_to_cloud(points, Header(frame_id=frame))


def _points():
    return np.random.default_rng(0).uniform(-0.05, 0.05, size=(500, 3))


def test_empty_instruction_without_latest_is_no_instruction(client):
    _, action, _ = client
    out = _send(action, SynthesizeGrasp.Goal(cloud=_cloud(_points()), instruction=""))
    assert out.status == GoalStatus.STATUS_ABORTED
    assert out.result.error_code == R.NO_INSTRUCTION
    assert "instruction" in out.result.error_string


def test_empty_cloud_without_latest_is_no_cloud(client):
    _, action, _ = client
    out = _send(action, SynthesizeGrasp.Goal(instruction="hold the mug by its handle"))
    assert out.result.error_code == R.NO_CLOUD


def test_all_nan_cloud_is_empty_cloud(client):
    _, action, _ = client
    out = _send(action, SynthesizeGrasp.Goal(cloud=_cloud(np.full((20, 3), np.nan)), instruction="hold it"))
    assert out.result.error_code == R.EMPTY_CLOUD


def test_bad_goal_fields_are_invalid_goal(client):
    _, action, _ = client
    bad_cloud = _cloud(_points())
    bad_cloud.fields = bad_cloud.fields[:2]
    for goal in (
        SynthesizeGrasp.Goal(cloud=bad_cloud, instruction="hold it"),
        SynthesizeGrasp.Goal(cloud=_cloud(_points()), instruction="hold it", timeout=-3.0),
        SynthesizeGrasp.Goal(cloud=_cloud(_points()), instruction="hold it", hand_model="robotiq"),
    ):
        out = _send(action, goal)
        assert out.result.error_code == R.INVALID_GOAL, out.result.error_string


def test_latest_topic_values_are_used_and_node_stays_ready(client):
    node, action, server = client
    latched = QoSProfile(
        depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL, reliability=QoSReliabilityPolicy.RELIABLE
    )
    ipub = node.create_publisher(String, "instruction", latched)
    cpub = node.create_publisher(PointCloud2, "object_cloud", 1)
    ipub.publish(String(data="could you hold the kettle to pour some tea?"))
    wait_for(lambda: cpub.get_subscription_count() > 0, 10.0, "the cloud subscription", server)
    feedback = []
    # Publish the cloud until a goal with neither cloud nor instruction gets past validation.
    codes = []
    for _ in range(20):
        cpub.publish(_cloud(_points()))
        # A full goal (700 + 700 iterations): on a loaded 2-core machine it can take over 30 s.
        out = _send(action, SynthesizeGrasp.Goal(), timeout=120.0, feedback=feedback.append)
        codes.append(out.result.error_code)
        if out.result.error_code not in (R.NO_CLOUD, R.NO_INSTRUCTION):
            break
    assert codes[-1] not in (R.NO_CLOUD, R.NO_INSTRUCTION), codes
    assert any(f.feedback.stage_name == "preprocess" for f in feedback)
    assert server.poll() is None, "the server must survive every failed goal"


def test_target_frame_without_tf2_is_transform_failed(client):
    _, action, _ = client
    out = _send(action, SynthesizeGrasp.Goal(cloud=_cloud(_points()), instruction="hold it", target_frame="base_link"))
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        assert out.result.error_code == R.TRANSFORM_FAILED and "base_link" in out.result.error_string
    else:  # with tf2 but no transform published
        assert out.result.error_code == R.TRANSFORM_FAILED


def test_a_bad_device_parameter_stops_the_server_with_a_message():
    rc, log = server_start_log(["-p", "device:=gpu"])
    assert rc == 1 and "device must be" in log and "Traceback" not in log, log


def test_missing_model_files_stop_the_server_at_start_up_with_a_message(tmp_path):
    rc, log = server_start_log(["-p", f"cvae_weights:={tmp_path / 'none.safetensors'}"])
    assert rc == 1 and "no CVAE weights" in log and "Traceback" not in log, log
    rc, log = server_start_log(["-p", f"prior_database:={tmp_path / 'none.npz'}"])
    assert rc == 1 and "no prior database" in log and "Traceback" not in log, log
