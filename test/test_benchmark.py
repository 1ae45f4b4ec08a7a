"""gdexgrasp-bench: instruction planning, aggregation rules, and a --quick run on a folder of labelled
mesh files (OBJ + Princeton-style face-label files) whose figures must come from that run."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import trimesh

from gdexgrasp_ros.benchmark import report as R
from gdexgrasp_ros.benchmark.cli import _extents
from gdexgrasp_ros.benchmark.cli import main as bench_main
from gdexgrasp_ros.benchmark.plan import make_plan, matching_parts, project_instructions
from gdexgrasp_ros.benchmark.shapes import BenchShape
from gdexgrasp_ros.objects.procedural import generate_mesh
from gdexgrasp_ros.stage1.analysis.evaluation import load_instruction_set

ROWS = load_instruction_set()


def test_part_names_match_by_word_not_by_substring():
    assert matching_parts("body", ["base_body", "handle", "lid"]) == ("base_body",)
    assert matching_parts("lid", ["rotation_lid", "base_body"]) == ("rotation_lid",)
    assert matching_parts("handle", ["handle", "handle-2", "blade"]) == ("handle", "handle-2")
    assert matching_parts("cap", ["body", "neck", "lid"]) == ()
    assert matching_parts("lid", ["lidar_mount"]) == ()


def test_a_known_category_gets_two_instructions_asking_for_different_grasps():
    picked = project_instructions("teapot", ["body", "handle", "lid"], ROWS)
    assert len(picked) == 2 and all(i.origin == "project" for i in picked)
    assert (picked[0].affordance, picked[0].part) != (picked[1].affordance, picked[1].part)
    kinds = {r["instruction"]: r["kind"] for r in ROWS}
    assert kinds[picked[0].text] == "indirect", "the paper's test instructions are indirect: those come first"


def test_an_unknown_category_borrows_direct_instructions_about_parts_it_has():
    picked = project_instructions("garden shears", ["blade", "handle"], ROWS)
    assert picked, "a handle is common enough to borrow an instruction for"
    for ins in picked:
        assert "garden shears" in ins.text and ins.origin.startswith("project:")
        assert matching_parts(ins.part, ["blade", "handle"])
    assert project_instructions("widget", ["flange"], ROWS) == []


def test_borrowed_instructions_cover_different_parts_each_by_its_commonest_use():
    picked = project_instructions("tankard", ["body", "handle", "rim"], ROWS)
    assert len(picked) == 2 and {i.part for i in picked} == {"body", "handle"}, "two parts, not two uses of one"
    handle = next(i for i in picked if i.part == "handle")
    assert handle.affordance == "handle-grip", "a handle is gripped in most of the set (a faucet's is twisted)"
    assert "tankard" in handle.text


def test_a_shape_without_the_instructions_part_is_skipped_and_counted(tmp_path):
    lines = [{"object": "vase", "instruction": "hold the vase by its handle", "affordance": "handle-grip",
              "part": "handle"}]  # fmt: skip
    path = tmp_path / "ins.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    shapes = [(BenchShape("d/vase/a", "vase", "dir", "a.obj"), ["body", "handle"]),
              (BenchShape("d/vase/b", "vase", "dir", "b.obj"), ["body", "neck"])]  # fmt: skip
    plan = make_plan(shapes, ["inferred", "gt"], ["full", "dexgraspnet_baseline"], (5, 5), 0, path)
    assert {g.shape.shape_id for g in plan.goals} == {"d/vase/a"} and len(plan.goals) == 4
    assert plan.skipped == [("d/vase/b", plan.skipped[0][1])] and "handle" in plan.skipped[0][1]
    baseline = [g for g in plan.goals if g.preset == "dexgraspnet_baseline"]
    assert baseline[0].key == baseline[1].key, "a label-blind preset runs once for inferred and gt"
    full = [g for g in plan.goals if g.preset == "full"]
    assert full[0].key != full[1].key and full[0].scene_seed == full[1].scene_seed


def _rec(status, grasps, preset="full", mode="gt"):
    return {"status": status, "grasps": grasps, "preset": preset, "mode": mode, "modes": [mode], "role": "main",
            "category": "c", "shape": "s", "instruction": "i", "latency_s": 1.0, "timings": {"optimization": 0.5},
            "analysis": {"affordance": "twist", "part": "lid", "affordance_ok": True, "part_ok": False},
            "localizer_iou": 0.5, "diversity": {"joint_std_deg": 1.0, "wrist_spread_cm": 2.0, "rotation_spread_deg": 3.0}}  # fmt: skip


def _grasp(pen, on_part, held, reported_pen=None):
    return {"penetration_cm": pen, "volume_cm3": 1.0, "volume_shell_cm3": 0.5, "sim_cm": 1.0 if held else 30.0,
            "sim6_cm": math.nan, "held": held, "part_ratio": 0.9 if on_part else 0.1, "on_part": on_part,
            "contacts": 10, "reported": {"penetration_cm": pen if reported_pen is None else reported_pen,
                                         "part_ratio": 0.9, "volume_cm3": math.nan, "sim_cm": math.nan,
                                         "contacts": 10, "score": 0.5}}  # fmt: skip


def test_aggregation_counts_a_failed_goal_as_a_miss_but_not_in_the_physical_means():
    recs = [_rec("SUCCESS", [_grasp(0.2, True, True), _grasp(1.0, False, None)]),
            _rec("SUCCESS", [_grasp(0.4, False, False)]), _rec("PART_NOT_FOUND", [])]  # fmt: skip
    best = R.summarize(recs)
    assert best["n"] == 3 and best["success_pct"] == pytest.approx(200 / 3)
    assert best["penetration_cm"] == pytest.approx(0.3)  # the two goals with a grasp
    assert best["part_acc"] == pytest.approx(100 / 3)  # one of three goals on the part
    assert best["held_pct"] == pytest.approx(100 / 3)
    assert best["sim_median_cm"] == pytest.approx(15.5)  # 1 (held) and 30 (fell)
    topk = R.summarize(recs, best=False)
    assert math.isnan(topk["held_pct"]), "only best grasps were simulated: no top-k held figure"
    assert topk["penetration_cm"] == pytest.approx((0.6 + 0.4) / 2) and topk["part_acc"] == pytest.approx(50 / 3)
    d = R.diagnostics(recs)
    assert d["errors"] == {"PART_NOT_FOUND": 1} and d["part_verdict_agree_pct"] == pytest.approx(50.0)


def _write_psb(folder, category, seed):
    """A procedural shape as an OBJ in centimetres with a Princeton-style face-label file."""
    mesh, names = generate_mesh(category, seed)
    d = folder / category
    d.mkdir(parents=True, exist_ok=True)
    stem = f"{category.replace(' ', '_')}_{seed}"
    trimesh.Trimesh(mesh.vertices * 100.0, mesh.faces, process=False).export(d / f"{stem}.obj")
    lines = []
    for i, name in enumerate(names):
        lines += [name, " ".join(str(f + 1) for f in np.flatnonzero(mesh.face_parts == i))]
    (d / f"{stem}.labels").write_text("\n".join(lines) + "\n")
    return d / f"{stem}.obj"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    shapes = tmp_path_factory.mktemp("shapes")
    kept = _write_psb(shapes, "hammer", 0)
    dropped = _write_psb(shapes, "teapot", 0)
    out = tmp_path_factory.mktemp("bench")
    assert bench_main(["--quick", "--shapes", str(shapes), "--out", str(out), "--workers", "2"]) == 0
    first = {name: (out / name).read_text() for name in ("table1.md", "table2.md")}
    return shapes, kept, dropped, out, first


def _goals(out):
    return [json.loads(line) for line in (out / "goals.jsonl").read_text().splitlines()]


def test_quick_run_writes_both_tables_every_row_and_the_pngs(quick_run):
    _, _, _, out, first = quick_run
    t1, t2 = first["table1.md"], first["table2.md"]
    for label in ("Ours (complete cloud, inferred parts)", "Ours* (complete cloud, ground-truth parts)",
                  "Ours (one camera view, inferred parts)", "DexGraspNet-style baseline (complete cloud)",
                  "paper: Ours"):  # fmt: skip
        assert f"| {label} |" in t1, label
    assert "| no_optimization |" in t2 and "| full |" in t2
    assert (out / "best_grasps.png").stat().st_size > 10_000
    assert (out / "quality_vs_iterations.png").is_file()
    goals = _goals(out)
    crashes = [g for g in goals if g["status"] == "CRASH"]
    assert not crashes, crashes[0]["traceback"]
    # 2 shapes x (full in 3 modes + baseline on the complete cloud and the camera view + no_optimization)
    # + the sweep's 0- and 20-iteration runs (its 40 is the main gt goal): 2 x (6 + 2)
    assert len(goals) == 16
    lines = (out / "grasps.jsonl").read_text().splitlines()
    assert len(lines) == sum(len(g["grasps"]) for g in goals) > 0


def test_quick_run_figures_are_the_runs_own(quick_run):
    _, _, _, out, first = quick_run
    goals = [g for g in _goals(out) if g["preset"] == "full" and g["mode"] == "gt" and g["iterations"] == 40]
    ok = [g for g in goals if g["grasps"]]
    assert ok, [g["error"] for g in goals]
    expected = R.fmt(float(np.mean([g["grasps"][0]["penetration_cm"] for g in ok])), 2)
    row = next(line for line in first["table1.md"].splitlines() if line.startswith("| Ours* (complete cloud"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == expected and cells[-1] == str(len(goals))
    for g in ok:
        best = g["grasps"][0]
        assert best["sim_cm"] >= 0 and isinstance(best["held"], bool) and best["contacts"] >= 0
        assert g["analysis"]["affordance"] and 0.0 <= g["localizer_iou"] <= 1.0
        assert set(best["reported"]) >= {"penetration_cm", "part_ratio", "score"}


def test_camera_grasps_are_judged_in_the_object_frame(quick_run):
    """A camera goal's hand comes back in the camera frame: moved wrongly, it would touch nothing."""
    _, _, _, out, _ = quick_run
    camera = [g for g in _goals(out) if g["mode"] == "camera" and g["preset"] == "full" and g["grasps"]]
    assert camera and max(g["grasps"][0]["contacts"] for g in camera) > 0


def test_retriever_and_generator_options_replace_the_full_methods_components_where_presets_use_them(tmp_path):
    from gdexgrasp_ros.benchmark.cli import available_presets
    from gdexgrasp_ros.benchmark.plan import Goal, Instruction
    from gdexgrasp_ros.benchmark.runner import RunOptions

    shape = BenchShape("procedural/cup/0", "cup", "procedural", "", 0)
    instruction = Instruction("Grasp the cup by its handle.", "handle-grip", "handle", "test")
    goal = lambda preset: Goal(shape, instruction, ("handle",), "gt", preset, (5, 5), 0)  # noqa: E731
    plain = RunOptions(str(tmp_path))
    stand_in = RunOptions(str(tmp_path), retriever="canonical_posture", generator="part_facing")
    assert plain.synthesizer_config(goal("full")).components.retriever == "database"
    cfg = stand_in.synthesizer_config(goal("full")).components
    assert (cfg.retriever, cfg.generator) == ("canonical_posture", "part_facing")
    ablation = stand_in.synthesizer_config(goal("part_random_init")).components
    assert (ablation.retriever, ablation.generator) == ("canonical_posture", "part_random"), "its own generator"
    assert stand_in.synthesizer_config(goal("dexgraspnet_baseline")).components.retriever == "none"
    assert "retriever" not in plain.signature(goal("full")), "records made before the option still match"
    assert stand_in.signature(goal("full"))["generator"] == "part_facing", "a record with another generator reruns"
    before = RunOptions(str(tmp_path), hold_check="off")
    assert plain.synthesizer_config(goal("full")).hold_check == "complete"
    assert before.synthesizer_config(goal("full")).hold_check == "off"
    assert plain.signature(goal("full"))["hold_check"] == "complete"
    assert "hold_check" not in before.signature(goal("full")), "records made before the hold check still match"
    more = RunOptions(str(tmp_path), num_candidates=16)
    assert more.synthesizer_config(goal("full")).num_candidates == 16
    assert more.signature(goal("full"))["num_candidates"] == 16
    assert "num_candidates" not in plain.signature(goal("full")), "records made with the default K still match"
    wide = RunOptions(str(tmp_path), max_grasps=16)
    assert wide.signature(goal("full")) == RunOptions(str(tmp_path), max_grasps=16, num_candidates=16).signature(
        goal("full")), "K below the top-k changes nothing"  # fmt: skip
    off = RunOptions(str(tmp_path), volume_ranking_cm3=0.0)
    assert off.synthesizer_config(goal("full")).volume_ranking_cm3 == 0.0
    assert off.signature(goal("full"))["volume_ranking_cm3"] == 0.0 and "volume_ranking_cm3" not in plain.signature(
        goal("full"))  # fmt: skip
    whole = RunOptions(str(tmp_path), grip_zone_cm=0.0)
    assert whole.synthesizer_config(goal("full")).grip_zone_cm == 0.0
    assert plain.synthesizer_config(goal("full")).grip_zone_cm == plain.signature(goal("full"))["grip_zone_cm"] > 0
    assert "grip_zone_cm" not in whole.signature(goal("full")), "records made before the grip zone (whole part) match"
    other = RunOptions(str(tmp_path), retriever="database", prior_database="/x/priors.npz")
    assert other.synthesizer_config(goal("full")).retriever_options == {"path": "/x/priors.npz"}
    ok, missing = available_presets(["full", "dexgraspnet_baseline"], other)
    assert ok == ["dexgraspnet_baseline"] and "prior database" in missing["full"], "a missing file is named"


def test_extent_overrides_name_categories_as_the_shapes_do():
    assert _extents(["Watering_Can=0.4", "0.3"]) == (("watering can", 0.4), ("*", 0.3))


def test_a_removed_shape_file_changes_the_counts_and_nothing_reruns(quick_run, tmp_path):
    original_shapes, _, dropped, original_out, first = quick_run
    # Copies (the module's run stays as it was); the folder keeps its name, which is part of each shape's id.
    shapes, out = tmp_path / original_shapes.name, tmp_path / "bench"
    shutil.copytree(original_shapes, shapes)
    shutil.copytree(original_out, out)
    before = len(_goals(out))
    shutil.rmtree(shapes / dropped.parent.name)
    assert bench_main(["--quick", "--shapes", str(shapes), "--out", str(out), "--workers", "1"]) == 0
    assert len(_goals(out)) == before, "every goal of the smaller set was already recorded: resumed, not rerun"
    row = next(line for line in (out / "table1.md").read_text().splitlines() if line.startswith("| Ours* (complete"))
    old = next(line for line in first["table1.md"].splitlines() if line.startswith("| Ours* (complete"))
    assert row.strip("|").split("|")[-1].strip() == "1" and old.strip("|").split("|")[-1].strip() == "2"


def test_sigterm_stops_the_run_and_its_workers(tmp_path):
    """A benchmark stopped with SIGTERM (a scheduler's kill) leaves no worker processes running."""
    out = tmp_path / "bench"
    proc = subprocess.Popen([sys.executable, "-m", "gdexgrasp_ros.benchmark", "--quick", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        time.sleep(0.5)
        ps = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        children = [int(p) for p in ps]
    assert children, "the run never started its workers"
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=30) == 143
        time.sleep(1.0)
        alive = [p for p in children if "zombie" not in _state(p) and _state(p) != "gone"]
        assert not alive, f"workers {alive} outlived the run"
    finally:  # never leave a failed run's processes behind
        for pid in children:
            if _state(pid) != "gone":
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((line for line in f if line.startswith("State:")), "").lower()
    except OSError:
        return "gone"


def test_camera_views_are_fused_around_the_shape_and_land_on_it_in_the_object_frame(tmp_path):
    from gdexgrasp_ros.benchmark.plan import Goal, Instruction
    from gdexgrasp_ros.benchmark.runner import RunOptions, build_request
    from gdexgrasp_ros.objects.procedural import generate_object

    obj = generate_object("mug", seed=4)
    shape = BenchShape("procedural/mug/4", "mug", "procedural", "", 4)
    goal = Goal(shape, Instruction("Grasp the mug by its handle.", "handle-grip", "handle", "test"), ("handle",),
                "camera", "full", (5, 5), 0)  # fmt: skip
    mesh = trimesh.Trimesh(obj.mesh.vertices, obj.mesh.faces, process=False)
    covered = {}
    for views in (1, 3):
        raw, to_object = build_request(goal, obj, 2048, views=views)
        pts = raw.points.reshape(-1, 3)
        pts = pts[np.isfinite(pts).all(1)] @ to_object[:3, :3].T + to_object[:3, 3]
        on_mug = np.abs(trimesh.proximity.signed_distance(mesh, pts[pts[:, 2] > mesh.bounds[0, 2] + 0.003])) < 0.004
        assert on_mug.mean() > 0.9, "the views' points land on the shape once moved into the object frame"
        surface, _ = trimesh.sample.sample_surface(mesh, 2000, seed=0)
        from scipy.spatial import cKDTree

        covered[views] = float(np.mean(cKDTree(pts).query(surface)[0] < 0.005))
        assert raw.cloud_kind == ("complete" if views == 3 else "")
    assert covered[3] > covered[1] + 0.2, covered
    three = RunOptions(str(tmp_path), views=3)
    assert three.signature(goal)["views"] == 3 and "views" not in RunOptions(str(tmp_path)).signature(goal)
