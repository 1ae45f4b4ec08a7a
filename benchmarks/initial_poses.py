"""Stage 2 before optimization: how often do initial hands touch the target part, per generator?

    python benchmarks/initial_poses.py [--seeds 3] [--generators cvae,part_random,part_facing] [--k 8]

On the procedural UNSEEN categories (never in the dataset the CVAE learned from), every (part,
affordance) pair of the affordance table, --seeds objects each: the ground-truth part mask, the
prior retrieved from the shipped database for that part (its cluster id and representative joints),
K initial poses from each generator (pushed out of the object as the pipeline does, complete cloud),
the hand posed with the prior's joints. A sample "touches the part" when >= 10 of its vertices lie
within 5 mm of the part's points and it is not buried (no vertex deeper than 5 mm under the
object's surface, measured on the object's mesh). Prints a table per generator and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch
from scipy.spatial import cKDTree
from tqdm import tqdm

from gdexgrasp_ros.hand import OpenHand
from gdexgrasp_ros.metrics import contact as M
from gdexgrasp_ros.objects.affordances import AFFORDANCE_TABLE
from gdexgrasp_ros.objects.procedural import UNSEEN_CATEGORIES, generate_object
from gdexgrasp_ros.stage1.retrieval import make_retriever
from gdexgrasp_ros.stage2.generation import GenerationInput, make_generator

TOUCH = 0.005  # m
MIN_TOUCHING = 10  # vertices
BURIED = 0.005  # m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--generators", default="cvae,part_random,part_facing")
    ap.add_argument("--k", type=int, default=8)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    hand = OpenHand()
    retriever = make_retriever("database")
    names = [g.strip() for g in args.generators.split(",") if g.strip()]
    generators = {n: make_generator(n) for n in names}
    counts = {n: {"touch": 0, "buried": 0, "n": 0} for n in names}
    started = time.perf_counter()
    jobs = [(c, s, p, a) for c in UNSEEN_CATEGORIES for s in range(args.seeds)
            for p, affs in AFFORDANCE_TABLE[c].items() for a in affs]  # fmt: skip
    for category, seed, part, affordance in tqdm(jobs, desc="queries", unit="query"):
        obj = generate_object(category, seed, 2048)
        mask = obj.part_mask(part)
        prior = retriever.retrieve(hand, affordance, part, obj.points[mask])
        tree = cKDTree(obj.points[mask])
        for name, gen in generators.items():
            query = GenerationInput(obj.points, obj.normals, mask, args.k, hand, seed, complete=True,
                                    joints=prior.joints, cluster_id=prior.cluster_id)  # fmt: skip
            poses = gen.generate(query)
            joints = torch.as_tensor(prior.joints, dtype=torch.float32).expand(poses.count, -1)
            with torch.no_grad():
                verts = hand.forward(poses.rot6d, poses.trans, joints).vertices.numpy().astype(float)
            for v in verts:
                touching = int((tree.query(v)[0] < TOUCH).sum())
                buried = M.penetration_depth(v, obj.mesh) > BURIED
                counts[name]["n"] += 1
                counts[name]["buried"] += int(buried)
                counts[name]["touch"] += int(touching >= MIN_TOUCHING and not buried)
    print(f"{len(jobs)} (object, part, affordance) queries x {args.k} samples, unseen categories "
          f"({', '.join(UNSEEN_CATEGORIES)}), {time.perf_counter() - started:.0f} s")  # fmt: skip
    print("| generator | touches the part % | buried % | samples |\n|---|---|---|---|")
    for name, c in counts.items():
        print(f"| {name} | {100 * c['touch'] / c['n']:.1f} | {100 * c['buried'] / c['n']:.1f} | {c['n']} |")
    print(json.dumps({n: {k: v for k, v in c.items()} for n, c in counts.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
