"""Soak the synthesis server: N consecutive goals over DDS, its memory (RSS) and latency per goal.

    python benchmarks/server_soak.py [--goals 200] [--preset no_optimization] [--out out/soak]

Starts the real server as a process (its own namespace and DDS domain, discovery on localhost),
sends the demo scene's labelled camera cloud with the demo instruction `--goals` times, one after
the other, and after every result samples the server's resident memory from /proc. Prints RSS at
the start, after the warm-up and at the end, the growth after warm-up (target <= 5 %) and latency
percentiles, writes soak.png (RSS and latency against the goal number) and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
from tqdm import tqdm

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

import rclpy  # noqa: E402
from gdexgrasp_msgs.action import SynthesizeGrasp  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from gdexgrasp_ros.demo import INSTRUCTION, default_scene  # noqa: E402
from gdexgrasp_ros.nodes.cloud_conversions import arrays_to_cloud  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


def start_server(ns: str, preset: str, names: list[str], iterations: int = 1) -> subprocess.Popen:
    """The real server as a process in namespace `ns`, labels named `names`, no retargeting."""
    names_arg = "[" + ",".join(f'"{n}"' for n in names) + "]"
    params = {"preset": preset, "iterations_a": iterations, "iterations_b": iterations, "robot_hand": "none",
              "label_names": names_arg}  # fmt: skip
    cmd = [sys.executable, "-m", "gdexgrasp_ros.nodes.grasp_synthesis_server", "--ros-args", "-r", f"__ns:={ns}",
           "--params-file", str(ROOT / "config" / "gdexgrasp.yaml")]  # fmt: skip
    for key, value in params.items():
        cmd += ["-p", f"{key}:={value}"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def demo_goal() -> tuple[SynthesizeGrasp.Goal, list[str]]:
    """The demo scene's labelled camera cloud with the demo instruction, and the label names."""
    scene = default_scene()
    labels = np.where(scene.cloud.object_index == 0, scene.cloud.part_ids, -1)
    cloud = arrays_to_cloud(scene.cloud.points, Header(frame_id="camera_optical_frame"), labels)
    goal = SynthesizeGrasp.Goal(cloud=cloud, instruction=INSTRUCTION, object_category="kettle", max_grasps=1)
    return goal, list(scene.objects[0].part_names)


def action_client(ns: str, name: str):
    """rclpy.init, a node spinning in the background and its SynthesizeGrasp client: (node, executor, client)."""
    rclpy.init()
    node = rclpy.create_node(name, namespace=ns)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    return node, executor, ActionClient(node, SynthesizeGrasp, "synthesize_grasp")


def soak(goals: int, preset: str, warmup: int) -> dict:
    goal, names = demo_goal()
    ns = f"/soak_{uuid.uuid4().hex[:6]}"
    server = start_server(ns, preset, names)
    node, executor, client = action_client(ns, "soak_client")
    rss, latency, codes = [], [], []
    try:
        wait(client.server_is_ready, 120.0, "the action server")
        time.sleep(1.0)
        rss0 = rss_mb(server.pid)
        for _ in tqdm(range(goals), desc="goals", unit="goal"):
            started = time.perf_counter()
            fut = client.send_goal_async(goal)
            wait(fut.done, 60.0, "goal acceptance")
            res = fut.result().get_result_async()
            wait(res.done, 120.0, "the result")
            latency.append(time.perf_counter() - started)
            codes.append(res.result().result.error_code)
            rss.append(rss_mb(server.pid))
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown()
        server.send_signal(signal.SIGINT)
        exit_code = server.wait(timeout=30)
    w = min(warmup, len(rss) - 1)
    return {"goals": goals, "preset": preset, "rss_start_mb": rss0, "rss_after_warmup_mb": rss[w],
            "rss_end_mb": rss[-1], "growth_after_warmup": (rss[-1] - rss[w]) / rss[w],
            "latency_p50_s": float(np.median(latency)), "latency_p95_s": float(np.percentile(latency, 95)),
            "latency_first_tenth_s": float(np.median(latency[w:w + goals // 10])),
            "latency_last_tenth_s": float(np.median(latency[-(goals // 10):])),
            "successes": int(sum(c == 0 for c in codes)), "server_exit": exit_code,
            "rss_mb": rss, "latency_s": latency}  # fmt: skip


def plot(summary: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    n = np.arange(1, len(summary["rss_mb"]) + 1)
    a.plot(n, summary["rss_mb"], color="tab:blue")
    a.set_ylabel("server RSS (MB)")
    a.set_title(f"{summary['goals']} goals, preset {summary['preset']}: growth after warm-up "
                f"{100 * summary['growth_after_warmup']:+.1f} %")  # fmt: skip
    b.plot(n, summary["latency_s"], ".", color="tab:orange", markersize=3)
    b.set_ylabel("goal latency (s)")
    b.set_xlabel("goal")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--goals", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20, help="goals before the growth baseline")
    ap.add_argument("--preset", default="no_optimization")
    ap.add_argument("--out", default="out/soak")
    args = ap.parse_args(argv)
    summary = soak(args.goals, args.preset, args.warmup)
    plot(summary, pathlib.Path(args.out) / "soak.png")
    for key in ("rss_start_mb", "rss_after_warmup_mb", "rss_end_mb"):
        print(f"{key}: {summary[key]:.1f}")
    print(f"growth after warm-up: {100 * summary['growth_after_warmup']:+.2f} % (target <= 5 %)")
    print(f"latency p50 {summary['latency_p50_s']:.3f} s, p95 {summary['latency_p95_s']:.3f} s; first tenth "
          f"{summary['latency_first_tenth_s']:.3f} s, last tenth {summary['latency_last_tenth_s']:.3f} s")  # fmt: skip
    print(f"successes {summary['successes']}/{summary['goals']}, server exit {summary['server_exit']}")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("rss_mb", "latency_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
