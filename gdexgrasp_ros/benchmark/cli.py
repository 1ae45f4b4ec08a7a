"""gdexgrasp-bench: grasp quality on shapes the project never trained on (the paper's Table 1 / 2 protocol).

    gdexgrasp-bench [--out out/bench] [--shapes DIR ...] [--instructions FILE] [--modes inferred,gt,camera]
                    [--presets ...] [--workers 2] [--quick] [--report-only]

Default set: every procedural unseen category (5 shapes each) plus the real shapes of ../shared/data
when present. Table 1 presets (full and the DexGraspNet-style baseline) run in every mode on every
shape; the other Table 2 presets run in `--table2-mode` on the first `--table2-per-category` shapes of
each category; the optimizer schedule sweep runs `--sweep` total iterations on the first shape of
each procedural category (of each category when no procedural shape runs). Results are appended to OUT/goals.jsonl as goals finish (a rerun with the
same OUT resumes: goals already recorded are not run again), then OUT/table1.md, OUT/table2.md,
OUT/grasps.jsonl (one line per grasp), OUT/best_grasps.png and OUT/quality_vs_iterations.png.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from ..config import PRESETS, SynthesizerConfig
from ..errors import GraspError
from ..objects.procedural import UNSEEN_CATEGORIES
from ..stage1.retrieval import RETRIEVERS
from ..stage2.generation import GENERATORS
from . import report as R
from .plan import MODES, Goal, make_plan, unique_goals
from .runner import RunOptions, init_worker, run_goal
from .shapes import (
    SHARED_DATA_ENV,
    UP_AXES,
    category_name,
    default_data_dir,
    discover_shapes,
    load_shape,
    procedural_shapes,
    shared_shapes,
)

TABLE1_PRESETS = ("full", "dexgraspnet_baseline")
DEFAULT_SWEEP = (0, 200, 400, 700, 1400)


def _ranged(low: float, high: float, unit: str):
    """An argparse type: a number in [low, high] (the range SynthesizerConfig accepts for the setting)."""

    def parse(text: str) -> float:
        value = float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in [{low:g}, {high:g}] {unit}, got {text}")
        return value

    parse.__name__ = "number"  # argparse names a type that cannot parse the text by it
    return parse


_millimetres = _ranged(0.0, 5.0, "mm")  # hold_check_shift_mm
_cubic_centimetres = _ranged(0.0, 1000.0, "cm^3")  # volume_ranking_cm3 (0 = off)
_centimetres = _ranged(0.0, 100.0, "cm")  # grip_zone_cm (0 = the whole part)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gdexgrasp-bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])  # fmt: skip
    p.add_argument("--out", default="out/bench", help="output folder (resumes what is recorded there)")
    p.add_argument("--shapes", action="append", default=[], metavar="DIR",
                   help="folder of part-labelled shapes, DIR/<category>/<shape> (repeatable); replaces the default set")  # fmt: skip
    p.add_argument("--default-set", action="store_true", help="also run the default set when --shapes is given")
    p.add_argument("--data", default=None, help=f"real shapes folder (default ../shared/data or ${SHARED_DATA_ENV})")
    p.add_argument("--no-real", action="store_true", help="leave out the real shapes of --data")
    p.add_argument("--per-category", type=int, default=5, help="procedural shapes per unseen category")
    p.add_argument("--categories", default="", help="comma-separated procedural categories (default: all unseen)")
    p.add_argument("--instructions", default=None, help="JSON lines {object, instruction, affordance, part}")
    p.add_argument("--modes", default=",".join(MODES), help="inferred,gt,camera")
    p.add_argument("--presets", default="", help="Table 1/2 presets to run (default: every preset)")
    p.add_argument("--table2-mode", default="inferred", choices=MODES, help="mode the ablations run in")
    p.add_argument("--table2-per-category", type=int, default=1, help="shapes per category the ablations run on")
    p.add_argument("--iterations", type=int, nargs=2, default=(700, 700), metavar=("A", "B"),
                   help="optimizer iterations of sub-stages A and B (the shipped default: 700 700)")  # fmt: skip
    p.add_argument("--sweep", default=",".join(map(str, DEFAULT_SWEEP)),
                   help="total optimizer iterations for the quality-vs-iterations PNG ('' = none)")  # fmt: skip
    p.add_argument("--sweep-mode", default="gt", choices=MODES)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--retriever",
        default="",
        choices=("", *RETRIEVERS),
        help="stage 1 prior in place of the full method's, in every preset that uses it ('' = the preset's)",
    )
    p.add_argument("--generator", default="", choices=("", *GENERATORS),
                   help="stage 2 generator in place of the full method's, in every preset that uses it")  # fmt: skip
    p.add_argument("--prior-database", default="", help="retriever 'database': the priors.npz ('' = the shipped one)")
    p.add_argument("--workers", type=int, default=2, help="processes (each single-threaded)")
    p.add_argument("--up", default="+z", choices=UP_AXES, help="up axis of the --shapes files")
    p.add_argument("--extent", action="append", default=[], metavar="[CATEGORY=]METRES",
                   help="largest side of the rescaled shapes (all, or one category); default: typical per category")  # fmt: skip
    p.add_argument("--max-grasps", type=int, default=3, help="grasps returned per goal (top-k)")
    p.add_argument("--views", type=int, default=1, help="camera mode: depth views around the shape fused into one "
                   "cloud (1 = one camera view)")  # fmt: skip
    p.add_argument("--simulate-top", type=int, default=1, help="grasps simulated per goal, best first")
    p.add_argument("--no-hold-check", action="store_true", help="rank on geometry alone (the pipeline's hold_check "
                   "off): the before of the hold check")  # fmt: skip
    p.add_argument("--hold-check-shift", type=_millimetres, default=0.0, metavar="MM", help="the hold check's hand shifts "
                   "along +-x, +-y, +-z (0, the default: the grasp as planned only)")  # fmt: skip
    p.add_argument("--num-candidates", type=int, default=SynthesizerConfig.num_candidates, metavar="K",
                   help="hands optimised together per goal (the server's num_candidates)")  # fmt: skip
    p.add_argument("--volume-ranking", type=_cubic_centimetres, default=SynthesizerConfig.volume_ranking_cm3, metavar="CM3",
                   help="the ranking's intersection-volume scale (the server's volume_ranking_cm3; 0 = off)")  # fmt: skip
    p.add_argument("--grip-zone", type=_centimetres, default=SynthesizerConfig.grip_zone_cm, metavar="CM",
                   help="handle and wrap grips: the stretch of the part stages 2-3 aim at (the server's grip_zone_cm; "
                   "0 = the whole part)")  # fmt: skip
    p.add_argument("--six-direction", default="full:gt", help="PRESET:MODE[,...] whose best grasp also gets the "
                   "six-direction simulation, on the ablation subset of shapes ('' = none)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="a small run for tests (< 3 min on 2 cores)")
    p.add_argument("--report-only", action="store_true", help="write the tables and PNGs from OUT/goals.jsonl")
    args = p.parse_args(argv)
    if args.views < 1:
        p.error(f"--views must be >= 1, got {args.views}")
    if args.quick:
        apply_quick(args)
    return args


def apply_quick(args: argparse.Namespace) -> None:
    """Two procedural categories, one shape each, a short schedule, three presets; no real shapes."""
    args.no_real = True
    args.per_category = 1
    args.categories = args.categories or ",".join(list(UNSEEN_CATEGORIES)[:2])
    args.presets = args.presets or "full,no_optimization,dexgraspnet_baseline"
    args.iterations = (20, 20)
    args.sweep = "0,20,40"
    args.six_direction = ""
    args.table2_per_category = 1


def _extents(items: list[str]) -> tuple[tuple[str, float], ...]:
    out = []
    for item in items:
        cat, _, value = item.rpartition("=")
        try:
            metres = float(value)
        except ValueError:
            raise SystemExit(f"--extent: '{item}' is not [CATEGORY=]METRES") from None
        if metres <= 0:
            raise SystemExit(f"--extent: {metres} m must be positive")
        out.append((category_name(cat) if cat.strip() else "*", metres))
    return tuple(out)


def collect_shapes(args) -> tuple[list, list[tuple[str, str]]]:
    shapes, skipped = [], []
    categories = [c.strip() for c in args.categories.split(",") if c.strip()] or None
    if not args.shapes or args.default_set:
        shapes += procedural_shapes(args.per_category, categories)
        data = None if args.no_real else (Path(args.data) if args.data else default_data_dir())
        if data is not None:
            shapes += shared_shapes(data)
    for folder in args.shapes:
        found, why = discover_shapes(folder)
        shapes += found
        skipped += why
    return shapes, skipped


def available_presets(names: list[str], options: RunOptions | None = None) -> tuple[list[str], dict[str, str]]:
    """Presets whose components exist here (with the options' retriever); the others with the reason (e.g. no
    CVAE weights yet)."""
    from ..stage1.retrieval import make_retriever
    from ..stage2.generation import make_generator

    ok, missing = [], {}
    for name in names:
        cfg = SynthesizerConfig(preset=name, device="cpu")
        if options is not None:
            cfg = options.with_retriever(cfg)
        try:
            make_retriever(cfg.components.retriever, **cfg.retriever_options)
            make_generator(cfg.components.generator, **cfg.generator_options)
            ok.append(name)
        except GraspError as err:
            missing[name] = err.message
    return ok, missing


def build_goals(args, shapes, presets: list[str]):
    """(main goals, sweep goals, plan) for the shapes with their part names."""
    with_parts = []
    skipped = []
    for s in tqdm(shapes, desc="reading shapes", unit="shape", leave=False):
        try:
            with_parts.append((s, list(load_shape(s, up=args.up, n_points=256).obj.part_names)))
        except (OSError, ValueError) as err:
            skipped.append((s.shape_id, f"cannot load: {err}"))
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise SystemExit(f"--modes: unknown {bad}; expected {MODES}")
    iterations = tuple(args.iterations)
    main_presets = [p for p in presets if p in TABLE1_PRESETS]
    plan = make_plan(with_parts, modes, main_presets, iterations, args.seed, args.instructions)
    plan.skipped[:0] = skipped
    goals = list(plan.goals)
    planned = {g.shape.shape_id for g in plan.goals}  # shapes skipped for want of an instruction do not count
    subset = first_per_category([sp for sp in with_parts if sp[0].shape_id in planned], args.table2_per_category)
    ablations = [p for p in presets if p not in TABLE1_PRESETS]
    if ablations and args.table2_mode in modes:
        abl = make_plan([sp for sp in with_parts if sp[0].shape_id in subset], [args.table2_mode], ablations,
                        iterations, args.seed, args.instructions)  # fmt: skip
        goals += abl.goals
    sweep = []
    totals = [int(t) for t in args.sweep.split(",") if t.strip()]
    if totals and "full" in presets:
        procedural = [sp for sp in with_parts if sp[0].source == "procedural"] or with_parts
        first = first_per_category(procedural, 1)
        base = make_plan([sp for sp in procedural if sp[0].shape_id in first], [args.sweep_mode], ["full"],
                         iterations, args.seed, args.instructions)  # fmt: skip
        for g in base.goals:
            for total in totals:
                sweep.append(replace(g, iterations=(total // 2, total - total // 2)))
    return goals, sweep, plan, subset


def first_per_category(shapes_with_parts, k: int) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for shape, _ in shapes_with_parts:
        if seen.get(shape.category, 0) < k:
            out.add(shape.shape_id)
        seen[shape.category] = seen.get(shape.category, 0) + 1
    return out


def read_records(path: Path) -> dict[str, dict]:
    records = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                records[rec["key"]] = rec
    return records


def run_goals(goals: list[Goal], options: RunOptions, workers: int, path: Path) -> None:
    records = read_records(path)
    # A crash is retried; a record made with other settings (extent, up, top-k, ...) is rerun.
    done = {k for k, r in records.items() if r["status"] != "CRASH"}
    todo = [g for g in unique_goals(goals)
            if g.key not in done or records[g.key].get("options") != options.signature(g)]  # fmt: skip
    if not todo:
        return
    # Shapes in order so a worker's shape cache hits; each goal is written as soon as it is done.
    ctx = mp.get_context("spawn")
    with path.open("a") as sink, tqdm(total=len(todo), desc="goals", unit="goal") as bar:
        if workers <= 1:
            init_worker(options)
            results = map(run_goal, todo)
            _drain(results, sink, bar)
        else:
            with ctx.Pool(workers, initializer=init_worker, initargs=(options,), maxtasksperchild=200) as pool:
                _drain(pool.imap_unordered(run_goal, todo, chunksize=1), sink, bar)


def _drain(results, sink, bar) -> None:
    for rec in results:
        sink.write(json.dumps(rec, allow_nan=True) + "\n")
        sink.flush()
        bar.set_postfix_str(f"{rec['category']} {rec['preset']} {rec['mode']} {rec['status']}")
        bar.update(1)


def annotate(records: dict[str, dict], goals: list[Goal], sweep: list[Goal]) -> list[dict]:
    """The records of this plan's goals, with the roles and modes each stands for."""
    out: dict[str, dict] = {}
    for g, role in [(g, "main") for g in goals] + [(g, "sweep") for g in sweep]:
        rec = records.get(g.key)
        if rec is None:
            continue
        rec = out.setdefault(g.key, {**rec, "modes": [], "role": None, "in_sweep": False})
        if g.mode not in rec["modes"] and role == "main":
            rec["modes"].append(g.mode)
        if role == "main":
            rec["role"] = "main"
        else:
            rec["in_sweep"] = True
    for rec in out.values():
        rec["role"] = rec["role"] or "sweep"
        rec["modes"] = rec["modes"] or [rec["mode"]]
    return list(out.values())


def main(argv: list[str] | None = None) -> int:
    # SIGTERM unwinds like Ctrl-C, so the worker pool is terminated with the run (not left orphaned).
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    requested = [p.strip() for p in args.presets.split(",") if p.strip()] or list(PRESETS)
    unknown = [p for p in requested if p not in PRESETS]
    if unknown:
        print(f"gdexgrasp-bench: unknown presets {unknown}; known: {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    presets, unavailable = available_presets(requested, RunOptions("", retriever=args.retriever,
                                                                   prior_database=args.prior_database,
                                                                   generator=args.generator))  # fmt: skip
    shapes, skipped_files = collect_shapes(args)
    if not shapes:
        print("gdexgrasp-bench: no shapes to run (check --shapes / --data)", file=sys.stderr)
        return 2
    goals, sweep, plan, subset = build_goals(args, shapes, presets)
    six = tuple(tuple(item.split(":", 1)) for item in args.six_direction.split(",") if ":" in item)
    options = RunOptions(str(out), args.up, _extents(args.extent), max_grasps=args.max_grasps,
                         simulate_top=args.simulate_top, six_direction=six, six_shapes=frozenset(subset),
                         retriever=args.retriever, prior_database=args.prior_database,
                         generator=args.generator, views=args.views, hold_check="off" if args.no_hold_check else "complete",
                         hold_check_shift_mm=args.hold_check_shift, num_candidates=args.num_candidates,
                         volume_ranking_cm3=args.volume_ranking, grip_zone_cm=args.grip_zone)  # fmt: skip
    started = time.perf_counter()
    path = out / "goals.jsonl"
    if not args.report_only:
        run_goals(goals + sweep, options, args.workers, path)
    records = annotate(read_records(path), goals, sweep)
    write_outputs(out, records, args, plan, skipped_files, unavailable, time.perf_counter() - started)
    return 0


def write_outputs(out: Path, records: list[dict], args, plan, skipped_files, unavailable, wall: float) -> None:
    from .figures import render_quality_vs_iterations
    from .grid import best_grasp_grid

    shapes = sorted({r["shape"] for r in records})
    header = [f"# gdexgrasp-bench ({time.strftime('%Y-%m-%d')})", "",
              f"Command: `gdexgrasp-bench {' '.join(sys.argv[1:])}`; this invocation's wall time {wall / 60:.1f} min "
              f"with {args.workers} workers; {len(records)} goals on {len(shapes)} shapes; schedule "
              f"{args.iterations[0]}+{args.iterations[1]} iterations; seed {args.seed}.",
              f"Skipped: {len(plan.skipped)} shapes without a usable instruction or part, {len(skipped_files)} files.",
              "Our hand: the embedded OpenHand (16 DoF), not MANO; our shapes: procedural unseen categories and "
              "PartNet-Mobility objects, not the paper's test set. Rows marked 'paper:' are the paper's published figures, for scale only."]  # fmt: skip
    # From the records, so that --report-only labels a run as it was made.
    views = max((r.get("options", {}).get("views", 1) for r in records if r["mode"] == "camera"), default=1)
    if views > 1:
        header.append(f"Camera mode: {views} depth views around each shape, fused into one cloud (--views).")
    (out / "table1.md").write_text(R.table1(records, header, views))
    (out / "table2.md").write_text(R.table2(records, args.table2_mode, unavailable, header))
    with (out / "grasps.jsonl").open("w") as sink:
        for r in records:
            goal = {k: v for k, v in r.items() if k not in ("grasps", "traceback")}
            for g in r["grasps"]:
                sink.write(json.dumps({**goal, **g}) + "\n")
    (out / "skipped.json").write_text(json.dumps({"shapes": plan.skipped, "files": skipped_files,
                                                  "presets": unavailable}, indent=1))  # fmt: skip
    best_grasp_grid(records, out)
    rows = R.iterations_rows(records)
    if rows:
        render_quality_vs_iterations(rows, out / "quality_vs_iterations.png")
    rows_written = {(r["preset"], m) for r in records for m in r["modes"]}
    print(
        f"wrote {out}/table1.md, table2.md, grasps.jsonl, best_grasps.png"
        f"{', quality_vs_iterations.png' if rows else ''} ({len(records)} goals, {len(rows_written)} rows)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
