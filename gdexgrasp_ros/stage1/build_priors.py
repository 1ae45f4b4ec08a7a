"""Build the prior database: synthesize the grasp dataset over the training objects, cluster it, write both.

    python -m gdexgrasp_ros.stage1.build_priors --out DIR [--seeds 4] [--categories mug,kettle]
        [--workers 2] [--iterations 700 700] [--candidates 8] [--seed 0]

The build is a list of independent jobs, one per training object (category x seed, in a fixed
order); `--workers N` runs them in N local processes (spawned, one torch thread each) and the
results are merged in job order, so the files are the same bytes whichever number of workers ran
them. Writes DIR/grasps.npz (the filtered dataset, stage1.grasp_dataset), DIR/priors.npz (the
clusters, stage1.prior_database), DIR/build.json (per-object tries, filter failures, kept grasps,
clusters per affordance and silhouettes, wall time) and DIR/clusters.png (each cluster's
representative grasp on the object it came from). Use the database with the server parameters
`retriever: database` and `prior_database: DIR/priors.npz` (library: SynthesizerConfig(retriever=
"database", retriever_options={"path": ...})).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..objects.procedural import TRAIN_CATEGORIES
from .clustering import cluster_records
from .dataset_synthesis import SynthesisFilters, SynthesisSettings, synthesize_object
from .grasp_dataset import save_records
from .prior_database import PriorDatabase

# The shipped database (gdexgrasp-build priors): every training category, 6 objects each, the
# default synthesis settings. Workers: every core up to 8 (the bytes do not depend on the count).
SHIPPED_ARGS = ("--seeds", "6", "--workers", str(max(1, min(8, os.cpu_count() or 1))))


def jobs(categories: list[str], seeds: int, base_seed: int = 0) -> list[tuple[str, int]]:
    """(category, object seed) of every job, in the fixed build order."""
    return [(c, base_seed + i) for c in categories for i in range(seeds)]


_SETTINGS: SynthesisSettings | None = None
_DEVICE = "cpu"
_HAND = None


def _init(settings: SynthesisSettings, device: str = "cpu") -> None:
    """Per process: the settings and one torch thread (N workers share N cores; results do not depend
    on a thread count)."""
    global _SETTINGS, _DEVICE
    import torch

    torch.set_num_threads(1)
    _SETTINGS, _DEVICE = settings, device


def _run(job: tuple[str, int]):
    global _HAND
    if _HAND is None:  # built once per process (the hand mesh takes a few seconds)
        from ..hand import load_hand_model

        _HAND = load_hand_model("open_hand", device=_DEVICE)
    category, seed = job
    return synthesize_object(_HAND, category, seed, _SETTINGS)


def _run_with(settings: SynthesisSettings, device: str, job: tuple[str, int]):
    """One job in a fresh executor (a Ray task): the same per-process state as a local worker."""
    _init(settings, device)
    return _run(job)


def run_local(job_list, settings: SynthesisSettings, workers: int = 1, device: str = "cpu") -> list:
    """Every job's (records, report), in job order, in this process (workers 1) or N spawned processes."""
    if workers <= 1:
        import torch

        # One thread as in a worker (the same arithmetic, so the same bytes); the caller's count is restored.
        threads = torch.get_num_threads()
        _init(settings, device)
        try:
            return [_run(j) for j in tqdm(job_list, desc="objects", unit="object")]
        finally:
            torch.set_num_threads(threads)
    with mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(settings, device)) as pool:
        return list(tqdm(pool.imap(_run, job_list), total=len(job_list), desc="objects", unit="object"))


def run_ray(job_list, settings: SynthesisSettings, address: str, device: str = "cpu") -> list:
    """The same jobs as Ray tasks (one CPU each) on the cluster at `address` ("auto": the running one, "local":
    a Ray started here for this build); results are gathered in job order, so the files are the same bytes.
    Every Ray node needs this package installed (the same version)."""
    try:
        import ray
    except ImportError as err:
        raise RuntimeError("--ray needs Ray, an optional extra: pip install 'ray>=2.9' (see the README)") from err
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=None if address == "local" else address, include_dashboard=False,
                 log_to_driver=False, logging_level="ERROR")  # fmt: skip
    try:
        task = ray.remote(num_cpus=1, num_gpus=1 if device.startswith("cuda") else 0)(_run_with)
        refs = [task.remote(settings, device, j) for j in job_list]
        out = []
        for ref in tqdm(refs, desc="objects (ray)", unit="object"):
            out.append(ray.get(ref))
        return out
    finally:
        if started_here:
            ray.shutdown()


def build(out_dir: Path, job_list: list[tuple[str, int]], settings: SynthesisSettings, workers: int = 1,
          seed: int = 0, figure: bool = True, ray_address: str = "", device: str = "cpu") -> dict:  # fmt: skip
    """Run the jobs (locally, or on Ray when ray_address is given), merge in job order, cluster and write the
    files; returns the build report."""
    started = time.perf_counter()
    if ray_address:
        results = run_ray(job_list, settings, ray_address, device)
    else:
        results = run_local(job_list, settings, workers, device)
    records = [r for recs, _ in results for r in recs]
    if not records:
        raise RuntimeError("no grasp passed the filters: nothing to cluster (see the per-object failures)")
    report = {
        "jobs": [asdict(rep) for _, rep in results],
        "settings": asdict(settings),
        "synthesis_wall_s": round(time.perf_counter() - started, 1),
        "workers": workers,
        "executor": f"ray:{ray_address}" if ray_address else f"local:{workers}",
        "device": device,
    }
    return write_database(out_dir, records, seed, report, figure)


def write_database(out_dir: Path, records: list, seed: int = 0, report: dict | None = None, figure: bool = True,
                   mesh_of=None) -> dict:  # fmt: skip
    """Cluster the records and write DIR/grasps.npz, DIR/priors.npz, DIR/build.json (report plus the counts) and
    DIR/clusters.png (mesh_of: see viz.prior_gallery.render_clusters); returns the build report."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_records(out_dir / "grasps.npz", records)
    clusters, silhouettes = cluster_records(records, seed=seed)
    database = PriorDatabase(clusters)
    database.save(out_dir / "priors.npz")
    report = dict(report or {})
    report.update({
        "grasps": len(records),
        "grasps_per_affordance": _count(r.affordance for r in records),
        "clusters_per_affordance": _count(c.affordance for c in clusters),
        "silhouettes": {a: {str(k): round(v, 4) for k, v in s.items()} for a, s in silhouettes.items()},
    })  # fmt: skip
    (out_dir / "build.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    if figure:
        from ..viz.prior_gallery import render_clusters

        render_clusters(database, records, out_dir / "clusters.png", mesh_of=mesh_of)
    return report


def _count(items) -> dict[str, int]:
    return dict(sorted(Counter(items).items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="build_priors", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--categories", default="", help="comma-separated training categories (default: all 13)")
    ap.add_argument("--seeds", type=int, default=4, help="objects per category (seeds 0..N-1 after --seed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--iterations", type=int, nargs=2, default=SynthesisSettings.iterations, metavar=("A", "B"))
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument(
        "--database",
        type=Path,
        default=None,
        help="also copy OUT/priors.npz here (e.g. gdexgrasp_ros/assets/prior_database.npz, the shipped file)",
    )
    ap.add_argument(
        "--ray",
        default="",
        metavar="ADDRESS",
        help="run the jobs on a Ray cluster: ADDRESS, 'auto' (the running one) or 'local' (optional extra)",
    )
    ap.add_argument("--device", default="cpu", help="torch device of the optimizer: cpu, cuda, cuda:N")
    ap.add_argument(
        "--simulate",
        action="store_true",
        help="also filter by simulation (< 2 cm after 1 s of gravity; see SynthesisFilters)",
    )
    args = ap.parse_args(argv)
    categories = [c.strip() for c in args.categories.split(",") if c.strip()] or list(TRAIN_CATEGORIES)
    unknown = [c for c in categories if c not in TRAIN_CATEGORIES]
    if unknown:
        ap.error(f"not training categories: {unknown}; known: {', '.join(TRAIN_CATEGORIES)}")
    if args.seeds < 1 or args.workers < 1 or args.candidates < 1 or min(args.iterations) < 0:
        ap.error("--seeds, --workers and --candidates must be >= 1 and --iterations >= 0")
    filters = SynthesisFilters(max_displacement=0.02) if args.simulate else SynthesisFilters()
    settings = SynthesisSettings(candidates=args.candidates, iterations=tuple(args.iterations), filters=filters)
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            ap.error(f"--device {args.device}: CUDA is not available here (use --device cpu)")
    try:
        report = build(args.out, jobs(categories, args.seeds, args.seed), settings, args.workers, args.seed,
                       ray_address=args.ray, device=args.device)  # fmt: skip
    except RuntimeError as err:
        print(f"build_priors: {err}", file=sys.stderr)
        return 1
    if args.database is not None:
        args.database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.out / "priors.npz", args.database)
    print(json.dumps({k: report[k] for k in ("grasps_per_affordance", "clusters_per_affordance", "synthesis_wall_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
