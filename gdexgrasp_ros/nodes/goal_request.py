"""A SynthesizeGrasp goal (plus the latest cloud and instruction a server kept) -> a validated SynthesisRequest."""

from __future__ import annotations

from gdexgrasp_msgs.action import SynthesizeGrasp
from sensor_msgs.msg import PointCloud2
from std_msgs.msg import Header

from ..errors import ErrorCode, GraspError
from ..request import RawRequest, RequestDefaults, SynthesisRequest, validate_request
from .cloud_conversions import CloudFormatError, cloud_to_arrays, is_empty
from .tf_helpers import lookup_rigid


def goal_request(goal: SynthesizeGrasp.Goal, latest_cloud: PointCloud2 | None, latest_instruction: str | None,
                 label_names: tuple[str, ...], defaults: RequestDefaults, tf_buffer, received: float
                 ) -> tuple[SynthesisRequest, Header]:  # fmt: skip
    """The validated request, and the header its grasps carry (the cloud's stamp, the result's frame).

    An empty goal cloud / instruction means the latest one received on the topics; `received`
    (time.monotonic()) is when the goal started: its time limit counts from there."""
    cloud = goal.cloud if not is_empty(goal.cloud) else latest_cloud
    instruction = goal.instruction if goal.instruction.strip() else latest_instruction
    points = labels = normals = None
    frame_id = ""
    if cloud is not None:
        try:
            arrays = cloud_to_arrays(cloud)
        except CloudFormatError as err:
            raise GraspError(ErrorCode.INVALID_GOAL, f"unreadable cloud: {err}") from err
        points, labels, normals, frame_id = arrays.points, arrays.labels, arrays.normals, arrays.frame_id
    raw = RawRequest(points=points, labels=labels, normals=normals, frame_id=frame_id, instruction=instruction,
                     object_category=goal.object_category, target_frame=goal.target_frame,
                     max_grasps=goal.max_grasps, hand_model=goal.hand_model, robot_hand=goal.robot_hand,
                     timeout=goal.timeout, part_names=label_names)  # fmt: skip
    request = validate_request(raw, defaults)
    request.received = received
    if request.target_frame and request.target_frame != request.frame_id:
        # Move the cloud into the goal's target_frame, so every result is expressed there.
        R, t = lookup_rigid(tf_buffer, request.target_frame, request.frame_id)
        request.points = request.points @ R.T + t
        request.normals = None if request.normals is None else request.normals @ R.T
        request.viewpoint = t  # the sensor (the cloud frame's origin) in the target frame
        request.frame_id = request.target_frame
    return request, Header(stamp=cloud.header.stamp, frame_id=request.frame_id)
