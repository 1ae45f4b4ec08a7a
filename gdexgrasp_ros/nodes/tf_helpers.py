"""tf2 for the nodes, tolerant of the PyPI wheels (which have no tf2_ros): one place for both nodes."""

from __future__ import annotations

import numpy as np
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time
from scipy.spatial.transform import Rotation

from ..errors import ErrorCode, GraspError

# Transforms kept (tf2's default is 10 s): a fused cloud's views are looked up at their own stamps,
# up to the server's fuse_window (at most this) before the newest.
TF_CACHE_S = 60.0


def tf_buffer(node: Node):
    """A tf2 buffer + listener, or None when tf2_ros is not importable (ROS 2 from PyPI wheels)."""
    try:
        from tf2_ros import Buffer, TransformListener
    except ImportError:
        node.get_logger().info("tf2_ros is not importable: goals with a target_frame get TRANSFORM_FAILED")
        return None
    buffer = Buffer(cache_time=Duration(seconds=TF_CACHE_S))
    node._tf_listener = TransformListener(buffer, node)
    return buffer


def transform_broadcaster(node: Node):
    """tf2_ros' broadcaster, or None (logged once) when tf2_ros is not importable."""
    try:
        from tf2_ros import TransformBroadcaster
    except ImportError:
        node.get_logger().info("tf2_ros is not importable (ROS 2 from PyPI wheels): the robot wrist goes on the "
                               "robot_wrist_pose topic only, TF is skipped")  # fmt: skip
        return None
    return TransformBroadcaster(node)


def lookup_rigid(buffer, target: str, source: str, stamp: Time | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(R, t) taking points in `source` to `target` at `stamp` (None: the latest transform);
    GraspError TRANSFORM_FAILED when there is none."""
    if buffer is None:
        raise GraspError(ErrorCode.TRANSFORM_FAILED,
                         f"cannot express the result in '{target}': tf2_ros is not available "
                         "(ROS 2 from PyPI wheels); leave target_frame empty to get the cloud's frame")  # fmt: skip
    try:
        tf = buffer.lookup_transform(target, source, stamp or Time(), timeout=Duration(seconds=1.0))
    except Exception as err:  # noqa: BLE001 - tf2 raises several exception types
        raise GraspError(ErrorCode.TRANSFORM_FAILED, f"no transform from '{source}' to '{target}': {err}") from err
    q, p = tf.transform.rotation, tf.transform.translation
    return Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(), np.array([p.x, p.y, p.z])
