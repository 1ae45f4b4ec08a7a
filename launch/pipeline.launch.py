"""Launch the gdexgrasp pipeline: the grasp-synthesis action server with config/gdexgrasp.yaml.

ros2 launch gdexgrasp_ros pipeline.launch.py [namespace:=gdexgrasp] [params_file:=...] [device:=auto]
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory("gdexgrasp_ros")
    params_file = LaunchConfiguration("params_file")
    namespace = LaunchConfiguration("namespace")
    device = LaunchConfiguration("device")
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="gdexgrasp"),
            DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "gdexgrasp.yaml")),
            DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda | cuda:N"),
            Node(
                package="gdexgrasp_ros",
                executable="grasp_synthesis_server",
                name="grasp_synthesis_server",
                namespace=namespace,
                parameters=[params_file, {"device": device}],
                output="screen",
                emulate_tty=True,
            ),
        ]
    )
