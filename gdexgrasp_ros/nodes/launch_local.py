"""Start the pipeline's nodes without `ros2 launch` (absent where ROS 2 comes from PyPI wheels).

Mirrors launch/pipeline.launch.py: the same nodes, names, namespace and parameter file, and the
same lifecycle start-up: the synthesis server starts unconfigured (autostart false) and this
launcher configures it, then activates it, through its change_state service.

    python -m gdexgrasp_ros.nodes.launch_local [--namespace gdexgrasp] [--params-file F] [--device auto]
"""

from __future__ import annotations

import argparse
import pathlib
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = ROOT / "config" / "gdexgrasp.yaml"

# (module, node name): keep in step with launch/pipeline.launch.py (its gdexgrasp_ros nodes).
# robot_state_publisher and rviz2 are not on PyPI, so they are not started here: the retargeting
# node then publishes robot_description itself (its default; the launch file turns that off) and
# the robot wrist goes on robot_wrist_pose (no TF without tf2_ros).
NODES = (
    ("gdexgrasp_ros.nodes.grasp_synthesis_server", "grasp_synthesis_server"),
    ("gdexgrasp_ros.nodes.retargeting_node", "retargeting_node"),
    ("gdexgrasp_ros.nodes.grasp_input_node", "grasp_input_node"),
)
LIFECYCLE_NODES = ("grasp_synthesis_server",)  # started with autostart:=false, then configured and activated


def node_command(module: str, name: str, namespace: str, params_file: str, device: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        module,
        "--ros-args",
        "-r",
        f"__node:={name}",
        "-r",
        f"__ns:=/{namespace.strip('/')}",
        "--params-file",
        params_file,
        "-p",
        f"device:={device}",
    ] + (["-p", "autostart:=false"] if name in LIFECYCLE_NODES else [])


def drive_lifecycle(namespace: str, name: str, timeout: float = 120.0) -> str:
    """Configure, then activate a managed node through its change_state service; '' or what failed."""
    import rclpy
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState

    rclpy.init()
    try:
        node = rclpy.create_node("gdexgrasp_launcher")
        client = node.create_client(ChangeState, f"/{namespace.strip('/')}/{name}/change_state")
        if not client.wait_for_service(timeout_sec=timeout):
            return f"{name}: no change_state service after {timeout:.0f} s"
        for transition, label in ((Transition.TRANSITION_CONFIGURE, "configure"),
                                  (Transition.TRANSITION_ACTIVATE, "activate")):  # fmt: skip
            future = client.call_async(ChangeState.Request(transition=Transition(id=transition)))
            rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
            if future.result() is None or not future.result().success:
                return f"{name}: {label} failed (see its log)"
        return ""
    finally:
        rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespace", default="gdexgrasp")
    parser.add_argument("--params-file", default=str(DEFAULT_PARAMS))
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    args = parser.parse_args(argv)
    if not pathlib.Path(args.params_file).is_file():
        parser.error(f"parameter file not found: {args.params_file}")
    procs = [subprocess.Popen(node_command(m, n, args.namespace, args.params_file, args.device)) for m, n in NODES]

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)

    for name in LIFECYCLE_NODES:
        failure = drive_lifecycle(args.namespace, name)
        if failure:
            print(f"[launch_local] {failure}; stopping", file=sys.stderr)
            stop()
            [_wait_or_escalate(p) for p in procs]
            return 1
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    # If any node dies, stop the others: a half-running pipeline is worse than none.
    while all(p.poll() is None for p in procs):
        time.sleep(0.2)
    stop()
    codes = [_wait_or_escalate(p) for p in procs]
    return next((c for c in codes if c not in (0, -signal.SIGINT)), 0)


def _wait_or_escalate(proc: subprocess.Popen, grace: float = 15.0) -> int:
    """Wait for a node that was sent SIGINT; a node that missed it (e.g. still importing, when some
    libraries mask SIGINT) gets SIGTERM, then SIGKILL, so the launcher never hangs."""
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
