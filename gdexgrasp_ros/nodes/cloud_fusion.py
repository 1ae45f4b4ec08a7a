"""The server's fusion of the last clouds on its cloud topic (issue 18 item 3, the node part).

With `fuse_views` N > 1 (or a `fuse_frame`), a goal that leaves its cloud empty gets the last N
clouds received within `fuse_window` seconds before the newest one, fused into one cloud by
objects.fusion.fuse_clouds. Each cloud is taken to be in its sensor's frame (as camera drivers
publish): its frame's origin is the sensor that saw it. The common frame is `fuse_frame` (then
also with one recent cloud), or the newest cloud's frame. A cloud in another frame is moved with
tf2 — at its own stamp when `fuse_frame` names a fixed frame (a camera on a moving arm), else at
the latest transform; a cloud already in the common frame is taken as it is (one static sensor: the views fill each other's missing pixels).
Without tf2 (ROS 2 from PyPI wheels) only same-frame clouds can be fused: others end the goal
TRANSFORM_FAILED with the reason.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from rclpy.time import Time
from sensor_msgs.msg import PointCloud2

from ..errors import ErrorCode, GraspError
from ..objects.fusion import fuse_clouds, fused_cloud_kind
from .cloud_conversions import CloudArrays, goal_cloud_arrays
from .tf_helpers import lookup_rigid


class CloudHistory:
    """The last clouds received on a topic with their arrival times (time.monotonic()), newest last.
    Thread-safe; keeps no more than the `views` asked for at the last add."""

    def __init__(self):
        self._lock = threading.Lock()
        self._clouds: deque[tuple[float, PointCloud2]] = deque()

    def add(self, msg: PointCloud2, views: int, now: float | None = None) -> None:
        with self._lock:
            self._clouds.append((time.monotonic() if now is None else now, msg))
            while len(self._clouds) > max(1, views):
                self._clouds.popleft()  # the oldest is released

    def recent(self, views: int, window: float) -> list[PointCloud2]:
        """At most `views` clouds, oldest first, each received within `window` s before the newest."""
        with self._lock:
            clouds = list(self._clouds)[-max(1, views) :]
        if not clouds:
            return []
        newest = clouds[-1][0]
        return [msg for t, msg in clouds if newest - t <= window]

    def clear(self) -> None:
        with self._lock:
            self._clouds.clear()


@dataclass
class FusedGoalCloud:
    arrays: CloudArrays  # points (M, 3), normals, labels when every cloud carried them, the common frame
    viewpoint: np.ndarray  # (3,) the newest cloud's sensor in the common frame
    cloud_kind: str  # "complete" when the sensors went round the object, else "camera"
    source: str  # for the result's rationale


def fuse_messages(msgs: list[PointCloud2], fuse_frame: str, tf_buffer) -> FusedGoalCloud:
    """The clouds (oldest first) fused in fuse_frame (or the newest one's frame); GraspError
    INVALID_GOAL for an unreadable cloud, TRANSFORM_FAILED for a missing transform, EMPTY_CLOUD
    when no cloud has a finite point."""
    common = fuse_frame or msgs[-1].header.frame_id
    clouds, poses, labels = [], [], []
    for i, msg in enumerate(msgs):
        arrays = goal_cloud_arrays(msg, f"cloud ({i + 1} of {len(msgs)} fused)")
        pose = np.eye(4)
        if arrays.frame_id != common:
            if tf_buffer is None:
                raise GraspError(ErrorCode.TRANSFORM_FAILED,
                                 f"cannot fuse a cloud in '{arrays.frame_id}' with clouds in '{common}': tf2_ros is "
                                 "not available (ROS 2 from PyPI wheels); publish every view in one frame")  # fmt: skip
            stamp = Time.from_msg(msg.header.stamp) if fuse_frame else None
            pose[:3, :3], pose[:3, 3] = lookup_rigid(tf_buffer, common, arrays.frame_id, stamp)
        clouds.append(arrays.points)
        poses.append(pose)
        labels.append(arrays.labels)
    carried = all(lab is not None for lab in labels)
    try:
        fused = fuse_clouds(clouds, poses, labels=labels if carried else None)
    except ValueError as err:  # no finite point in any view (poses and labels are built here, well formed)
        raise GraspError(ErrorCode.EMPTY_CLOUD, f"fusing the last {len(msgs)} clouds: {err}") from err
    kind = fused_cloud_kind(fused)
    frames = sorted({m.header.frame_id for m in msgs})
    names = ", ".join(repr(f) for f in frames)
    source = f"fused {len(msgs)} clouds from {names} in '{common}' ({len(fused.points)} points)"
    arrays = CloudArrays(points=fused.points, labels=fused.labels, frame_id=common, normals=fused.normals)
    return FusedGoalCloud(arrays, fused.sensors[-1], kind, source)
