"""Stage-3 speed: milliseconds per optimizer iteration for K candidates, and time per grasp of each metric.

    python benchmarks/optimizer_iteration.py [--k 8] [--iterations 200] [--threads 2]

Runs sub-stage A and sub-stage B (all terms) on a procedural mug with a handle-grip prior,
on CPU and on CUDA when present, and times each metric on the resulting grasps. Sub-stage B
also runs as on a complete cloud (stage_b_complete: L_revpen judges every scored vertex with
the inside test of geometry.inside; the mug's cloud is a mesh sample with outward normals).
Target (issue 5): <= 5 ms per iteration for K = 8 on CPU. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import torch
from tqdm import tqdm

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from gdexgrasp_ros.hand import OpenHand  # noqa: E402
from gdexgrasp_ros.metrics import contact as M  # noqa: E402
from gdexgrasp_ros.metrics.simulation import simulation_displacement, simulation_displacement_six  # noqa: E402
from gdexgrasp_ros.objects.procedural import generate_object  # noqa: E402
from gdexgrasp_ros.stage1.prior import posture_prior  # noqa: E402
from gdexgrasp_ros.stage2.generation import GenerationInput, PartFacingGenerator  # noqa: E402
from gdexgrasp_ros.stage3.optimizer import ObjectContext, OptimizerConfig, PriorGuidedOptimizer  # noqa: E402


def iteration_ms(device: torch.device, k: int, iterations: int) -> dict:
    hand = OpenHand(device=device)
    obj = generate_object("mug", seed=1)
    mask = obj.part_mask("handle")
    ctx = ObjectContext(obj, mask, device)
    complete = ObjectContext(obj, mask, device, complete=True)
    init = PartFacingGenerator(standoff=0.05).generate(GenerationInput(obj.points, obj.normals, mask, k, hand))
    r6, tr = init.rot6d, init.trans
    prior = posture_prior(hand, "handle-grip", "handle")
    out = {}
    only_a = OptimizerConfig(iterations_a=iterations, iterations_b=0)
    only_b = OptimizerConfig(iterations_a=0, iterations_b=iterations)
    for name, cfg, context in (
        ("stage_a", only_a, ctx),
        ("stage_b", only_b, ctx),
        ("stage_b_complete", only_b, complete),
    ):
        opt = PriorGuidedOptimizer(hand, cfg)
        opt.run(context, prior, r6.to(device), tr.to(device))  # warm-up
        runs = []
        for _ in tqdm(range(3), desc=f"{device.type} {name}", leave=False):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            res = opt.run(context, prior, r6.to(device), tr.to(device))
            if device.type == "cuda":
                torch.cuda.synchronize()
            runs.append((time.perf_counter() - t0) * 1000 / iterations)
        out[name + "_ms_per_iteration"] = statistics.median(runs)
    out["result"] = res
    out["hand"], out["obj"], out["mask"] = hand, obj, mask
    return out


def metric_seconds(hand, obj, mask, res) -> dict:
    verts = hand.forward(res.rot6d, res.trans, res.joints).vertices.detach().cpu()
    faces = hand.faces.cpu().numpy()
    v0 = verts[0].numpy()
    timings = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        fn()
        timings[name] = time.perf_counter() - t0

    timed("penetration_depth_s", lambda: M.penetration_depth(v0, obj.mesh))
    first = hand.forward(res.rot6d[:1].cpu(), res.trans[:1].cpu(), res.joints[:1].cpu())

    def sdf(p):
        return hand.signed_distance(first, torch.as_tensor(p, dtype=torch.float32)[None])[0].numpy()

    timed("intersection_volume_s", lambda: M.intersection_volume(obj.mesh, sdf))
    timed("part_contact_ratio_s", lambda: M.part_contact_ratio(v0, obj.points, mask))
    timed("force_closure_residual_s", lambda: M.force_closure_residual(v0, obj.points, obj.normals))
    simulation_displacement(v0, faces, obj.mesh)  # builds the cached convex decomposition
    timed("simulation_displacement_s", lambda: simulation_displacement(v0, faces, obj.mesh))
    timed("simulation_displacement_six_s", lambda: simulation_displacement_six(v0, faces, obj.mesh))
    return timings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the server default, cpu_threads)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    report = {"benchmark": "optimizer_iteration", "k": args.k, "threads": args.threads, "devices": {}}
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for dev in devices:
        r = iteration_ms(dev, args.k, args.iterations)
        report["devices"][dev.type] = {k: v for k, v in r.items() if k.endswith("iteration")}
        print(f"[{dev.type}] K={args.k}: sub-stage A {r['stage_a_ms_per_iteration']:.2f} ms/it, "
              f"sub-stage B {r['stage_b_ms_per_iteration']:.2f} ms/it, on a complete cloud "
              f"{r['stage_b_complete_ms_per_iteration']:.2f} ms/it (target <= 5 ms on CPU)")  # fmt: skip
        if dev.type == "cpu":
            report["metrics_per_grasp_s"] = metric_seconds(r["hand"], r["obj"], r["mask"], r["result"])
    for name, seconds in report["metrics_per_grasp_s"].items():
        print(f"  {name:32s} {seconds * 1000:9.1f} ms")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
