"""A SynthesizeGrasp goal (plus the latest clouds and instruction a server kept) -> a validated SynthesisRequest."""

from __future__ import annotations

from collections.abc import Sequence

from gdexgrasp_msgs.action import SynthesizeGrasp
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from ..request import RawRequest, RequestDefaults, SynthesisRequest, validate_request
from .cloud_conversions import goal_cloud_arrays, is_empty
from .cloud_fusion import fuse_messages
from .tf_helpers import lookup_rigid


def goal_request(goal: SynthesizeGrasp.Goal, latest_clouds: Sequence[PointCloud2], latest_instruction: str | None,
                 label_names: tuple[str, ...], defaults: RequestDefaults, tf_buffer, received: float,
                 fuse_frame: str = "") -> tuple[SynthesisRequest, Header]:  # fmt: skip
    """The validated request, and the header its grasps carry (the cloud's stamp, the result's frame).

    An empty goal cloud means the latest cloud received on the topic, or, when `latest_clouds`
    (oldest first) holds several, those clouds fused (cloud_fusion.py); an empty instruction means
    the latest one received. `received` (time.monotonic()) is when the goal started: its time limit
    counts from there."""
    from_topic = is_empty(goal.cloud)
    cloud = (latest_clouds[-1] if latest_clouds else None) if from_topic else goal.cloud
    instruction = goal.instruction if goal.instruction.strip() else latest_instruction
    arrays, viewpoint, kind, source = None, None, "", ""
    # A fixed fuse_frame puts the topic's clouds in that frame even when only one is recent.
    if cloud is not None and from_topic and (len(latest_clouds) > 1 or fuse_frame):
        fused = fuse_messages(list(latest_clouds), fuse_frame, tf_buffer)
        arrays, viewpoint, kind, source = fused.arrays, fused.viewpoint, fused.cloud_kind, fused.source
    elif cloud is not None:
        arrays = goal_cloud_arrays(cloud)
    points, labels, normals, frame_id = (None, None, None, "") if arrays is None else \
        (arrays.points, arrays.labels, arrays.normals, arrays.frame_id)  # fmt: skip
    raw = RawRequest(points=points, labels=labels, normals=normals, frame_id=frame_id, instruction=instruction,
                     object_category=goal.object_category, target_frame=goal.target_frame,
                     max_grasps=goal.max_grasps, hand_model=goal.hand_model, robot_hand=goal.robot_hand,
                     timeout=goal.timeout, part_names=label_names, viewpoint=viewpoint, cloud_kind=kind,
                     cloud_source=source)  # fmt: skip
    request = validate_request(raw, defaults)
    request.received = received
    if request.target_frame and request.target_frame != request.frame_id:
        # Move the cloud into the goal's target_frame, so every result is expressed there.
        R, t = lookup_rigid(tf_buffer, request.target_frame, request.frame_id)
        request.points = request.points @ R.T + t
        request.normals = None if request.normals is None else request.normals @ R.T
        request.viewpoint = R @ request.viewpoint + t  # the sensor in the target frame
        request.frame_id = request.target_frame
    return request, Header(stamp=cloud.header.stamp, frame_id=request.frame_id)
