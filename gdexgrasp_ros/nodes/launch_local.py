"""Start the pipeline's nodes without `ros2 launch` (absent where ROS 2 comes from PyPI wheels).

Mirrors launch/pipeline.launch.py: the same nodes, names, namespace and parameter file.

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
)


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
    ]


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
