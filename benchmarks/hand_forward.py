"""Hand model speed: forward + backward for a batch of hands on CPU (and CUDA when present).

    python benchmarks/hand_forward.py [--batch 32] [--repeats 50] [--threads 2]

Prints the median over repeats of each timed step and ends with one JSON line.
Target (issue 3): forward + backward for batch 32 on CPU <= 10 ms.
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

from gdexgrasp_ros.geometry.rotations import matrix_to_rot6d  # noqa: E402
from gdexgrasp_ros.hand import OpenHand  # noqa: E402
from gdexgrasp_ros.hand.postures import sample_postures  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_ms(fn, repeats: int, device, label: str) -> float:
    fn()  # warm-up
    times = []
    for _ in tqdm(range(repeats), desc=label, leave=False):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def bench(device: torch.device, batch: int, repeats: int, n_points: int) -> dict:
    hand = OpenHand(device=device)
    q0 = sample_postures("handle-grip", batch, seed=0).to(device)
    r0 = matrix_to_rot6d(torch.eye(3, device=device).expand(batch, 3, 3)).clone()
    t0 = torch.zeros(batch, 3, device=device)
    pts = (torch.rand(batch, n_points, 3, generator=torch.Generator().manual_seed(0)) * 0.2).to(device)

    def params():
        return [x.clone().requires_grad_(True) for x in (r0, t0, q0)]

    def fwd():
        with torch.no_grad():
            hand.forward(r0, t0, q0)

    def fwd_bwd():
        r, t, q = params()
        out = hand.forward(r, t, q)
        (out.vertices.square().sum() + out.keypoints.sum()).backward()

    def sdf_fwd_bwd():
        r, t, q = params()
        out = hand.forward(r, t, q)
        hand.signed_distance(out, pts).clamp(max=0).sum().backward()

    def spen_fwd_bwd():
        r, t, q = params()
        hand.self_penetration(hand.forward(r, t, q)).sum().backward()

    return {
        "device": str(device),
        "batch": batch,
        "vertices": int(hand.local_vertices.shape[0]),
        "forward_ms": time_ms(fwd, repeats, device, "forward"),
        "forward_backward_ms": time_ms(fwd_bwd, repeats, device, "forward+backward"),
        "sdf_points": n_points,
        "forward_sdf_backward_ms": time_ms(sdf_fwd_bwd, repeats, device, "forward+sdf+backward"),
        "forward_selfpen_backward_ms": time_ms(spen_fwd_bwd, repeats, device, "forward+self-pen+backward"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (our machines have 2 cores)")
    ap.add_argument("--points", type=int, default=2048, help="object points for the signed-distance step")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = [bench(torch.device("cpu"), args.batch, args.repeats, args.points)]
    if torch.cuda.is_available():
        results.append(bench(torch.device("cuda"), args.batch, args.repeats, args.points))
    for r in results:
        print(f"[{r['device']}] batch {r['batch']}, {r['vertices']} vertices:")
        print(f"  forward                         {r['forward_ms']:8.2f} ms")
        print(f"  forward + backward              {r['forward_backward_ms']:8.2f} ms   (target <= 10 ms on CPU)")
        print(f"  forward + SDF({r['sdf_points']}) + backward  {r['forward_sdf_backward_ms']:8.2f} ms")
        print(f"  forward + self-pen + backward   {r['forward_selfpen_backward_ms']:8.2f} ms")
    print(json.dumps({"benchmark": "hand_forward", "threads": args.threads, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
