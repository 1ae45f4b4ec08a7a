"""`gdexgrasp-hand`: look at the hand models.

gdexgrasp-hand render --posture handle-grip -o out.png
gdexgrasp-hand render --posture all -o out_dir/
gdexgrasp-hand render --joints 0,0.5,... -o out.png
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import torch

from ..geometry.rotations import matrix_to_rot6d
from .open_hand import OpenHand
from .postures import AFFORDANCES, canonical_posture
from .render import render_hand_views


def _render(hand: OpenHand, joints: torch.Tensor, title: str, path: pathlib.Path) -> None:
    out = hand.forward(matrix_to_rot6d(torch.eye(3)[None]), torch.zeros(1, 3), joints[None])
    render_hand_views(out.vertices[0].numpy(), hand.faces.numpy(), title, str(path), out.keypoints[0].numpy())
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gdexgrasp-hand", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render the open hand from three views to PNG")
    group = r.add_mutually_exclusive_group()
    group.add_argument("--posture", default="base-support", choices=AFFORDANCES + ("all", "rest"))
    group.add_argument("--joints", help="16 comma-separated joint angles (rad), OpenHand order")
    r.add_argument("-o", "--output", required=True, help="PNG path (a directory with --posture all)")
    args = parser.parse_args(argv)

    hand = OpenHand()
    out = pathlib.Path(args.output)
    if args.joints:
        values = [float(v) for v in args.joints.split(",")]
        if len(values) != hand.dof:
            parser.error(f"--joints needs {hand.dof} values, got {len(values)}")
        q = torch.tensor(values)
        lo, hi = hand.joint_limits.unbind(-1)
        if ((q < lo) | (q > hi)).any():
            print("warning: some joints are outside their limits", file=sys.stderr)
        _render(hand, q, "custom joints", out)
    elif args.posture == "all":
        out.mkdir(parents=True, exist_ok=True)
        for name in AFFORDANCES:
            _render(hand, torch.tensor(canonical_posture(name), dtype=torch.float32), name, out / f"{name}.png")
    else:
        q = torch.zeros(hand.dof) if args.posture == "rest" else torch.tensor(canonical_posture(args.posture))
        _render(hand, q.float(), args.posture, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
