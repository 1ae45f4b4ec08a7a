"""Runs benchmark goals through the GraspSynthesizer, in worker processes, one record per goal.

A goal's cloud is what its mode says: `inferred`, the complete shape sampled into an unlabelled
cloud in its object frame; `gt`, the same cloud carrying the ground-truth part labels and names;
`camera`, one virtual 640x480 depth view of the shape alone on a table from a seeded viewpoint
(30-50 degrees above the table, random azimuth, 0.6-0.9 m away; objects.camera.table_top_scene),
unlabelled, in the camera's optical frame; with `views` > 1, that many views from cameras evenly
spaced in azimuth around the shape (the first is the single view), fused in the table's frame
(objects.fusion.fuse_clouds) and sent with the fused normals (kind `complete` when the views go
round the shape, objects.fusion.fused_cloud_kind). The grasps come
back in the cloud's frame and are moved into the object frame to be judged (evaluate.py) on the
shape's mesh.
"""

from __future__ import annotations

import hashlib
import math
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..config import PRESETS, SynthesizerConfig
from ..errors import GraspError
from ..hand import load_hand_model
from ..objects.camera import table_size_for, table_top_scene
from ..objects.fusion import fuse_clouds, fused_cloud_kind
from ..objects.part_object import sample_mesh
from ..pipeline import GraspSynthesizer
from ..request import RawRequest, validate_request
from ..stage3.optimizer import OptimizerConfig
from . import evaluate as E
from .plan import Goal
from .shapes import load_shape

GOAL_TIMEOUT = 900.0  # s: generous, a benchmark measures latency rather than enforcing it
PNG_POINTS = 3000  # object points kept per goal for the grid PNG


@dataclass(frozen=True)
class RunOptions:
    out_dir: str
    up: str = "+z"
    extents: tuple[tuple[str, float], ...] = ()  # (category or "*", metres) overrides of the typical size
    cloud_points: int = 8192  # points of a complete cloud (mesh samples)
    max_grasps: int = 3  # top-k returned per goal
    simulate_top: int = 1  # grasps per goal simulated (best first); the rest get NaN
    six_direction: tuple[tuple[str, str], ...] = (("full", "gt"),)  # (preset, mode): six-direction mean (best grasp)
    six_shapes: frozenset = frozenset()  # ... on these shapes only (it costs ~6 simulations)
    retriever: str = ""  # replaces the full method's prior where a preset uses it ("" = the preset's)
    prior_database: str = ""  # retriever "database": the file ("" = the shipped one)
    generator: str = ""  # replaces the full method's generator where a preset uses it ("" = the preset's)
    views: int = 1  # camera mode: depth views fused into the goal's cloud
    hold_check: str = "complete"  # the pipeline's hold check (SynthesizerConfig.hold_check)
    hold_check_shift_mm: float = 0.0  # its robustness positions (SynthesizerConfig.hold_check_shift_mm)
    num_candidates: int = SynthesizerConfig.num_candidates  # K hands optimised per goal
    volume_ranking_cm3: float = SynthesizerConfig.volume_ranking_cm3  # the ranking's volume scale (0 = off)
    grip_zone_cm: float = SynthesizerConfig.grip_zone_cm  # stages 2-3's grip zone (0 = the whole part)

    def six_for(self, goal: Goal) -> bool:
        """Whether the goal's best grasp also gets the six-direction simulation."""
        return (goal.preset, goal.mode) in self.six_direction and goal.shape.shape_id in self.six_shapes

    def signature(self, goal: Goal) -> dict:
        """The settings a goal's figures depend on beyond its key: a record made with others is rerun."""
        out = {"up": self.up, "extent": self.extent_for(goal.shape.category), "cloud_points": self.cloud_points,
               "max_grasps": self.max_grasps, "simulate_top": self.simulate_top, "six": self.six_for(goal)}  # fmt: skip
        if self.hold_check != "off":  # records made before the hold check existed were made without it
            out.update(hold_check=self.hold_check)
            if self.hold_check_shift_mm:  # ... and those made before its shifted positions, at 0
                out.update(hold_check_shift_mm=self.hold_check_shift_mm)
        # The pipeline optimises max(K, top-k) hands: only a K that changes that is a different run.
        k, default_k = (max(n, self.max_grasps) for n in (self.num_candidates, SynthesizerConfig.num_candidates))
        if k != default_k:  # only then, so records made before the option still match
            out.update(num_candidates=k)
        if self.volume_ranking_cm3 != SynthesizerConfig.volume_ranking_cm3:
            out.update(volume_ranking_cm3=self.volume_ranking_cm3)
        if self.grip_zone_cm:  # records made before the grip zone were made with the whole part (0)
            out.update(grip_zone_cm=self.grip_zone_cm)
        if self.retriever:  # only when set, so records made before the option existed still match
            out.update(retriever=self.retriever, prior_database=self.prior_database)
        if self.generator:
            out.update(generator=self.generator)
        if self.views != 1 and goal.mode == "camera":
            out.update(views=self.views)
        return out

    def synthesizer_config(self, goal: Goal) -> SynthesizerConfig:
        """The goal's preset, schedule and seed on the CPU, with the retriever override where the preset uses the
        canonical posture prior."""
        a, b = goal.iterations
        cfg = SynthesizerConfig(preset=goal.preset, seed=goal.seed, device="cpu", hold_check=self.hold_check,
                                hold_check_shift_mm=self.hold_check_shift_mm, num_candidates=self.num_candidates,
                                volume_ranking_cm3=self.volume_ranking_cm3, grip_zone_cm=self.grip_zone_cm,
                                optimizer=OptimizerConfig(iterations_a=a, iterations_b=b, seed=goal.seed))  # fmt: skip
        return self.with_retriever(cfg)

    def with_retriever(self, cfg: SynthesizerConfig) -> SynthesizerConfig:
        """cfg with --retriever / --generator in place of the full method's prior / generator, in every preset that
        uses them (an ablation of that very component keeps its own)."""
        full = PRESETS["full"]
        if self.retriever and cfg.components.retriever == full.retriever:
            options = {"path": self.prior_database} if self.retriever == "database" else {}
            cfg = replace(cfg, retriever=self.retriever, retriever_options=options)
        if self.generator and cfg.components.generator == full.generator:
            cfg = replace(cfg, generator=self.generator, generator_options={})
        return cfg

    def extent_for(self, category: str) -> float | None:
        table = dict(self.extents)
        return table.get(category, table.get("*"))


class Worker:
    """Per-process state: synthesizers per (preset, schedule) and the last shapes loaded."""

    def __init__(self, options: RunOptions):
        self.options = options
        self.synthesizers: dict[tuple, GraspSynthesizer] = {}
        self.shapes: dict[str, tuple] = {}
        self._hand = None

    def hand(self):
        """The hand the goals are synthesized with (open_hand, the benchmark's requests' default)."""
        if self._hand is None:
            self._hand = load_hand_model("open_hand")
        return self._hand

    def synthesizer(self, goal: Goal) -> GraspSynthesizer:
        key = (goal.preset, goal.iterations, goal.seed)
        if key not in self.synthesizers:
            self.synthesizers[key] = GraspSynthesizer(self.options.synthesizer_config(goal))
        return self.synthesizers[key]

    def shape(self, goal: Goal):
        key = (goal.shape.shape_id, goal.target_parts, goal.scene_seed)
        if key not in self.shapes:
            if len(self.shapes) > 4:
                self.shapes.pop(next(iter(self.shapes)))
            loaded = load_shape(goal.shape, up=self.options.up, extent=self.options.extent_for(goal.shape.category),
                                seed=goal.scene_seed)  # fmt: skip
            ref = E.make_reference(loaded.obj, goal.target_parts, loaded.closed, goal.scene_seed)
            self.shapes[key] = (loaded, ref)
        return self.shapes[key]

    def run(self, goal: Goal) -> dict:
        record = goal_record(goal)
        record["options"] = self.options.signature(goal)
        try:
            self._run(goal, record)
        except Exception as err:  # noqa: BLE001 - a crash is recorded and counted, the run goes on
            record.update(status="CRASH", error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc())
        return record

    def _run(self, goal: Goal, record: dict) -> None:
        loaded, ref = self.shape(goal)
        record["closed"], record["has_mesh"] = loaded.closed, loaded.obj.mesh is not None
        built = build_request(goal, loaded.obj, self.options.cloud_points, self.options.max_grasps, self.options.views)
        if built is None:
            record.update(status="SKIPPED", error="camera mode needs a mesh to render; this shape is points only")
            return
        raw, to_object = built
        synth = self.synthesizer(goal)
        started = time.perf_counter()
        try:
            result = synth.synthesize(validate_request(raw))
        except GraspError as err:
            record.update(status=err.code.name, error=err.message, latency_s=time.perf_counter() - started,
                          timings=dict(err.timings or {}))  # fmt: skip
            return
        record.update(status="SUCCESS", latency_s=time.perf_counter() - started, timings=dict(result.timings))
        self._judge(goal, record, result, ref, to_object)

    def _judge(self, goal: Goal, record: dict, result, ref: E.Reference, to_object: np.ndarray) -> None:
        R0, t0 = to_object[:3, :3], to_object[:3, 3]
        record["analysis"] = E.analysis_correct(result.arrangement, goal.instruction.affordance, goal.instruction.part,
                                                goal.target_parts)  # fmt: skip
        points_obj = None if result.object_points is None else result.object_points @ R0.T + t0
        located = result.localization is not None
        record["localizer_iou"] = E.localizer_iou(ref, points_obj, result.part_mask) if located else math.nan
        hand = self.hand()
        faces = hand.faces.cpu().numpy()
        grasps, rotations, translations, joints = [], [], [], []
        for rank, g in enumerate(result.grasps):
            vertices, R, t = g.vertices @ R0.T + t0, R0 @ g.rotation, R0 @ g.translation + t0
            six = rank == 0 and self.options.six_for(goal)
            judged = E.judge_grasp(ref, hand, faces, vertices, R, t, g.joints, rank < self.options.simulate_top, six)
            grasps.append({"rank": rank, **judged, "reported": E.reported(g.quality), "loss": g.loss})
            rotations.append(R)
            translations.append(t)
            joints.append(g.joints)
            if rank == 0:
                record["png"] = save_png_arrays(self.options.out_dir, goal.key, ref, vertices)
        record.update(grasps=grasps, n_grasps=len(grasps), diversity=E.diversity(rotations, translations, joints))


def goal_record(goal: Goal) -> dict:
    return {
        "key": goal.key, "mode": goal.mode, "preset": goal.preset, "iterations": sum(goal.iterations),
        "schedule": list(goal.iterations), "seed": goal.seed, "shape": goal.shape.shape_id,
        "category": goal.shape.category, "source": goal.shape.source, "instruction": goal.instruction.text,
        "instruction_origin": goal.instruction.origin, "affordance": goal.instruction.affordance,
        "part": goal.instruction.part, "target_parts": list(goal.target_parts), "status": "", "error": "",
        "grasps": [], "n_grasps": 0,
    }  # fmt: skip


def build_request(goal: Goal, obj, cloud_points: int, max_grasps: int = 3, views: int = 1
                  ) -> tuple[RawRequest, np.ndarray] | None:  # fmt: skip
    """The goal's raw request and the transform from its cloud's frame to the object frame (4x4)."""
    common = dict(instruction=goal.instruction.text, object_category=goal.shape.category, max_grasps=max_grasps,
                  robot_hand="none", timeout=GOAL_TIMEOUT)  # fmt: skip
    if goal.mode == "camera":
        if obj.mesh is None:
            return None
        scene = table_top_scene(obj, [], seed=goal.scene_seed, table_size=table_size_for(obj), views=views)
        placed = scene.objects[0].mesh.vertices[0] - obj.mesh.vertices[0]  # the table scene only translates
        to_object = np.eye(4)
        to_object[:3, 3] = -placed
        if views == 1:
            return RawRequest(points=scene.cloud.points, frame_id="camera_optical_frame", **common), \
                to_object @ scene.cloud.cam_to_world  # fmt: skip
        fused = fuse_clouds([v.points for v in scene.views], [v.cam_to_world for v in scene.views])
        return RawRequest(points=fused.points, normals=fused.normals, frame_id="table", viewpoint=fused.sensors[0],
                          cloud_kind=fused_cloud_kind(fused), cloud_source=f"fused {views} views", **common), \
            to_object  # fmt: skip
    if obj.mesh is not None:
        points, _, labels = sample_mesh(obj.mesh, cloud_points, goal.scene_seed)
    else:
        points, labels = obj.points, obj.part_ids
    raw = RawRequest(points=points, frame_id="object", **common)
    if goal.mode == "gt":
        raw.labels, raw.part_names = labels, tuple(obj.part_names)
    return raw, np.eye(4)


def png_name(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:16] + ".npz"


def save_png_arrays(out_dir: str, key: str, ref: E.Reference, hand_vertices: np.ndarray) -> str:
    """The best grasp and a subsample of the object, for the PNG grid (object frame)."""
    folder = Path(out_dir) / "arrays"
    folder.mkdir(parents=True, exist_ok=True)
    pick = np.random.default_rng(0).permutation(len(ref.points))[:PNG_POINTS]
    name = png_name(key)
    np.savez_compressed(folder / name, object_points=ref.points[pick].astype(np.float32), part_mask=ref.target[pick],
                        hand_vertices=hand_vertices.astype(np.float32))  # fmt: skip
    return name


# -- process pool entry points (module level so they pickle) --------------------------------------
_WORKER: Worker | None = None


def init_worker(options: RunOptions) -> None:
    global _WORKER
    import os

    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(1)
    _WORKER = Worker(options)


def run_goal(goal: Goal) -> dict:
    assert _WORKER is not None, "init_worker was not called"
    return _WORKER.run(goal)
