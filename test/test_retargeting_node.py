"""The retargeting node in its own process, fed HandGrasp messages over DDS by a real publisher."""

import threading
import uuid

import numpy as np
import pytest
import rclpy
from conftest import ROOT
from gdexgrasp_msgs.msg import HandGrasp
from geometry_msgs.msg import Point, PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from ros_helpers import start_node, stop_node, wait_for
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import JointState
from std_msgs.msg import Header, String
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from gdexgrasp_ros.hand.open_hand import JOINT_NAMES
from gdexgrasp_ros.hand.postures import canonical_posture
from gdexgrasp_ros.nodes.cloud_conversions import arrays_to_cloud
from gdexgrasp_ros.retarget.retargeter import load_retargeter
from gdexgrasp_ros.viz.scene_render import human_hand

PARAMS = str(ROOT / "config" / "gdexgrasp.yaml")


def _wrist():
    W = np.eye(4)
    W[:3, :3] = Rotation.from_euler("xyz", [0.2, -0.4, 1.0]).as_matrix()
    W[:3, 3] = [0.3, -0.1, 0.5]
    return W


def _grasp(gid: str, posture: str = "handle-grip") -> tuple[HandGrasp, np.ndarray, np.ndarray]:
    W, q = _wrist(), canonical_posture(posture)
    _, _, kp = human_hand(q, W)
    msg = HandGrasp(id=gid, hand_model="open_hand", joint_names=list(JOINT_NAMES), joint_positions=q.tolist(),
                    affordance=posture, contact_part="handle")  # fmt: skip
    msg.header = Header(frame_id="object")
    msg.keypoints = [Point(x=float(a), y=float(b), z=float(c)) for a, b, c in kp]
    msg.contact_points = [msg.keypoints[i] for i in (4, 8, 12)]
    x, y, z, w = Rotation.from_matrix(W[:3, :3]).as_quat()
    p, o = msg.wrist_pose.position, msg.wrist_pose.orientation
    p.x, p.y, p.z = (float(v) for v in W[:3, 3])
    o.x, o.y, o.z, o.w = float(x), float(y), float(z), float(w)
    return msg, kp, W


class Probe:
    """A test node holding the latest message of each of the retargeting node's outputs."""

    def __init__(self, ns: str):
        self.node = rclpy.create_node("retargeting_probe", namespace=ns)
        self.got: dict[str, list] = {}
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=QoSReliabilityPolicy.RELIABLE)  # fmt: skip
        for kind, topic, qos in ((JointState, "joint_states", 10), (JointTrajectory, "hand_trajectory", 10),
                                 (PoseStamped, "robot_wrist_pose", 10), (MarkerArray, "markers", 10),
                                 (HandGrasp, "retargeted_grasp", 10), (String, "robot_description", latched)):  # fmt: skip
            self.node.create_subscription(kind, topic, lambda m, t=topic: self.got.setdefault(t, []).append(m), qos)
        self.grasps = self.node.create_publisher(HandGrasp, "grasp", 10)
        self.cloud = self.node.create_publisher(type(arrays_to_cloud(np.zeros((1, 3)))), "object_cloud", 1)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def count(self, topic: str) -> int:
        return len(self.got.get(topic, []))

    def latest(self, topic: str):
        return self.got[topic][-1]


@pytest.fixture(scope="module")
def running():
    human_hand(canonical_posture("twist"))  # build this process's hand first: 2 cores, two mesh builds at once crawl
    ns = f"/gdexgrasp_retarget_{uuid.uuid4().hex[:8]}"
    proc = start_node("gdexgrasp_ros.nodes.retargeting_node", ns, PARAMS)
    rclpy.init()
    probe = Probe(ns)
    wait_for(lambda: probe.grasps.get_subscription_count() > 0, 30.0, "the grasp subscription", proc)
    yield probe, proc
    probe.executor.shutdown()
    probe.node.destroy_node()
    rclpy.shutdown()
    stop_node(proc)


def _send_and_wait(probe, proc, msg: HandGrasp, timeout: float = 30.0):
    before = probe.count("hand_trajectory")
    probe.grasps.publish(msg)
    wait_for(lambda: probe.count("hand_trajectory") > before and probe.count("retargeted_grasp") > before, timeout,
             f"the trajectory for grasp '{msg.id}'", proc)  # fmt: skip


def test_robot_description_is_latched_for_rviz(running):
    probe, proc = running
    wait_for(lambda: probe.count("robot_description") > 0, 10.0, "robot_description", proc)
    urdf = probe.latest("robot_description").data
    assert '<robot name="leap_hand_right">' in urdf and urdf == (ROOT / "urdf" / "leap_hand_right.urdf").read_text()


def test_a_grasp_over_dds_gives_joint_states_trajectory_and_wrist_pose(running):
    probe, proc = running
    cloud_pts = np.random.default_rng(0).uniform(-0.05, 0.05, (300, 3))
    wait_for(lambda: probe.cloud.get_subscription_count() > 0, 30.0, "the object_cloud subscription", proc)
    probe.cloud.publish(arrays_to_cloud(cloud_pts, Header(frame_id="object"), labels=np.arange(300) % 2))
    msg, kp, W = _grasp("g_ok")
    _send_and_wait(probe, proc, msg)
    expected = load_retargeter("leap_hand").retarget(kp, W, open_fraction=0.6, backoff=0.08)
    traj = probe.latest("hand_trajectory")
    assert traj.joint_names == [str(i) for i in range(16)] and len(traj.points) == 2
    pre, grasp = (np.array(p.positions) for p in traj.points)
    assert np.allclose(grasp, expected.positions, atol=1e-4)
    assert np.allclose(pre, expected.pre_grasp_positions, atol=1e-4)
    assert traj.points[0].time_from_start.sec == 1 and traj.points[1].time_from_start.sec == 2
    # JointState is republished at 10 Hz: wait for one that carries the grasp.
    wait_for(lambda: np.allclose(probe.latest("joint_states").position, expected.positions, atol=1e-4), 5.0,
             "a JointState at the grasp", proc)  # fmt: skip
    js = probe.latest("joint_states")
    assert list(js.name) == traj.joint_names
    assert np.all(np.array(js.position) >= expected.positions.min() - 1) and len(js.position) == 16
    wait_for(lambda: probe.latest("robot_wrist_pose").header.frame_id == "object", 5.0, "the wrist pose", proc)
    pose = probe.latest("robot_wrist_pose").pose
    assert np.allclose([pose.position.x, pose.position.y, pose.position.z], expected.base_pose[:3, 3], atol=1e-6)
    out = probe.latest("retargeted_grasp")
    assert out.id == "g_ok" and out.robot_name == "leap_hand" and len(out.keypoints) == 21
    assert np.allclose(out.grasp_posture.points[0].positions, expected.positions, atol=1e-4)
    back = np.array([out.robot_pre_grasp_wrist_pose.position.x - out.robot_wrist_pose.position.x,
                     out.robot_pre_grasp_wrist_pose.position.y - out.robot_wrist_pose.position.y,
                     out.robot_pre_grasp_wrist_pose.position.z - out.robot_wrist_pose.position.z])  # fmt: skip
    assert np.allclose(back, 0.08 * W[:3, 2], atol=1e-6)  # backed off away from the palm


def _markers_with_the_cloud(probe, proc, cloud_pts, attempts: int = 5):
    """The markers of a grasp sent after the node has the cloud. The cloud (best effort, sensor
    QoS) and the grasp travel on different topics, so the node may take the grasp first: then
    the markers have no object and the cloud is sent again with another grasp."""
    wait_for(lambda: probe.cloud.get_subscription_count() > 0, 30.0, "the object_cloud subscription", proc)
    for i in range(attempts):
        probe.cloud.publish(arrays_to_cloud(cloud_pts, Header(frame_id="object"), labels=np.arange(len(cloud_pts)) % 2))
        before = probe.count("markers")
        _send_and_wait(probe, proc, _grasp(f"g_markers_{i}")[0])
        wait_for(lambda before=before: probe.count("markers") > before, 30.0, "markers", proc)
        markers = probe.latest("markers").markers
        if any(m.ns == "object" for m in markers):
            return markers
    raise AssertionError(f"no markers with the object cloud after {attempts} grasps")


def test_markers_hold_deleteall_then_the_hand_mesh(running):
    probe, proc = running
    markers = _markers_with_the_cloud(probe, proc, np.random.default_rng(0).uniform(-0.05, 0.05, (300, 3)))
    assert markers[0].action == Marker.DELETEALL
    tri = [m for m in markers if m.type == Marker.TRIANGLE_LIST]
    assert len(tri) == 1 and len(tri[0].points) > 0 and len(tri[0].points) % 3 == 0
    assert tri[0].ns == "grasp_0" and tri[0].header.frame_id == "object"
    obj = [m for m in markers if m.ns == "object"]
    assert len(obj) == 1 and len(obj[0].points) == 300  # the cloud published on object_cloud
    text = next(m for m in markers if m.type == Marker.TEXT_VIEW_FACING)
    assert "handle-grip" in text.text


def test_bad_grasps_are_logged_and_the_node_keeps_running(running):
    probe, proc = running
    short, _, _ = _grasp("g_short")
    short.keypoints = short.keypoints[:20]
    nan, _, _ = _grasp("g_nan")
    nan.keypoints[8] = Point(x=float("nan"), y=0.0, z=0.0)
    zero_quat, _, _ = _grasp("g_quat")
    zero_quat.wrist_pose.orientation.w = zero_quat.wrist_pose.orientation.x = 0.0
    zero_quat.wrist_pose.orientation.y = zero_quat.wrist_pose.orientation.z = 0.0
    before = probe.count("hand_trajectory")
    for bad in (short, nan, zero_quat):
        probe.grasps.publish(bad)
    good, _, _ = _grasp("g_after", "twist")
    _send_and_wait(probe, proc, good)
    assert probe.count("hand_trajectory") == before + 1, "bad grasps must publish nothing"
    assert probe.latest("retargeted_grasp").id == "g_after"
    assert proc.poll() is None


def test_tf_carries_the_wrist_when_tf2_ros_is_there(running):
    pytest.importorskip("tf2_ros", reason="tf2_ros is not installable from PyPI wheels (ENVIRONMENT.md trap 8)")
    from tf2_ros import Buffer, TransformListener

    probe, proc = running
    buffer = Buffer()
    TransformListener(buffer, probe.node)
    wait_for(lambda: buffer.can_transform("object", "base", rclpy.time.Time()), 10.0, "TF object -> base", proc)


def test_shutdown_is_clean_and_errors_were_logged(running):
    probe, proc = running
    log = stop_node(proc)
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log
    assert "grasp 'g_short' rejected" in log and "expected 21 keypoints" in log, log
    assert "grasp 'g_nan' rejected" in log and "index_tip" in log, log
    assert "grasp 'g_quat' rejected" in log and "quaternion is zero" in log, log
    assert "fingertip error mean" in log, log
    try:
        import tf2_ros  # noqa: F401
    except ImportError:
        assert log.count("tf2_ros is not importable") == 1, log


def test_an_unknown_robot_stops_the_node_with_a_clear_message():
    proc = start_node("gdexgrasp_ros.nodes.retargeting_node", f"/gdexgrasp_bad_{uuid.uuid4().hex[:8]}", PARAMS,
                      ["-p", "robot_hand:=robotiq"])  # fmt: skip
    try:
        proc.wait(timeout=30)
    finally:
        log = stop_node(proc)
    assert proc.returncode == 1, log
    assert "no retargeting config for robot 'robotiq'" in log and "Traceback" not in log, log


def test_rviz_config_shows_what_the_node_publishes():
    """RViz's displays subscribe to the node's topics in the default namespace, with matching QoS."""
    import yaml

    doc = yaml.safe_load((ROOT / "rviz" / "gdexgrasp.rviz").read_text())
    displays = {d["Class"].split("/")[-1]: d for d in doc["Visualization Manager"]["Displays"]}
    robot = displays["RobotModel"]
    assert robot["Description Source"] == "Topic"
    assert robot["Description Topic"]["Value"] == "/gdexgrasp/robot_description"
    assert robot["Description Topic"]["Durability Policy"] == "Transient Local"  # the node latches it
    assert displays["MarkerArray"]["Topic"]["Value"] == "/gdexgrasp/markers"
    assert displays["Pose"]["Topic"]["Value"] == "/gdexgrasp/robot_wrist_pose"
    assert displays["PointCloud2"]["Topic"]["Value"] == "/gdexgrasp/object_cloud"
    assert "TF" in displays
    assert doc["Visualization Manager"]["Global Options"]["Fixed Frame"] == "world"  # the node's fallback_frame
