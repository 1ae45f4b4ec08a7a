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
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..objects.procedural import TRAIN_CATEGORIES
from .clustering import cluster_records
from .dataset_synthesis import SynthesisSettings, synthesize_object
from .grasp_dataset import save_records
from .prior_database import PriorDatabase


def jobs(categories: list[str], seeds: int, base_seed: int = 0) -> list[tuple[str, int]]:
    """(category, object seed) of every job, in the fixed build order."""
    return [(c, base_seed + i) for c in categories for i in range(seeds)]


_SETTINGS: SynthesisSettings | None = None
_HAND = None


def _init(settings: SynthesisSettings) -> None:
    """Per process: the settings and one torch thread (N workers share N cores; results do not depend
    on a thread count)."""
    global _SETTINGS
    import torch

    torch.set_num_threads(1)
    _SETTINGS = settings


def _run(job: tuple[str, int]):
    global _HAND
    if _HAND is None:  # built once per process (the hand mesh takes a few seconds)
        from ..hand import load_hand_model

        _HAND = load_hand_model("open_hand")
    category, seed = job
    return synthesize_object(_HAND, category, seed, _SETTINGS)


def build(out_dir: Path, job_list: list[tuple[str, int]], settings: SynthesisSettings, workers: int = 1,
          seed: int = 0, figure: bool = True) -> dict:  # fmt: skip
    """Run the jobs, merge in job order, cluster and write the files; returns the build report."""
    started = time.perf_counter()
    if workers <= 1:
        import torch

        # One thread as in a worker (the same arithmetic, so the same bytes); the caller's count is restored.
        threads = torch.get_num_threads()
        _init(settings)
        try:
            results = [_run(j) for j in tqdm(job_list, desc="objects", unit="object")]
        finally:
            torch.set_num_threads(threads)
    else:
        with mp.get_context("spawn").Pool(workers, initializer=_init, initargs=(settings,)) as pool:
            results = list(tqdm(pool.imap(_run, job_list), total=len(job_list), desc="objects", unit="object"))
    records = [r for recs, _ in results for r in recs]
    if not records:
        raise RuntimeError("no grasp passed the filters: nothing to cluster (see the per-object failures)")
    out_dir.mkdir(parents=True, exist_ok=True)
    save_records(out_dir / "grasps.npz", records)
    clusters, silhouettes = cluster_records(records, seed=seed)
    database = PriorDatabase(clusters)
    database.save(out_dir / "priors.npz")
    report = {
        "jobs": [asdict(rep) for _, rep in results],
        "grasps_per_affordance": _count(r.affordance for r in records),
        "clusters_per_affordance": _count(c.affordance for c in clusters),
        "silhouettes": {a: {str(k): round(v, 4) for k, v in s.items()} for a, s in silhouettes.items()},
        "settings": asdict(settings),
        "wall_s": round(time.perf_counter() - started, 1),
        "workers": workers,
    }
    (out_dir / "build.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    if figure:
        from ..viz.prior_gallery import render_clusters

        render_clusters(database, records, out_dir / "clusters.png")
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
    ap.add_argument("--iterations", type=int, nargs=2, default=(700, 700), metavar=("A", "B"))
    ap.add_argument("--candidates", type=int, default=8)
    args = ap.parse_args(argv)
    categories = [c.strip() for c in args.categories.split(",") if c.strip()] or list(TRAIN_CATEGORIES)
    unknown = [c for c in categories if c not in TRAIN_CATEGORIES]
    if unknown:
        ap.error(f"not training categories: {unknown}; known: {', '.join(TRAIN_CATEGORIES)}")
    if args.seeds < 1 or args.workers < 1 or args.candidates < 1 or min(args.iterations) < 0:
        ap.error("--seeds, --workers and --candidates must be >= 1 and --iterations >= 0")
    settings = SynthesisSettings(candidates=args.candidates, iterations=tuple(args.iterations))
    report = build(args.out, jobs(categories, args.seeds, args.seed), settings, args.workers, args.seed)
    print(json.dumps({k: report[k] for k in ("grasps_per_affordance", "clusters_per_affordance", "wall_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
