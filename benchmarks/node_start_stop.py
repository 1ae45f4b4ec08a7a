"""Start/stop robustness of the nodes: N start -> ready -> (work) -> SIGINT/SIGTERM cycles each.

    python benchmarks/node_start_stop.py [--cycles 100] [--nodes retargeting server]
        [--phase idle|mid-goal|mid-retargeting|all] [--hang-after 20] [--logs out/node_start_stop]

Each cycle starts the node as its own process (`python -m gdexgrasp_ros.nodes.<node> --ros-args
--params-file config/gdexgrasp.yaml -r __ns:=/cycleN_<tag>`), waits for its "ready:" log line,
optionally puts it mid-work, then sends SIGINT (even cycles) or SIGTERM (odd cycles) and records
the exit code and the time from the signal to the exit. Phases:
- idle: nothing sent;
- mid-retargeting (retargeting node): a burst of HandGrasp messages is published on `grasp`; the
  signal goes out when the first `retargeted_grasp` comes back, the rest still queued or solving;
- mid-goal (server): a SynthesizeGrasp goal on the demo scene's cloud; the signal goes out at the
  first "optimization" feedback. The goal's final status (aborted / canceled / succeeded / none:
  no result reached the client) is counted too.
A clean exit is rc 0 with no "Traceback" in the output; a crash is any other exit code (negative:
killed by that signal, e.g. -11 SIGSEGV; 134: abort); a hang is no exit within --hang-after
seconds (then SIGKILL). Logs of unclean runs go to --logs. Prints per node / phase / signal
counts and median / max exit times, and ends with one JSON line. test/test_shutdown.py runs a
few cycles of each with the same functions.

DDS: one ROS_DOMAIN_ID per run (derived from the pid, as the tests do), discovery on localhost
only, a unique namespace per cycle.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

NODES = {"retargeting": "gdexgrasp_ros.nodes.retargeting_node", "server": "gdexgrasp_ros.nodes.grasp_synthesis_server"}
PHASES = {"retargeting": ("idle", "mid-retargeting"), "server": ("idle", "mid-goal")}
SIGNALS = (signal.SIGINT, signal.SIGTERM)
PARAMS = str(ROOT / "config" / "gdexgrasp.yaml")
# A fast server start: few optimizer iterations (the models load either way).
SERVER_ARGS = ["-p", "iterations_a:=50", "-p", "iterations_b:=50"]
READY = "]: ready:"  # a node's "ready: ..." log line
OUTCOMES = ("clean", "crash", "hang", "traceback", "no_start", "no_work")


@dataclass
class CycleResult:
    node: str
    phase: str
    signal: str
    cycle: int
    outcome: str  # one of OUTCOMES
    returncode: int | None = None
    start_s: float = 0.0  # process start -> ready line
    exit_s: float | None = None  # signal -> exit
    goal_status: str | None = None  # mid-goal: how the running goal ended, as the client saw it
    note: str = ""
    log: str = field(default="", repr=False)


def node_command(node: str, namespace: str, extra: list[str]) -> list[str]:
    """How the benchmark starts `node` (as `ros2 run` would, with the project's parameters file)."""
    return [sys.executable, "-m", NODES[node], "--ros-args", "--params-file", PARAMS, "-r", f"__ns:={namespace}",
            *extra]  # fmt: skip


class NodeProcess:
    """A node process whose output is read on a thread (so a chatty node never blocks on its pipe)."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None):
        env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="1", **(env or {}))
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float) -> bool:
        """Wait until an output line holds `text`; False if the process exits or the time is up first."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return any(text in line for line in self.lines)
            time.sleep(0.02)
        return True

    def wait_ready(self, timeout: float) -> bool:
        return self.wait_for(READY, timeout)

    def stop(self, sig: int, hang_after: float) -> tuple[int | None, float]:
        """Send `sig`; (exit code or None for a hang (then killed), seconds to exit)."""
        sent = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=hang_after)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        return rc, time.monotonic() - sent

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def text(self) -> str:
        self._reader.join(timeout=5.0)
        return "".join(self.lines)


class Client:
    """This process's ROS side: puts a node mid-work. Spun only from the calling thread (no executor
    thread running while a cycle's entities are destroyed)."""

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self._rclpy = rclpy
        if not rclpy.ok():
            rclpy.init()
        self.executor = SingleThreadedExecutor()
        self._grasps = self._goal = None

    def close(self) -> None:
        self.executor.shutdown()
        self._rclpy.try_shutdown()

    def spin_until(self, predicate, timeout: float, proc: NodeProcess) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or proc.proc.poll() is not None:
                return False
            self.executor.spin_once(timeout_sec=0.02)
        return True

    def node(self, namespace: str):
        node = self._rclpy.create_node(f"start_stop_client_{uuid.uuid4().hex[:6]}", namespace=namespace)
        self.executor.add_node(node)
        return node

    def forget(self, node) -> None:
        self.executor.remove_node(node)
        node.destroy_node()

    # -- mid-retargeting --------------------------------------------------------------------
    def grasps(self):
        if self._grasps is None:
            self._grasps = [_hand_grasp(f"burst_{i}", posture) for i, posture in enumerate(_postures() * 2)]
        return self._grasps

    def retargeting_burst(self, namespace: str, proc: NodeProcess, timeout: float = 30.0) -> str:
        """Publish a burst of grasps; return once the first is answered (the rest still queued / solving)."""
        from gdexgrasp_msgs.msg import HandGrasp

        node = self.node(namespace)
        answered = []
        try:
            pub = node.create_publisher(HandGrasp, "grasp", 20)
            node.create_subscription(HandGrasp, "retargeted_grasp", answered.append, 20)
            if not self.spin_until(lambda: pub.get_subscription_count() > 0, timeout, proc):
                return "the grasp subscription never matched"
            for msg in self.grasps():
                pub.publish(msg)
            if not self.spin_until(lambda: answered, timeout, proc):
                return "no retargeted grasp came back"
            return ""
        finally:
            self.forget(node)

    # -- mid-goal ---------------------------------------------------------------------------
    def goal(self):
        if self._goal is None:
            self._goal = _demo_goal()
        return self._goal

    def start_goal(self, namespace: str, proc: NodeProcess, timeout: float = 60.0, goal=None,
                   wait_for_stage: str | None = "optimization"):  # fmt: skip
        """Send `goal` (default: the demo goal); return (node, result future or None, problem) once
        the goal is accepted and its feedback has reached `wait_for_stage`."""
        from gdexgrasp_msgs.action import SynthesizeGrasp
        from rclpy.action import ActionClient

        node = self.node(namespace)
        stages = []
        client = ActionClient(node, SynthesizeGrasp, "synthesize_grasp")
        if not self.spin_until(client.server_is_ready, timeout, proc):
            return node, None, "the action server never became ready"
        sent = client.send_goal_async(goal or self.goal()[0],
                                      feedback_callback=lambda f: stages.append(f.feedback.stage_name))  # fmt: skip
        if not self.spin_until(sent.done, timeout, proc) or not sent.result().accepted:
            return node, None, "the goal was not accepted"
        result = sent.result().get_result_async()
        if wait_for_stage and not self.spin_until(lambda: wait_for_stage in stages or result.done(), timeout, proc):
            return node, result, f"no {wait_for_stage} feedback"
        return node, result, "" if not result.done() else "the goal finished before the signal"

    def goal_status(self, node, result, proc: NodeProcess, wait: float = 3.0) -> str:
        """How the goal ended as the client saw it (a result sent before the server exited)."""
        from action_msgs.msg import GoalStatus

        if result is not None:
            deadline = time.monotonic() + wait
            while not result.done() and time.monotonic() < deadline:
                self.executor.spin_once(timeout_sec=0.02)
        self.forget(node)
        if result is None or not result.done():
            return "none"
        names = {GoalStatus.STATUS_ABORTED: "aborted", GoalStatus.STATUS_CANCELED: "canceled",
                 GoalStatus.STATUS_SUCCEEDED: "succeeded"}  # fmt: skip
        return names.get(result.result().status, f"status {result.result().status}")


def _postures():
    from gdexgrasp_ros.hand.postures import AFFORDANCES

    return list(AFFORDANCES)


def _hand_grasp(gid: str, posture: str):
    """A HandGrasp of an OpenHand posture (keypoints, joints, a wrist pose) in frame `object`."""
    import numpy as np
    from gdexgrasp_msgs.msg import HandGrasp

    from gdexgrasp_ros.hand.open_hand import JOINT_NAMES
    from gdexgrasp_ros.hand.postures import canonical_posture
    from gdexgrasp_ros.nodes.grasp_conversions import matrix_to_pose, points_msg
    from gdexgrasp_ros.viz.scene_render import human_hand

    W = np.eye(4)
    W[:3, 3] = [0.3, -0.1, 0.5]
    q = canonical_posture(posture)
    kp = human_hand(q, W)[2]
    msg = HandGrasp(id=gid, hand_model="open_hand", joint_names=list(JOINT_NAMES), joint_positions=q.tolist(),
                    affordance=posture, keypoints=points_msg(kp), wrist_pose=matrix_to_pose(W))  # fmt: skip
    msg.header.frame_id = "object"
    msg.contact_points = [msg.keypoints[i] for i in (4, 8, 12)]
    return msg


def _demo_goal():
    """(the demo scene's SynthesizeGrasp goal, the server arguments naming its part labels)."""
    import numpy as np
    from gdexgrasp_msgs.action import SynthesizeGrasp
    from std_msgs.msg import Header

    from gdexgrasp_ros.demo import INSTRUCTION, default_scene
    from gdexgrasp_ros.nodes.cloud_conversions import arrays_to_cloud

    s = default_scene(0)
    labels = np.where(s.cloud.object_index == 0, s.cloud.part_ids, -1)
    cloud = arrays_to_cloud(s.cloud.points, Header(frame_id="camera_optical_frame"), labels)
    goal = SynthesizeGrasp.Goal(cloud=cloud, instruction=INSTRUCTION, object_category="kettle", max_grasps=1)
    names = "label_names:=" + json.dumps(list(s.objects[0].part_names))
    return goal, ["-p", names]


def run_cycle(node: str, phase: str, sig: int, cycle: int, client: Client | None = None, *,
              ready_timeout: float = 120.0, hang_after: float = 20.0, goal_iterations: int = 400) -> CycleResult:  # fmt: skip
    """One start -> ready -> (work) -> signal -> exit cycle of `node`."""
    assert phase in PHASES[node], f"{node} has no phase {phase}"
    namespace = f"/cycle{cycle}_{uuid.uuid4().hex[:6]}"
    extra = list(SERVER_ARGS) if node == "server" else []
    if phase == "mid-goal":  # long enough that the signal lands mid-optimization
        extra = ["-p", f"iterations_a:={goal_iterations}", "-p", f"iterations_b:={goal_iterations}"]
        extra += client.goal()[1]
    res = CycleResult(node, phase, signal.Signals(sig).name, cycle, "clean")
    proc = NodeProcess(node_command(node, namespace, extra))
    if not proc.wait_ready(ready_timeout):
        proc.kill()
        res.outcome, res.returncode, res.log = "no_start", proc.proc.returncode, proc.text()
        return res
    res.start_s = time.monotonic() - proc.started
    goal = None
    if phase == "mid-retargeting":
        res.note = client.retargeting_burst(namespace, proc)
    elif phase == "mid-goal":
        goal_node, result, res.note = client.start_goal(namespace, proc)
        goal = (goal_node, result)
    res.returncode, res.exit_s = proc.stop(sig, hang_after)
    if goal is not None:
        res.goal_status = client.goal_status(*goal, proc)
    res.log = proc.text()
    if res.returncode is None:
        res.outcome = "hang"
    elif res.returncode != 0:
        res.outcome = "crash"
    elif "Traceback" in res.log:
        res.outcome = "traceback"
    elif res.note:
        res.outcome = "no_work"  # exited cleanly, but the signal did not land mid-work
    return res


def summarize(results: list[CycleResult]) -> dict:
    groups = defaultdict(list)
    for r in results:
        groups[f"{r.node}/{r.phase}/{r.signal}"].append(r)
    out = {}
    for key, rs in sorted(groups.items()):
        times = [r.exit_s for r in rs if r.exit_s is not None and r.returncode is not None]
        starts = [r.start_s for r in rs if r.start_s]
        out[key] = {
            "cycles": len(rs),
            **{k: sum(r.outcome == k for r in rs) for k in OUTCOMES},
            "killed_by_signal": sum(r.returncode is not None and r.returncode < 0 for r in rs),
            "return_codes": dict(Counter(str(r.returncode) for r in rs)),
            "exit_s_median": round(statistics.median(times), 3) if times else None,
            "exit_s_max": round(max(times), 3) if times else None,
            "start_s_median": round(statistics.median(starts), 2) if starts else None,
        }
        statuses = [r.goal_status for r in rs if r.goal_status is not None]
        if statuses:
            out[key]["goal_status"] = dict(Counter(statuses))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=100, help="cycles per node and phase (signals alternate)")
    ap.add_argument("--nodes", nargs="+", choices=sorted(NODES), default=sorted(NODES))
    ap.add_argument("--phase", choices=["idle", "mid-goal", "mid-retargeting", "all"], default="idle")
    ap.add_argument("--hang-after", type=float, default=20.0, help="seconds after the signal that count as a hang")
    ap.add_argument("--goal-iterations", type=int, default=400, help="optimizer iterations (A and B) for mid-goal")
    ap.add_argument("--logs", type=pathlib.Path, default=ROOT / "out" / "node_start_stop", help="logs of unclean runs")
    args = ap.parse_args()

    from tqdm import tqdm

    plan = [(n, p) for n in args.nodes for p in PHASES[n] if args.phase in ("all", p)]
    if not plan:
        ap.error(f"no node of {args.nodes} has phase {args.phase}")
    client = Client() if any(p != "idle" for _, p in plan) else None
    if client is not None and any(p == "mid-retargeting" for _, p in plan):
        client.grasps()  # build this process's hand model before timing anything
    results: list[CycleResult] = []
    started = time.monotonic()
    bar = tqdm(total=len(plan) * args.cycles, unit="cycle", file=sys.stderr)
    try:
        for node, phase in plan:
            for i in range(args.cycles):
                r = run_cycle(node, phase, SIGNALS[i % 2], i, client, hang_after=args.hang_after,
                              goal_iterations=args.goal_iterations)  # fmt: skip
                results.append(r)
                if r.outcome != "clean":
                    args.logs.mkdir(parents=True, exist_ok=True)
                    path = args.logs / f"{node}_{phase}_{i}_{r.signal}_{r.outcome}.log"
                    path.write_text(r.log)
                    tqdm.write(f"{node} {phase} cycle {i} {r.signal}: {r.outcome} rc={r.returncode} "
                               f"{r.note} -> {path}", file=sys.stderr)  # fmt: skip
                bar.set_postfix_str(f"{node} {phase}")
                bar.update()
    finally:
        bar.close()
        if client is not None:
            client.close()
    summary = summarize(results)
    for key, s in summary.items():
        goals = f", goals {s['goal_status']}" if "goal_status" in s else ""
        print(f"{key:36s} {s['cycles']:4d} cycles: {s['clean']} clean, {s['crash']} crash "
              f"({s['killed_by_signal']} killed by a signal), {s['hang']} hang, {s['traceback']} traceback, "
              f"{s['no_start']} no start, {s['no_work']} not mid-work; exit median {s['exit_s_median']} s, "
              f"max {s['exit_s_max']} s; start median {s['start_s_median']} s; codes {s['return_codes']}{goals}")  # fmt: skip
    total = {k: sum(s[k] for s in summary.values()) for k in ("cycles", "clean", "crash", "hang", "traceback")}
    print(json.dumps({"benchmark": "node_start_stop", "phase": args.phase, "cycles_per_group": args.cycles,
                      "seconds": round(time.monotonic() - started, 1), "total": total, "groups": summary,
                      "unclean": [{k: v for k, v in asdict(r).items() if k != "log"} for r in results
                                  if r.outcome != "clean"]}))  # fmt: skip


if __name__ == "__main__":
    main()
