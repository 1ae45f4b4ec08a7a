"""Retargeting human grasps to physical robot hands (ROS-free): our URDFs and the dex-retargeting wrapper.

robot_hands (the URDF generator) is not imported here so that `python -m` runs it cleanly.
"""

from .retargeter import (
    Retargeter,
    RetargetingError,
    RetargetResult,
    RobotHandConfig,
    default_config_dir,
    load_config,
    load_retargeter,
    pose_matrix,
    wrist_frame_from_keypoints,
)

__all__ = [
    "RetargetResult",
    "Retargeter",
    "RetargetingError",
    "RobotHandConfig",
    "default_config_dir",
    "load_config",
    "load_retargeter",
    "pose_matrix",
    "wrist_frame_from_keypoints",
]
