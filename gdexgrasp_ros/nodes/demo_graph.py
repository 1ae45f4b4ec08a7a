"""`make demo`: the bundled default scene through the running ROS graph.

Starts the nodes with the wheel launcher (`launch_local`: the synthesis server, configured and
activated through its lifecycle, the retargeting node and the grasp input node), waits until the
server is active, publishes the scene's 640x480 camera cloud on `object_cloud` (sensor-data QoS)
and the instruction on `instruction`. The input node sends the goal; the demo receives its status
line, the ranked grasps and the retargeting node's JointState, prints a table, writes PNGs and
result.json to --out, and stops the graph (every node must exit 0).

    python -m gdexgrasp_ros.nodes.demo_graph [--out out/demo] [--iterations 700] [--robot leap_hand]
    python -m gdexgrasp_ros.nodes.demo_graph --library     # the same scene through the library only
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

import numpy as np
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _params_file(out: pathlib.Path, iterations: int, robot: str) -> pathlib.Path:
    """The package's parameter file with the demo's settings (schedule, robot, the goals' category)."""
    params = yaml.safe_load((ROOT / "config" / "gdexgrasp.yaml").read_text())
    params["/**/grasp_synthesis_server"]["ros__parameters"].update(iterations_a=iterations, iterations_b=iterations,
                                                               robot_hand=robot)  # fmt: skip
    params["/**/retargeting_node"]["ros__parameters"].update(robot_hand=robot if robot != "none" else "leap_hand")
    params["/**/grasp_input_node"]["ros__parameters"].update(object_category="kettle", max_grasps=3, timeout=600.0,
                                                         server_wait=120.0, cloud_wait=30.0)  # fmt: skip
    path = out / "demo_params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


class _Probe:
    """The demo's own node: publishes the scene, collects what the graph answers."""

    def __init__(self, ns: str):
        import rclpy
        from gdexgrasp_msgs.msg import HandGrasp
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import JointState, PointCloud2
        from std_msgs.msg import String

        rclpy.init()
        self.node = rclpy.create_node("gdexgrasp_demo", namespace=ns)
        self.status, self.grasps, self.joint_states = [], [], []
        self.node.create_subscription(String, "status", lambda m: self.status.append(json.loads(m.data)), 10)
        self.node.create_subscription(HandGrasp, "ranked_grasps", self.grasps.append, 64)
        self.node.create_subscription(JointState, "joint_states", self.joint_states.append, 10)
        self.cloud_pub = self.node.create_publisher(PointCloud2, "object_cloud", qos_profile_sensor_data)
        # Latched, as a task planner publishes it: the server's latched and volatile subscriptions both match.
        latched = QoSProfile(depth=1, durability=QoSDurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=QoSReliabilityPolicy.RELIABLE)  # fmt: skip
        self.instruction_pub = self.node.create_publisher(String, "instruction", latched)
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(self.node)
        threading.Thread(target=self.executor.spin, daemon=True).start()

    def input_node_listening(self) -> bool:
        topic = self.instruction_pub.topic_name
        return any(i.node_name == "grasp_input_node" for i in self.node.get_subscriptions_info_by_topic(topic))

    def server_state(self) -> str:
        from lifecycle_msgs.srv import GetState

        client = self.node.create_client(GetState, "grasp_synthesis_server/get_state")
        if not client.wait_for_service(timeout_sec=1.0):
            return "unknown"
        future = client.call_async(GetState.Request())
        _wait(future.done, 5.0, "the server's state")
        return future.result().current_state.label

    def close(self) -> None:
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def _wait(predicate, timeout: float, what: str, launcher: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if launcher is not None and launcher.poll() is not None:
            raise RuntimeError(f"the launcher exited ({launcher.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def run_graph(out: pathlib.Path, iterations: int, robot: str, timeout: float) -> dict:
    from std_msgs.msg import Header, String

    from ..demo import INSTRUCTION, default_scene
    from .cloud_conversions import arrays_to_cloud

    out.mkdir(parents=True, exist_ok=True)
    ns = f"gdexgrasp_demo_{os.getpid()}"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    launcher = subprocess.Popen([sys.executable, "-m", "gdexgrasp_ros.nodes.launch_local", "--namespace", ns,
                                 "--params-file", str(_params_file(out, iterations, robot))], env=env)  # fmt: skip
    scene = default_scene()
    cloud = arrays_to_cloud(scene.cloud.points, Header(frame_id="camera_optical_frame"))
    probe = _Probe(ns)
    started = time.monotonic()
    try:
        print(f"[demo] starting the graph in /{ns} ...", flush=True)
        _wait(lambda: probe.server_state() == "active", 180.0, "the synthesis server to become active", launcher)
        _wait(probe.input_node_listening, 60.0, "the input node", launcher)
        stop = threading.Event()

        def stream():  # a camera publishes continuously
            while not stop.is_set():
                probe.cloud_pub.publish(cloud)
                stop.wait(0.2)

        threading.Thread(target=stream, daemon=True).start()
        time.sleep(1.0)
        sent = time.monotonic()
        print(f"[demo] graph up in {sent - started:.1f} s; instruction: {INSTRUCTION!r}", flush=True)
        probe.instruction_pub.publish(String(data=INSTRUCTION))
        _wait(lambda: probe.status, timeout, "the input node's status line", launcher)
        status = probe.status[0]
        open_q = list(probe.joint_states[0].position) if probe.joint_states else None
        _wait(lambda: status["error_code"] != "SUCCESS" or (probe.joint_states and
              list(probe.joint_states[-1].position) != open_q), 20.0, "the robot hand's JointState")  # fmt: skip
        stop.set()
        return _summary(scene, status, probe, time.monotonic() - sent, out)
    finally:
        probe.close()
        launcher.send_signal(signal.SIGINT)
        try:
            code = launcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            launcher.kill()  # never leave a graph running behind the demo
            code = launcher.wait()
        print(f"[demo] graph stopped (launcher exit {code})", flush=True)
        if code != 0:
            raise RuntimeError(f"the graph did not shut down cleanly (launcher exit {code})")


def _summary(scene, status: dict, probe: _Probe, seconds: float, out: pathlib.Path) -> dict:
    grasps = sorted(probe.grasps, key=lambda g: g.id)[: status["grasps"]]
    js = probe.joint_states[-1] if probe.joint_states else None
    summary = {**status, "end_to_end_s": round(seconds, 2),
               "ranked_grasps": [{"id": g.id, "score": round(g.quality.score, 3),
                                  "penetration_mm": round(g.quality.penetration_depth * 1000, 2),
                                  "part_contact_ratio": round(g.quality.part_contact_ratio, 2),
                                  "contacts": g.quality.contact_count, "robot": g.robot_name} for g in grasps],
               "robot_joint_state": {} if js is None else dict(zip(js.name, (round(v, 3) for v in js.position),
                                                                    strict=True))}  # fmt: skip
    (out / "result.json").write_text(json.dumps(summary, indent=2))
    if grasps:
        _render(scene, status, grasps, out)
    return summary


def _render(scene, status: dict, grasps, out: pathlib.Path) -> None:
    """Each grasp alone, and all of them with the robot hand at the best one's retargeted joints."""
    from ..retarget.retargeter import load_retargeter
    from ..viz.scene_render import SceneGrasp, render_scene, robot_hand_meshes
    from .grasp_conversions import pose_to_matrix

    T = scene.cloud.cam_to_world
    target = scene.cloud.object_index.reshape(-1) == 0
    pts = scene.cloud.points.reshape(-1, 3)[target]
    parts = scene.cloud.part_ids.reshape(-1)[target]
    world = pts @ T[:3, :3].T + T[:3, 3]
    names = scene.objects[0].part_names
    part_id = names.index(status["contact_part"]) if status["contact_part"] in names else None
    scene_grasps = [SceneGrasp(np.asarray(g.joint_positions), T @ pose_to_matrix(g.wrist_pose)) for g in grasps[:3]]
    title = f"{status['affordance']} on the {status['contact_part']} (through the ROS graph)"
    for i, g in enumerate(scene_grasps):
        render_scene(str(out / f"grasp_{i}.png"), world, parts, [g], None, part_id, f"grasp {i}: {title}")
    best, robot = grasps[0], None
    if best.robot_name:
        posture = best.grasp_posture
        joints = dict(zip(posture.joint_names, posture.points[0].positions, strict=True))
        urdf = load_retargeter(best.robot_name).config.urdf_path
        robot = robot_hand_meshes(urdf, joints, T @ pose_to_matrix(best.robot_wrist_pose))
    render_scene(str(out / "scene_robot.png"), world, parts, scene_grasps, robot, part_id, title)
    print(f"[demo] wrote {len(scene_grasps) + 1} PNGs and result.json to {out}", flush=True)


def _print_table(summary: dict) -> None:
    print(f"\ninstruction: {summary['instruction']}\nresult: {summary['error_code']} {summary['error_string']}"
          f"\naffordance: {summary['affordance']}, contact part: {summary['contact_part']}"
          f"\nend to end (instruction published -> robot JointState): {summary['end_to_end_s']} s"
          f"; goal {summary['seconds']} s")  # fmt: skip
    for stage, sec in summary["timings"].items():
        print(f"  {stage:<13} {sec:8.3f} s")
    print(f"{'grasp':<9}{'score':>7}{'pen. mm':>9}{'on part':>9}{'contacts':>10}  robot")
    for g in summary["ranked_grasps"]:
        print(f"{g['id']:<9}{g['score']:>7.3f}{g['penetration_mm']:>9.2f}{g['part_contact_ratio']:>9.2f}"
              f"{g['contacts']:>10}  {g['robot']}")  # fmt: skip
    print(f"robot joint state: {summary['robot_joint_state']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--iterations", type=int, default=700, help="iterations of each optimization sub-stage")
    ap.add_argument("--robot", default="leap_hand", help="robot hand to retarget to")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the result")
    ap.add_argument("--library", action="store_true", help="run the pipeline in-process instead (no ROS graph)")
    args, rest = ap.parse_known_args(argv)
    if args.library:
        from ..demo import main as library_demo

        return library_demo(["--out", args.out, "--iterations", str(args.iterations), "--robot", args.robot, *rest])
    # One DDS domain per demo, discovery on this machine: a demo never talks to a robot's graph.
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    try:
        summary = run_graph(pathlib.Path(args.out), args.iterations, args.robot, args.timeout)
    except (RuntimeError, TimeoutError) as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
    _print_table(summary)
    return 0 if summary["error_code"] == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
