"""The launch file and the wheel-machine launcher start the same nodes with the same parameters."""

import ast
import os
import signal
import subprocess
import sys
import threading
import uuid

import rclpy
from conftest import ROOT
from gdexgrasp_msgs.action import SynthesizeGrasp
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from ros_helpers import stop_node, wait_for

from gdexgrasp_ros.nodes import launch_local


def _launch_file_nodes():
    """(executable, name) of the project's own nodes; robot_state_publisher and rviz2 are not project nodes."""
    tree = ast.parse((ROOT / "launch" / "pipeline.launch.py").read_text())
    nodes = []
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", None) in ("Node", "LifecycleNode"):
            kw = {k.arg: k.value for k in call.keywords}
            if getattr(kw.get("package"), "value", None) == "gdexgrasp_ros":
                nodes.append((kw["executable"].value, kw["name"].value))
    return nodes


def _console_scripts():
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                if isinstance(k, ast.Constant) and k.value == "console_scripts":
                    return {s.value.split("=")[0].strip(): s.value.split("=")[1].strip() for s in v.elts}
    return {}


def test_launch_file_and_local_launcher_agree():
    scripts = _console_scripts()
    launched = _launch_file_nodes()
    assert launched, "pipeline.launch.py starts no node"
    local = {(m, n) for m, n in launch_local.NODES}
    for executable, name in launched:
        assert executable in scripts, f"{executable} is not a console script in setup.py"
        module = scripts[executable].split(":")[0]
        assert (module, name) in local, f"launch_local does not start {module} as {name}"
    assert len(local) == len(launched)
    assert ("retargeting_node", "retargeting_node") in launched


def test_local_launcher_brings_up_the_action_server():
    ns = f"gdexgrasp_launch_{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdexgrasp_ros.nodes.launch_local", "--namespace", ns, "--device", "cpu"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    rclpy.init()
    try:
        node = rclpy.create_node("launch_probe")
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        threading.Thread(target=executor.spin, daemon=True).start()
        client = ActionClient(node, SynthesizeGrasp, f"/{ns}/synthesize_grasp")
        wait_for(client.server_is_ready, 30.0, "the launched action server", proc)
        for name in ("grasp_synthesis_server", "retargeting_node"):
            wait_for(
                lambda name=name: (name, f"/{ns}") in node.get_node_names_and_namespaces(),
                30.0,
                f"{name} in the ROS graph",
            )
        executor.shutdown()
        node.destroy_node()
    finally:
        rclpy.shutdown()
        proc.send_signal(signal.SIGINT)
        out = stop_node(proc)
    assert proc.returncode == 0, out
    assert "device 'cpu'" in out, out


def test_local_launcher_rejects_a_missing_params_file():
    out = subprocess.run(
        [sys.executable, "-m", "gdexgrasp_ros.nodes.launch_local", "--params-file", "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert out.returncode == 2 and "parameter file not found" in out.stderr
