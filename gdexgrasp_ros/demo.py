"""`make demo`: the whole pipeline on the bundled default scene.

A procedural kettle with two distractors (a mug and a jar) stands on a table; a virtual depth
camera renders a 640x480 organised cloud; the instruction is "could you hold the kettle to
pour some tea?". The GraspSynthesizer runs every stage on the CPU (CUDA when present) and the
demo prints the arrangement, the stage timings and the ranked grasps, and writes PNGs.

    python -m gdexgrasp_ros.demo [--out out/demo] [--iterations 700] [--robot leap_hand] [--preset full]

--preset runs one of the paper's Table 2 variants (gdexgrasp_ros.config.PRESETS).
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys

import numpy as np
from tqdm import tqdm

from .config import PRESETS
from .errors import GraspError
from .objects.camera import table_top_scene
from .objects.procedural import generate_object
from .pipeline import STAGES, GraspSynthesizer, SynthesizerConfig
from .request import RawRequest, validate_request
from .stage3.optimizer import OptimizerConfig
from .viz.hand_render import render_views

INSTRUCTION = "could you hold the kettle to pour some tea?"
RANK_COLORS = [(0.95, 0.75, 0.6), (0.6, 0.8, 0.95), (0.7, 0.9, 0.6)]


# Scene seed 1: the camera sees the kettle's handle. Single-view part localization is the weak
# link (the handle is found on some views only; see benchmarks/localizer_iou.py --partial).
DEFAULT_SEED = 1


def default_scene(seed: int = DEFAULT_SEED):
    """The bundled scene: kettle (target) + mug + jar on a table, seen from a virtual camera."""
    target = generate_object("kettle", seed=seed)
    distractors = [generate_object("mug", seed=seed + 1), generate_object("jar", seed=seed + 2)]
    return table_top_scene(target, distractors, seed=seed)


def synthesize_scene(scene, iterations: int, robot: str, preset: str = "full", progress_bar: bool = True,
                     device: str = "auto"):  # fmt: skip
    """The pipeline on the scene's camera cloud with the demo's instruction (a SynthesisResult)."""
    request = validate_request(RawRequest(points=scene.cloud.points, frame_id="camera_optical_frame",
                                          instruction=INSTRUCTION, object_category="kettle", max_grasps=3,
                                          robot_hand=robot, timeout=600.0))  # fmt: skip
    synth = GraspSynthesizer(SynthesizerConfig(preset=preset, device=device,
                                               optimizer=OptimizerConfig(iterations_a=iterations,
                                                                         iterations_b=iterations)))  # fmt: skip
    if not progress_bar:
        return synth.synthesize(request)
    bar = tqdm(total=100, desc="synthesis", unit="%")

    def progress(stage: str, fraction: float, live: int, best: float) -> None:
        bar.set_postfix_str(stage)
        bar.n = int(100 * fraction)
        bar.refresh()

    result = synth.synthesize(request, progress=progress)
    bar.n = 100
    bar.close()
    return result


def run(out_dir: pathlib.Path, iterations: int, robot: str, seed: int = DEFAULT_SEED, preset: str = "full") -> dict:
    scene = default_scene(seed)
    result = synthesize_scene(scene, iterations, robot, preset)
    out_dir.mkdir(parents=True, exist_ok=True)
    _render(result, scene, out_dir)
    arr, loc = result.arrangement, result.localization
    summary = {
        "instruction": INSTRUCTION,
        "preset": result.preset,
        "arrangement": None if arr is None else {"affordance": arr.affordance, "contact_part": arr.contact_part,
                                                 "confidence": arr.confidence, "analyzer_backend": arr.backend,
                                                 "fallback": arr.fallback},
        "localizer_backend": None if loc is None else loc.backend,
        "components": result.components,
        "rationale": result.rationale,
        "timings_s": {k: round(result.timings[k], 3) for k in STAGES if k in result.timings},
        # The scene is rendered, so the truth is known: how much of the best grasp touches the handle.
        "best_grasp_on_true_handle": round(true_part_contact(scene, result), 2),
        "grasps": [{"score": round(g.quality.score, 3), "penetration_mm": round(g.quality.penetration_depth * 1000, 2),
                    "part_contact_ratio": _finite(g.quality.part_contact_ratio, 2), "contacts": g.quality.contact_count,
                    "robot_fingertip_error_mm": _robot_error(g.robot)} for g in result.grasps],
    }  # fmt: skip
    return summary


def true_part_mask(scene, object_points: np.ndarray, part: str = "handle") -> np.ndarray:
    """(N,) which of the result's object points lie on the target's true `part` (the renderer's
    per-pixel labels; every object point is one of the organised cloud's points)."""
    from scipy.spatial import cKDTree

    flat = scene.cloud.points.reshape(-1, 3)
    valid = np.flatnonzero(np.isfinite(flat).all(1))
    dist, nearest = cKDTree(flat[valid]).query(np.asarray(object_points))
    if dist.max() > 1e-6:
        raise ValueError("the object points are not the scene's points (were they transformed?)")
    pixel = valid[nearest]
    names = scene.objects[0].part_names
    ids = [i for i, name in enumerate(names) if name == part]
    return (scene.cloud.object_index.reshape(-1)[pixel] == 0) & np.isin(scene.cloud.part_ids.reshape(-1)[pixel], ids)


def true_part_contact(scene, result, part: str = "handle") -> float:
    """Share of the best grasp's contacts that touch the target's true part (0 without a grasp):
    what the result's own on-part ratio claims, judged against the ground truth."""
    from .metrics.contact import part_contact_ratio

    if not result.grasps:
        return 0.0
    truth = true_part_mask(scene, result.object_points, part)
    return float(part_contact_ratio(result.grasps[0].vertices, result.object_points, truth))


def _finite(value: float, digits: int) -> float | None:
    """JSON has no NaN: a figure that was not computed (no part, no simulation) is null."""
    return None if math.isnan(value) else round(float(value), digits)


def _robot_error(robot) -> float | None:
    if robot is None:
        return None
    value = getattr(robot, "mean_fingertip_error_mm", None)
    return round(float(value), 1) if value is not None else None


def _render(result, scene, out_dir: pathlib.Path) -> None:
    """Object cloud (contact part in orange) and the top grasps, in the table's frame (z up)."""
    T = scene.cloud.cam_to_world

    def world(p):
        return np.asarray(p) @ T[:3, :3].T + T[:3, 3]

    pts, mask = world(result.object_points), result.part_mask
    cloud = [(pts[~mask], (0.55, 0.57, 0.62)), (pts[mask], (0.95, 0.5, 0.1))]
    faces = _hand_faces()
    for i, g in enumerate(result.grasps[:3]):
        meshes = [(world(g.vertices), faces, RANK_COLORS[i % 3])]
        q = g.quality
        title = (f"grasp {i}: {_task(result)}, "
                 f"score {q.score:.2f}, penetration {q.penetration_depth * 1000:.1f} mm"
                 + ("" if math.isnan(q.part_contact_ratio) else f", on-part {q.part_contact_ratio:.0%}"))  # fmt: skip
        views = (("three-quarter", 30.0, -60.0), ("side", 0.0, 0.0), ("top", 89.9, -90.0))
        render_views(meshes, title, str(out_dir / f"grasp_{i}.png"), points=cloud, views=views)
    _render_robot(result, T, world(result.object_points), out_dir / "scene_robot.png")
    print(f"wrote {len(result.grasps[:3]) + 1} PNGs to {out_dir}")


def _render_robot(result, T: np.ndarray, object_points: np.ndarray, path: pathlib.Path) -> None:
    """The top human grasps and the robot hand at the best one's retargeted joints."""
    from .retarget.retargeter import load_retargeter
    from .viz.scene_render import SceneGrasp, render_scene, robot_hand_meshes

    def pose(g):
        P = np.eye(4)
        P[:3, :3], P[:3, 3] = g.rotation, g.translation
        return T @ P

    grasps = [SceneGrasp(g.joints, pose(g)) for g in result.grasps[:3]]
    best = result.grasps[0].robot
    robot = None
    if best is not None:
        urdf = load_retargeter(best.robot_name).config.urdf_path
        robot = robot_hand_meshes(urdf, best.joint_dict(), T @ best.base_pose)
    render_scene(
        str(path),
        object_points,
        result.part_mask.astype(int),
        grasps,
        robot,
        contact_part_id=1,
        title=_task(result),
    )


def _task(result) -> str:
    arr = result.arrangement
    task = "no language, no part" if arr is None else f"{arr.affordance} on the {arr.contact_part}"
    return f"{task} ({result.preset})"


def _hand_faces():
    from .hand import OpenHand

    return OpenHand().faces.numpy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="out/demo")
    ap.add_argument("--iterations", type=int, default=700, help="iterations of each optimization sub-stage")
    ap.add_argument("--robot", default="leap_hand", help="robot hand to retarget to, or none")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="scene seed (object shapes, placement, camera)")
    ap.add_argument("--preset", default="full", choices=sorted(PRESETS), help="pipeline variant (Table 2)")
    args = ap.parse_args(argv)
    try:
        summary = run(pathlib.Path(args.out), args.iterations, args.robot, args.seed, args.preset)
    except GraspError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, default=lambda x: float(x) if isinstance(x, np.floating) else str(x)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
