"""Offline rendering of hands: three z-buffered views per PNG (no display needed), and the
`gdexgrasp-hand` command that looks at the hand models with them:

    gdexgrasp-hand render --posture handle-grip -o out.png
    gdexgrasp-hand render --posture all -o out_dir/
    gdexgrasp-hand render --joints 0,0.5,... -o out.png

(`python -m gdexgrasp_ros.viz.hand_render render ...` is the same command.)
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from ..geometry.rotations import matrix_to_rot6d  # noqa: E402
from ..hand.open_hand import OpenHand  # noqa: E402
from ..hand.postures import AFFORDANCES, canonical_posture  # noqa: E402
from .raster import Canvas, look_rotation  # noqa: E402

SKIN = (0.93, 0.76, 0.65)
# (title, elevation, azimuth) in the wrist frame: +x fingers, +y thumb side, +z back of the hand.
VIEWS = (("back of the hand (+z)", 89.9, -90.0), ("thumb side (+y)", 0.0, 90.0), ("palm, three-quarter", -40.0, -60.0))


def render_views(meshes, title: str, path: str, points=(), views=VIEWS, size: int = 360) -> None:
    """meshes: [(vertices, faces, rgb)], points: [(pts, rgb)]; writes a PNG with one panel per view."""
    allv = np.concatenate([m[0] for m in meshes] + [p[0] for p in points])
    center = (allv.min(0) + allv.max(0)) / 2
    extent = 0.55 * (allv.max(0) - allv.min(0)).max()
    fig, axes = plt.subplots(1, len(views), figsize=(4.2 * len(views), 4.4))
    for ax, (name, elev, azim) in zip(np.atleast_1d(axes), views, strict=True):
        canvas = Canvas(look_rotation(elev, azim), center, extent, size)
        for v, f, rgb in meshes:
            canvas.mesh(v, f, rgb)
        for pts, rgb in points:
            canvas.points(pts, rgb)
        ax.imshow(canvas.image)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render_hand_views(vertices: np.ndarray, faces: np.ndarray, title: str, path: str,
                      keypoints: np.ndarray | None = None) -> None:  # fmt: skip
    pts = [(keypoints, (0.1, 0.3, 0.9))] if keypoints is not None else []
    render_views([(vertices, faces, SKIN)], title, path, pts)


# -- the gdexgrasp-hand command -----------------------------------------------------------------
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
