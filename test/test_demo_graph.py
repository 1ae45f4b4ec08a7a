"""`make demo`'s graph path end to end (short schedule): launcher, lifecycle, input node, result, shutdown."""

import json
import os
import subprocess
import sys

from conftest import ROOT


def test_the_demo_runs_through_the_graph_and_stops_it_cleanly(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "gdexgrasp_ros.nodes.demo_graph", "--iterations", "20",
                           "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=400)  # fmt: skip
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert "graph stopped (launcher exit 0)" in log and "Traceback" not in log, log
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["error_code"] == "SUCCESS" and result["affordance"] == "handle-grip"
    assert result["contact_part"] == "handle" and 1 <= len(result["ranked_grasps"]) <= 3
    assert set(result["timings"]) >= {"preprocess", "analysis", "optimization", "retargeting"}
    assert len(result["robot_joint_state"]) == 16, "the retargeting node's LEAP JointState arrived"
    assert (tmp_path / "scene_robot.png").stat().st_size > 10_000
