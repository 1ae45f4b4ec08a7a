"""Node `retargeting_node`: maps the best human grasp onto the robot hand and shows it in RViz.

Subscribes (relative to the namespace):
- `grasp` (gdexgrasp_msgs/HandGrasp): the grasp to execute (the best one of a SynthesizeGrasp result);
- `object_cloud` (sensor_msgs/PointCloud2, optional `label` field): drawn in the markers by part.

Publishes:
- `joint_states` (sensor_msgs/JointState): the robot hand at the grasp, republished at
  `publish_rate` Hz (the open posture before the first grasp) so robot_state_publisher's TF stays fresh;
- `hand_trajectory` (trajectory_msgs/JointTrajectory): pre-grasp (fingers opened) -> grasp;
- `robot_wrist_pose` (geometry_msgs/PoseStamped): the robot base (URDF root) in the grasp's frame;
  also on TF (grasp frame -> base_frame) when tf2_ros is importable (logged once and skipped when not);
- `retargeted_grasp` (gdexgrasp_msgs/HandGrasp): the input with its robot fields filled;
- `markers` (visualization_msgs/MarkerArray): object by part, human hand mesh, contacts, label;
- `robot_description` (std_msgs/String, transient local): the robot URDF for RViz's RobotModel
  (off when robot_state_publisher, which publishes it too, runs: publish_robot_description).

Bad input (wrong keypoint count, NaN, a bad quaternion) is logged as an error; the node keeps running.
Grasps are handled one at a time (a mutually exclusive callback group: the solver is not
thread-safe); the cloud and the republishing timer run beside them on a MultiThreadedExecutor.
"""

from __future__ import annotations

import threading

import numpy as np
from gdexgrasp_msgs.msg import HandGrasp
from geometry_msgs.msg import PoseStamped, TransformStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState, PointCloud2
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from ..retarget.retargeter import RetargetingError, RetargetResult, load_retargeter
from ..viz.hand_mesh import HandMeshPoser
from ..viz.markers import GraspMarkerInput, contact_part_from_points, grasp_scene_markers
from . import parameters as P
from .cloud_conversions import CloudFormatError, cloud_to_arrays
from .grasp_conversions import grasp_keypoints, hand_trajectory, matrix_to_pose, pose_to_matrix, retargeted_grasp
from .marker_conversion import to_marker_array
from .spin import construct_or_exit, init, spin_until_shutdown
from .tf_helpers import transform_broadcaster

MAX_MARKER_POINTS = 4000  # object points drawn in the markers (a random subset beyond this)


class RetargetingNode(Node):
    def __init__(self, **kwargs):
        super().__init__("retargeting_node", **kwargs)
        P.declare(self, P.RETARGETING_PARAMETERS, P.retargeting_cross_check)
        p = self._param
        self._retargeter = load_retargeter(p("robot_hand"), p("config_dir") or None, p("mode") or None)
        self._base_frame = p("base_frame") or self._retargeter.root_link
        self._lock = threading.Lock()
        self._cloud = None  # (points, labels, frame_id) of the latest object cloud
        self._hands = HandMeshPoser(build=p("hand_mesh_markers"))  # ~2 s, built beside start-up
        # Until a grasp arrives the hand idles, open, at the origin of fallback_frame.
        self._state = (self._retargeter.open_posture, np.eye(4), p("fallback_frame"))
        self._tf = transform_broadcaster(self) if p("publish_tf") else None
        self._make_publishers()
        grasps = MutuallyExclusiveCallbackGroup()
        side = MutuallyExclusiveCallbackGroup()
        self.create_subscription(HandGrasp, p("grasp_topic"), self._on_grasp, 10, callback_group=grasps)
        self.create_subscription(PointCloud2, p("cloud_topic"), self._on_cloud, qos_profile_sensor_data,
                                 callback_group=side)  # fmt: skip
        self.create_timer(1.0 / max(p("publish_rate"), 0.1), self._republish, callback_group=side)
        self.get_logger().info(
            f"ready: robot '{self._retargeter.robot_name}' ({self._retargeter.mode} mode, "
            f"{len(self._retargeter.joint_names)} joints, base frame '{self._base_frame}'), "
            f"listening on '{p('grasp_topic')}'"
        )

    def _param(self, name: str):
        return self.get_parameter(name).value

    def _make_publishers(self) -> None:
        p = self._param
        self._joint_pub = self.create_publisher(JointState, p("joint_states_topic"), 10)
        self._traj_pub = self.create_publisher(JointTrajectory, p("trajectory_topic"), 10)
        self._wrist_pub = self.create_publisher(PoseStamped, p("wrist_pose_topic"), 10)
        self._grasp_pub = self.create_publisher(HandGrasp, p("retargeted_topic"), 10)
        self._marker_pub = self.create_publisher(MarkerArray, p("markers_topic"), 1)
        if p("publish_robot_description"):
            latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                                 reliability=QoSReliabilityPolicy.RELIABLE)  # fmt: skip
            self._description_pub = self.create_publisher(String, p("robot_description_topic"), latched)
            self._description_pub.publish(String(data=self._retargeter.config.urdf_path.read_text()))

    # -- callbacks ---------------------------------------------------------------------------------
    def _on_cloud(self, msg: PointCloud2) -> None:
        try:
            arrays = cloud_to_arrays(msg)
        except CloudFormatError as err:
            self.get_logger().error(f"object cloud ignored: {err}")
            return
        pts = arrays.points.reshape(-1, 3)
        labels = arrays.labels.reshape(-1) if arrays.labels is not None else None
        keep = np.flatnonzero(np.isfinite(pts).all(axis=1))
        if len(keep) > MAX_MARKER_POINTS:  # a fixed-seed subset: the same cloud always draws the same points
            keep = np.sort(np.random.default_rng(0).choice(keep, MAX_MARKER_POINTS, replace=False))
        with self._lock:
            self._cloud = (pts[keep], None if labels is None else labels[keep], arrays.frame_id)

    def _on_grasp(self, msg: HandGrasp) -> None:
        try:
            self._handle_grasp(msg)
        except RetargetingError as err:
            self.get_logger().error(f"grasp '{msg.id}' rejected: {err}")
        except Exception as err:  # noqa: BLE001 - one bad grasp must not take the node down
            self.get_logger().error(f"grasp '{msg.id}' failed: {err!r}")

    def _handle_grasp(self, msg: HandGrasp) -> None:
        kp = grasp_keypoints(msg)
        wrist = pose_to_matrix(msg.wrist_pose) if msg.hand_model in ("open_hand", "") else None
        result = self._retargeter.retarget(kp, wrist, open_fraction=self._param("pre_grasp_open_fraction"),
                                           backoff=self._param("pre_grasp_backoff"))  # fmt: skip
        frame = msg.header.frame_id or self._param("fallback_frame")
        with self._lock:
            self._state = (result.positions, result.base_pose, frame)
        self._republish()
        self._traj_pub.publish(hand_trajectory(result, self._param("pre_grasp_time"), self._param("grasp_time")))
        self._grasp_pub.publish(retargeted_grasp(msg, result))
        self._marker_pub.publish(self._markers(msg, frame))
        self._log_result(msg, result)

    def _republish(self) -> None:
        """JointState, wrist pose and TF of the current state, freshly stamped."""
        with self._lock:
            q, base_pose, frame = self._state
        stamp = self.get_clock().now().to_msg()
        js = JointState(name=list(self._retargeter.joint_names), position=[float(v) for v in q])
        js.header.stamp = stamp
        self._joint_pub.publish(js)
        pose = PoseStamped(pose=matrix_to_pose(base_pose))
        pose.header.stamp, pose.header.frame_id = stamp, frame
        self._wrist_pub.publish(pose)
        if self._tf is not None:
            t = TransformStamped()
            t.header = pose.header
            t.child_frame_id = self._base_frame
            t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
                pose.pose.position.x, pose.pose.position.y, pose.pose.position.z)  # fmt: skip
            t.transform.rotation = pose.pose.orientation
            self._tf.sendTransform(t)

    # -- markers -----------------------------------------------------------------------------------
    def _markers(self, msg: HandGrasp, frame: str) -> MarkerArray:
        contacts = np.array([(p.x, p.y, p.z) for p in msg.contact_points], dtype=float).reshape(-1, 3)
        verts, faces = self._hand_mesh(msg)
        grasp = GraspMarkerInput(verts, faces, contacts, msg.affordance, msg.contact_part, float(msg.quality.score))
        with self._lock:
            cloud = self._cloud
        points = labels = cloud_frame = part = None
        if cloud is not None:
            points, labels, cloud_frame = cloud
            cloud_frame = cloud_frame or frame
            if cloud_frame == frame:  # contacts and cloud in one frame: find the touched part
                part = contact_part_from_points(points, labels, contacts)
        markers = grasp_scene_markers(frame, [grasp], points, labels, part, object_frame_id=cloud_frame)
        return to_marker_array(markers, self.get_clock().now().to_msg())

    def _hand_mesh(self, msg: HandGrasp):
        """The OpenHand surface posed as the grasp says, or (None, None) when that is not possible."""
        if msg.hand_model not in ("open_hand", "") or not self._param("hand_mesh_markers"):
            return None, None
        try:
            return self._hands.pose(pose_to_matrix(msg.wrist_pose), msg.joint_names, msg.joint_positions)
        except ValueError as err:
            self.get_logger().warning(f"grasp '{msg.id}': no hand mesh ({err})")
            return None, None

    def close(self) -> None:
        """Wait for the background hand build, then destroy the node."""
        self._hands.close(lambda: self.get_logger().info("finishing the hand model build before exiting"))
        self.destroy_node()

    def _log_result(self, msg: HandGrasp, result: RetargetResult) -> None:
        errors = ", ".join(f"{d} {e:.1f}" for d, e in result.fingertip_errors_mm.items())
        clamped = (f"clamped to limits: {list(result.clamped_joints)} (by up to {result.max_clamp_rad:.4f} rad)"
                   if result.clamped_joints else "no joint clamped")  # fmt: skip
        self.get_logger().info(
            f"grasp '{msg.id}' -> {result.robot_name} in {1000 * result.solve_seconds:.0f} ms: fingertip error "
            f"mean {result.mean_fingertip_error_mm:.1f} mm, max {result.max_fingertip_error_mm:.1f} mm ({errors}); "
            f"{clamped}"
        )


def main(args=None) -> None:
    init(args)  # rclpy.init; SIGINT / SIGTERM end the spin cleanly (spin.py)
    node = construct_or_exit("retargeting_node", RetargetingNode, (RetargetingError, P.ConfigurationError))
    spin_until_shutdown(node, num_threads=3, close=node.close)


if __name__ == "__main__":
    main()
