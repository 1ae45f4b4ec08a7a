"""Cancellation latency of the synthesis server over DDS: goals canceled mid-optimization.

    python benchmarks/cancel_latency.py [--rounds 10]

Starts the real server (a long schedule so every goal is still optimizing), and per round sends
the demo scene's goal, waits until its feedback reports the optimization stage plus a random
0-0.5 s, cancels it and measures the time from the cancel request to the CANCELED result.
Prints p50 / p95 / max and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
import uuid

import numpy as np
import rclpy
from action_msgs.msg import GoalStatus
from server_soak import action_client, demo_goal, start_server, wait
from tqdm import tqdm


def measure(rounds: int, seed: int = 0) -> dict:
    goal, names = demo_goal()
    ns = f"/cancel_{uuid.uuid4().hex[:6]}"
    server = start_server(ns, "full", names, iterations=100000)
    node, executor, client = action_client(ns, "cancel_client")
    rng = np.random.default_rng(seed)
    latencies, statuses = [], []
    try:
        wait(client.server_is_ready, 120.0, "the action server")
        for _ in tqdm(range(rounds), desc="cancels", unit="goal"):
            optimizing = threading.Event()

            def on_feedback(fb, flag=optimizing):
                if fb.feedback.stage_name == "optimization":
                    flag.set()

            fut = client.send_goal_async(goal, feedback_callback=on_feedback)
            wait(fut.done, 60.0, "goal acceptance")
            handle = fut.result()
            wait(optimizing.is_set, 120.0, "the optimization stage")
            time.sleep(float(rng.uniform(0.0, 0.5)))
            result = handle.get_result_async()
            asked = time.perf_counter()
            handle.cancel_goal_async()
            wait(result.done, 60.0, "the canceled result")
            latencies.append(time.perf_counter() - asked)
            statuses.append(result.result().status)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown()
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    lat = np.asarray(latencies)
    return {"rounds": rounds, "canceled": int(sum(s == GoalStatus.STATUS_CANCELED for s in statuses)),
            "p50_s": float(np.median(lat)), "p95_s": float(np.percentile(lat, 95)), "max_s": float(lat.max())}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args(argv)
    summary = measure(args.rounds)
    print(f"canceled {summary['canceled']}/{summary['rounds']}; cancel -> result p50 {summary['p50_s']:.3f} s, "
          f"p95 {summary['p95_s']:.3f} s, max {summary['max_s']:.3f} s")  # fmt: skip
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
