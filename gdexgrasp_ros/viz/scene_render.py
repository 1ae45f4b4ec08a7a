"""Offline renders (PNG, no display) of grasp scenes and of retargeting, with viz/raster.py.

- `render_scene`: object points coloured by part (contact part highlighted), the top human-hand
  grasps coloured by rank (as the RViz markers are), and the robot hand at its retargeted joints
  (our URDF's primitives posed by yourdfpy forward kinematics) in a second row.
- `render_posture_comparison`: the human hand (scaled to the robot's size) above the retargeted
  robot hand, both in the robot base frame (fingers up), with the targets and the robot's fingertips.

    python -m gdexgrasp_ros.viz.scene_render --postures-out DIR [--robot leap_hand] [--mode position]
    python -m gdexgrasp_ros.viz.scene_render --scene-out scene.png [--robot leap_hand]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from dataclasses import dataclass
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .colors import part_colors  # noqa: E402
from .markers import DIMMED, rank_color  # noqa: E402
from .raster import Canvas, look_rotation  # noqa: E402

SKIN = (0.93, 0.76, 0.65)
TARGET_RGB = (0.1, 0.3, 0.9)  # scaled human keypoints the solver aimed for
ROBOT_TIP_RGB = (0.9, 0.1, 0.1)  # where the robot's fingertips ended up
# Robot base frame of both hands: fingers +z (up on screen), palm faces +x, thumb +y.
BASE_VIEWS = (
    ("back of the hand (-x)", 0.0, 180.0),
    ("thumb side (+y)", 0.0, 90.0),
    ("palm, three-quarter", 20.0, 35.0),
)
SCENE_VIEWS = (("front", 20.0, -60.0), ("side", 20.0, 30.0), ("top", 89.9, -90.0))

Mesh = tuple[np.ndarray, np.ndarray, tuple]  # vertices, faces, rgb (or per-face (F, 3))
Points = tuple[np.ndarray, object]  # points, rgb (or per-point (N, 3))


# -- geometry sources ---------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _urdf(path: str):
    import yourdfpy

    return yourdfpy.URDF.load(path)  # primitives become trimesh shapes with the URDF's material colours


def robot_hand_meshes(urdf_path: str | pathlib.Path, joints: dict[str, float], base_pose=None) -> list[Mesh]:
    """The robot's visual primitives posed at joint positions (by name), moved by base_pose (4x4)."""
    urdf = _urdf(str(urdf_path))
    unknown = set(joints) - set(urdf.actuated_joint_names)
    if unknown:
        raise ValueError(f"{urdf_path} has no joints {sorted(unknown)}")
    urdf.update_cfg({n: float(v) for n, v in joints.items()})
    T = np.eye(4) if base_pose is None else np.asarray(base_pose, float)
    out = []
    for mesh in urdf.scene.dump(concatenate=False):
        rgb = tuple(np.asarray(mesh.visual.main_color[:3], float) / 255.0)
        out.append((mesh.vertices @ T[:3, :3].T + T[:3, 3], np.asarray(mesh.faces), rgb))
    return out


@lru_cache(maxsize=1)
def _open_hand():
    from ..hand.open_hand import OpenHand

    return OpenHand()


def human_hand(joints, wrist_pose=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenHand vertices, faces and keypoints (21, 3) at joint angles, wrist at wrist_pose (4x4)."""
    import torch

    from ..geometry.rotations import matrix_to_rot6d

    hand = _open_hand()
    T = np.eye(4) if wrist_pose is None else np.asarray(wrist_pose, float)
    r6 = matrix_to_rot6d(torch.as_tensor(T[:3, :3], dtype=torch.float32)[None])
    out = hand.forward(r6, torch.as_tensor(T[:3, 3], dtype=torch.float32)[None],
                       torch.as_tensor(np.asarray(joints), dtype=torch.float32)[None])  # fmt: skip
    return out.vertices[0].numpy().astype(float), hand.faces.numpy(), out.keypoints[0].numpy().astype(float)


# -- drawing ------------------------------------------------------------------------------------
def _draw_grid(path, rows: list[tuple[str, list[Mesh], list[Points]]], views, title: str, size: int = 340) -> None:
    """One row per (label, meshes, points); the same camera in every row so rows compare directly."""
    allp = [m[0] for _, ms, _ in rows for m in ms] + [p[0] for _, _, ps in rows for p in ps if len(p[0])]
    allp = np.concatenate(allp)
    center = (allp.min(0) + allp.max(0)) / 2
    extent = 0.55 * (allp.max(0) - allp.min(0)).max()
    fig, axes = plt.subplots(len(rows), len(views), figsize=(3.9 * len(views), 4.1 * len(rows)), squeeze=False)
    for r, (label, meshes, points) in enumerate(rows):
        for c, (name, elev, azim) in enumerate(views):
            canvas = Canvas(look_rotation(elev, azim), center, extent, size)
            for v, f, rgb in meshes:
                front = front_faces(v, f, canvas.R[2])
                canvas.mesh(v, f[front], rgb if np.ndim(rgb) == 1 else np.asarray(rgb)[front])
            for pts, rgb in points:
                if len(pts):
                    canvas.points(pts, rgb, radius_px=3)
            axes[r, c].imshow(canvas.image)
            axes[r, c].set_title(f"{label}\n{name}" if c == 0 else name, fontsize=9)
            axes[r, c].axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def front_faces(vertices: np.ndarray, faces: np.ndarray, towards_viewer: np.ndarray) -> np.ndarray:
    """Faces turned towards the camera. Every mesh drawn here is closed and outward-oriented, so the
    others are hidden anyway: skipping them halves the rasteriser's per-triangle Python loop."""
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    return normals @ towards_viewer > 0


def object_point_colors(part_ids, contact_part_id: int | None = None) -> np.ndarray:
    """Part colours, the non-contact parts dimmed as in the RViz object marker."""
    rgb = part_colors(np.asarray(part_ids))
    if contact_part_id is not None:
        other = np.asarray(part_ids) != contact_part_id
        rgb[other] = (1 - DIMMED) * rgb[other] + DIMMED * 0.85
    return rgb


@dataclass
class SceneGrasp:
    """One human grasp of a scene (OpenHand joints and wrist pose, in the object's frame)."""

    joints: np.ndarray  # (16,)
    wrist_pose: np.ndarray  # (4, 4)


def render_scene(path, object_points, part_ids, grasps: list[SceneGrasp], robot_meshes: list[Mesh] | None = None,
                 contact_part_id: int | None = None, title: str = "", views=SCENE_VIEWS) -> None:  # fmt: skip
    """Row 1: object + human grasps (best first, rank colours); row 2: object + robot hand (if given)."""
    obj = [(np.asarray(object_points, float), object_point_colors(part_ids, contact_part_id))]
    humans = []
    for rank, g in enumerate(grasps):
        v, f, _ = human_hand(g.joints, g.wrist_pose)
        humans.append((v, f, rank_color(rank)[:3]))
    rows = [("human grasps (rank colours)", humans, obj)]
    if robot_meshes:
        rows.append(("robot hand, retargeted best grasp", robot_meshes, obj))
    _draw_grid(path, rows, views, title)


def render_posture_comparison(path, name: str, joints, retargeter, mode_label: str = ""):
    """Retarget the OpenHand at `joints` (wrist at the origin) and draw human above robot; returns the result."""
    _, _, kp = human_hand(joints)
    result = retargeter.retarget(kp, np.eye(4))
    T, s = retargeter.config.wrist_in_base, retargeter.config.scaling_factor
    v, f, _ = human_hand(joints)
    human_in_base = (s * v) @ T[:3, :3].T + T[:3, 3]  # the same map the targets went through
    robot = robot_hand_meshes(retargeter.config.urdf_path, result.joint_dict())
    tips = retargeter.link_positions(result.positions, list(retargeter.config.fingertips.values()))
    section = retargeter.config.sections[retargeter.mode]
    used = np.unique(np.asarray(section["target_link_human_indices"]).reshape(-1))
    targets = result.targets[used]
    title = (f"{name}: {retargeter.robot_name} ({mode_label or retargeter.mode}), fingertip error mean "
             f"{result.mean_fingertip_error_mm:.1f} mm, max {result.max_fingertip_error_mm:.1f} mm; "
             f"blue = targets, red = robot tips")  # fmt: skip
    rows = [(f"human x{s:g}", [(human_in_base, f, SKIN)], [(targets, TARGET_RGB)]),
            (retargeter.robot_name, robot, [(targets, TARGET_RGB), (tips, ROBOT_TIP_RGB)])]  # fmt: skip
    _draw_grid(path, rows, BASE_VIEWS, title)
    return result


def render_postures(out_dir, robot: str = "leap_hand", mode: str | None = None, config_dir=None) -> list:
    """PNG per canonical posture (plus the rest pose) of human vs retargeted robot; [(path, result)]."""
    from ..hand.postures import AFFORDANCES, canonical_posture
    from ..retarget.retargeter import load_retargeter

    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    retargeter = load_retargeter(robot, config_dir, mode=mode)
    written = []
    for name in AFFORDANCES:
        path = out / f"{robot}_{retargeter.mode}_{name}.png"
        written.append((path, render_posture_comparison(path, name, canonical_posture(name), retargeter)))
    return written


# -- a demo scene -------------------------------------------------------------------------------
@dataclass
class DemoScene:
    points: np.ndarray
    part_ids: np.ndarray
    part_names: list[str]
    contact_part_id: int
    grasps: list[SceneGrasp]


def demo_scene(n_points: int = 1500, seed: int = 0) -> DemoScene:
    """A hammer-like object (handle along y, head at its +y end) and two handle grasps closed onto it."""
    import torch
    import trimesh

    from ..geometry.rotations import matrix_to_rot6d
    from ..hand.postures import canonical_posture
    from ..stage3.closing import close_on_object, sdf_distance

    radius, center = 0.016, np.array([0.075, 0.0, -0.0315])  # the handle lies across the palm (wrist frame)
    handle = trimesh.creation.cylinder(radius=radius, height=0.24, sections=48)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    handle.apply_translation(center + [0, -0.04, 0])
    head = trimesh.creation.box([0.03, 0.035, 0.11])
    head.apply_translation(center + [0, 0.095, 0])
    rng = np.random.default_rng(seed)
    n_head = n_points // 3
    p_head = head.sample(n_head, seed=rng)
    p_handle = handle.sample(n_points - n_head, seed=rng)
    points = np.concatenate([p_head, p_handle])
    part_ids = np.concatenate([np.zeros(n_head, int), np.ones(n_points - n_head, int)])

    c = torch.tensor(center, dtype=torch.float32)

    def sdf(p):  # the handle cylinder, analytic
        radial = torch.sqrt((p[:, 0] - c[0]) ** 2 + (p[:, 2] - c[2]) ** 2) - radius
        return torch.maximum(radial, (p[:, 1] - c[1] + 0.04).abs() - 0.12)

    q0 = torch.as_tensor(canonical_posture("handle-grip"), dtype=torch.float32)
    q0[[1, 2, 4, 5, 7, 8, 10, 11]] = 0.1
    q = close_on_object(
        _open_hand(), matrix_to_rot6d(torch.eye(3))[None], torch.zeros(1, 3), q0[None], sdf_distance(sdf)
    )[0].numpy()
    # Second grasp: the same hand turned 150 deg about the handle axis, 9 cm further down the handle.
    a = np.radians(150.0)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    second = np.eye(4)
    second[:3, :3] = R
    second[:3, 3] = center - R @ center + [0, -0.09, 0]
    return DemoScene(points, part_ids, ["head", "handle"], 1, [SceneGrasp(q, np.eye(4)), SceneGrasp(q, second)])


def render_demo_scene(path, robot: str = "leap_hand", config_dir=None):
    """The demo scene with the best grasp retargeted to the robot; returns the retargeting result."""
    from ..retarget.retargeter import load_retargeter

    scene = demo_scene()
    retargeter = load_retargeter(robot, config_dir)
    best = scene.grasps[0]
    _, _, kp = human_hand(best.joints, best.wrist_pose)
    result = retargeter.retarget(kp, best.wrist_pose)
    robot_meshes = robot_hand_meshes(retargeter.config.urdf_path, result.joint_dict(), result.base_pose)
    title = (f"handle grasps and {robot} (fingertip error mean {result.mean_fingertip_error_mm:.1f} mm; "
             f"the robot is x{retargeter.config.scaling_factor:g} the human hand)")  # fmt: skip
    render_scene(path, scene.points, scene.part_ids, scene.grasps, robot_meshes, scene.contact_part_id, title)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postures-out", help="directory for human vs robot PNGs of the canonical postures")
    parser.add_argument("--scene-out", help="PNG path for the demo scene (object, human grasps, robot hand)")
    parser.add_argument("--robot", default="leap_hand", help="configured robot hand (config/retargeting/<robot>.yaml)")
    parser.add_argument("--mode", choices=("position", "vector"), help="retargeting mode (default: the config's)")
    parser.add_argument("--config-dir", help="directory of the retargeting YAMLs (default: the package's)")
    args = parser.parse_args(argv)
    if not args.postures_out and not args.scene_out:
        parser.error("give --postures-out DIR and/or --scene-out FILE")
    if args.postures_out:
        for path, res in render_postures(args.postures_out, args.robot, args.mode, args.config_dir):
            print(f"wrote {path}: fingertip error mean {res.mean_fingertip_error_mm:.1f} mm, "
                  f"max {res.max_fingertip_error_mm:.1f} mm")  # fmt: skip
    if args.scene_out:
        res = render_demo_scene(args.scene_out, args.robot, args.config_dir)
        print(f"wrote {args.scene_out}: fingertip error mean {res.mean_fingertip_error_mm:.1f} mm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
