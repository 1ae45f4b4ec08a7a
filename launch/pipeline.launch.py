"""Launch the gdexgrasp pipeline: the grasp-synthesis action server (a lifecycle node, configured and
activated here), the retargeting node, the topic-driven grasp input node,
robot_state_publisher for the configured robot hand and, optionally, RViz.

ros2 launch gdexgrasp_ros pipeline.launch.py [namespace:=gdexgrasp] [params_file:=...] [device:=auto]
    [robot_hand:=leap_hand] [rviz:=false]

The robot hand's URDF is the one its retargeting config names (config/retargeting/<robot_hand>.yaml),
so robot_state_publisher, the retargeting node and RViz always show the same hand.
"""

import os

import lifecycle_msgs.msg
import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState


def _robot_description(share: str, robot_hand: str) -> str:
    """URDF text of a configured robot hand (urdf_path in its retargeting YAML, relative to that file)."""
    config = os.path.join(share, "config", "retargeting", f"{robot_hand}.yaml")
    if not os.path.isfile(config):
        raise RuntimeError(f"robot_hand '{robot_hand}': no retargeting config {config}")
    with open(config) as f:
        urdf = yaml.safe_load(f)["robot"]["urdf_path"]
    path = urdf if os.path.isabs(urdf) else os.path.normpath(os.path.join(os.path.dirname(config), urdf))
    with open(path) as f:
        return f.read()


def _robot_state_publisher(context, share: str):
    # An OpaqueFunction: the URDF to read depends on the robot_hand argument's value.
    robot_hand = LaunchConfiguration("robot_hand").perform(context)
    return [
        Node(
            package="robot_state_publisher",
            executable="robot_state_publisher",
            name="robot_state_publisher",
            namespace=LaunchConfiguration("namespace"),
            parameters=[{"robot_description": _robot_description(share, robot_hand)}],
            output="screen",
        )
    ]


def _lifecycle_startup(node: LifecycleNode) -> list:
    """Configure the managed node at start, activate it once it is inactive (the Nav2 convention)."""

    def change(transition: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition))

    return [
        RegisterEventHandler(OnStateTransition(target_lifecycle_node=node, start_state="configuring",
                                               goal_state="inactive",
                                               entities=[change(lifecycle_msgs.msg.Transition.TRANSITION_ACTIVATE)])),
        change(lifecycle_msgs.msg.Transition.TRANSITION_CONFIGURE),
    ]  # fmt: skip


def generate_launch_description():
    share = get_package_share_directory("gdexgrasp_ros")
    params_file = LaunchConfiguration("params_file")
    namespace = LaunchConfiguration("namespace")
    device = LaunchConfiguration("device")
    robot_hand = LaunchConfiguration("robot_hand")
    server = LifecycleNode(
        package="gdexgrasp_ros",
        executable="grasp_synthesis_server",
        name="grasp_synthesis_server",
        namespace=namespace,
        # The same robot as the retargeting node, so results and RViz agree; this launch file drives
        # the lifecycle (configure, then activate), so the node does not start itself.
        parameters=[params_file, {"device": device, "robot_hand": robot_hand, "autostart": False}],
        output="screen",
        emulate_tty=True,
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("namespace", default_value="gdexgrasp"),
            DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "gdexgrasp.yaml")),
            DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda | cuda:N"),
            DeclareLaunchArgument("robot_hand", default_value="leap_hand", description="leap_hand | allegro_hand"),
            DeclareLaunchArgument(
                "rviz", default_value="false", description="also start RViz with rviz/gdexgrasp.rviz"
            ),
            server,
            *_lifecycle_startup(server),
            Node(
                package="gdexgrasp_ros",
                executable="retargeting_node",
                name="retargeting_node",
                namespace=namespace,
                # robot_state_publisher publishes robot_description here; one publisher is enough.
                parameters=[params_file, {"robot_hand": robot_hand, "publish_robot_description": False}],
                output="screen",
                emulate_tty=True,
            ),
            Node(
                package="gdexgrasp_ros",
                executable="grasp_input_node",
                name="grasp_input_node",
                namespace=namespace,
                # Topics in, goals out: for systems that only publish a cloud and an instruction.
                parameters=[params_file],
                output="screen",
                emulate_tty=True,
            ),
            OpaqueFunction(function=_robot_state_publisher, args=[share]),
            Node(
                package="rviz2",
                executable="rviz2",
                name="rviz2",
                arguments=["-d", os.path.join(share, "rviz", "gdexgrasp.rviz")],
                condition=IfCondition(LaunchConfiguration("rviz")),
                output="screen",
            ),
        ]
    )
