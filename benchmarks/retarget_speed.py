"""Retargeting speed and accuracy: ms per dex-retargeting solve and fingertip errors per posture.

    python benchmarks/retarget_speed.py [--robots leap_hand allegro_hand] [--modes position vector] [--repeats 5]

For every robot and mode, retargets the five canonical OpenHand postures (wrist at the origin)
`repeats` times and prints the fingertip error (mm, robot frame: robot fingertip frame vs its
scaled human target) per posture and the median solve time; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from gdexgrasp_ros.hand.postures import AFFORDANCES, canonical_posture  # noqa: E402
from gdexgrasp_ros.retarget.retargeter import load_retargeter  # noqa: E402
from gdexgrasp_ros.viz.scene_render import human_hand  # noqa: E402


def run(robot: str, mode: str, repeats: int) -> dict:
    started = time.perf_counter()
    retargeter = load_retargeter(robot, mode=mode)
    build_ms = 1000 * (time.perf_counter() - started)
    rows, solve_ms = {}, []
    for posture in AFFORDANCES:
        kp = human_hand(canonical_posture(posture))[2]
        for _ in range(repeats):
            res = retargeter.retarget(kp, np.eye(4))
            solve_ms.append(1000 * res.solve_seconds)
        rows[posture] = {"mean_mm": round(res.mean_fingertip_error_mm, 1), "max_mm": round(res.max_fingertip_error_mm, 1),
                         "clamped": list(res.clamped_joints)}  # fmt: skip
        print(f"{robot:12s} {mode:8s} {posture:17s} fingertip error mean {res.mean_fingertip_error_mm:5.1f} mm, "
              f"max {res.max_fingertip_error_mm:5.1f} mm ({', '.join(f'{d} {e:.1f}' for d, e in res.fingertip_errors_mm.items())})")  # fmt: skip
    median = statistics.median(solve_ms)
    print(f"{robot:12s} {mode:8s} build {build_ms:.0f} ms, solve median {median:.1f} ms, max {max(solve_ms):.1f} ms")
    return {"build_ms": round(build_ms, 1), "solve_ms_median": round(median, 2), "postures": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", default=["leap_hand", "allegro_hand"])
    parser.add_argument("--modes", nargs="+", default=["position", "vector"], choices=["position", "vector"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    human_hand(canonical_posture(AFFORDANCES[0]))  # build the hand model before timing anything
    results = {f"{r}/{m}": run(r, m, args.repeats) for r in args.robots for m in args.modes}
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
