"""Start project nodes as real processes and talk to them over DDS (used by node tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from conftest import ROOT


def start_node(module: str, namespace: str, params_file: str | None = None, extra: list[str] | None = None):
    """Run `python -m module` as a separate ROS process in its own namespace."""
    cmd = [sys.executable, "-m", module, "--ros-args", "-r", f"__ns:={namespace}"]
    if params_file:
        cmd += ["--params-file", params_file]
    cmd += extra or []
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop_node(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    """SIGINT the node, wait, and return what it printed."""
    if proc.poll() is None:
        proc.send_signal(subprocess.signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read() if proc.stdout else ""


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"node exited (code {proc.returncode}) while waiting for {what}:\n{stop_node(proc)}")
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def close_spinning(node, executor, proc: subprocess.Popen) -> None:
    """End a spinning_node test client, then stop the node process: it must exit 0 without a traceback."""
    import rclpy

    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown()
    log = stop_node(proc)
    assert proc.returncode == 0 and "Traceback" not in log, log


def server_start_log(extra: list[str], node: str = "grasp_synthesis_server") -> tuple[int, str]:
    """Start a node with the config file plus `extra` ROS args; (exit code, output) once it exits."""
    proc = start_node(f"gdexgrasp_ros.nodes.{node}", f"/bad_{uuid.uuid4().hex[:6]}",
                      str(ROOT / "config" / "gdexgrasp.yaml"), extra)  # fmt: skip
    proc.wait(timeout=60)
    return proc.returncode, stop_node(proc)


def spinning_node(name: str, namespace: str, threads: int = 1):
    """rclpy.init and a node spinning on a background executor: (node, executor)."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    rclpy.init()
    node = rclpy.create_node(name, namespace=namespace)
    executor = SingleThreadedExecutor() if threads == 1 else MultiThreadedExecutor(num_threads=threads)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    return node, executor
