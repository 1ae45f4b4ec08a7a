"""Instruction-analysis accuracy on the project's instruction set (stage1/data/instructions.jsonl).

    python benchmarks/analysis_accuracy.py [--backends offline,openai,transformers] [--set FILE]
                                           [--mistakes] [--check]

Runs every runnable backend: offline always; openai when $OPENAI_API_KEY (or the variable named
by --api-key-env) is set or --base-url points at a local server; transformers when
$GDEXGRASP_VLM_PATH names a model directory. Prints affordance and part accuracy overall, per
kind and per category, plus a text-blind baseline (the category's first affordance-table
entry) for scale, and ends with one JSON line.
Acceptance (issue 6): offline affordance accuracy >= 90 %, part accuracy >= 85 %; --check
exits 1 when it is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is local: never try the network

from gdexgrasp_ros.stage1.analysis import make_analyzer  # noqa: E402
from gdexgrasp_ros.stage1.analysis.evaluation import (  # noqa: E402
    INSTRUCTION_SET,
    evaluate,
    load_instruction_set,
    score,
    table_default,
)
from gdexgrasp_ros.stage1.analysis.transformers_backend import MODEL_PATH_ENV  # noqa: E402

ACCEPT_AFFORDANCE = 0.90
ACCEPT_PART = 0.85


def runnable(args) -> dict[str, dict | str]:
    """backend -> constructor options, or the reason it cannot run here."""
    out: dict[str, dict | str] = {}
    for name in args.backends:
        if name == "offline":
            out[name] = {}
        elif name == "openai":
            if os.environ.get(args.api_key_env) or args.base_url:
                out[name] = {"model": args.model, "base_url": args.base_url, "api_key_env": args.api_key_env}
            else:
                out[name] = f"skipped: ${args.api_key_env} not set and no --base-url"
        elif name == "transformers":
            path = os.environ.get(MODEL_PATH_ENV, "")
            out[name] = {"model_path": path} if path else f"skipped: ${MODEL_PATH_ENV} not set"
        else:
            out[name] = "skipped: unknown backend"
    return out


def print_table(name: str, res: dict) -> None:
    print(f"\n== {name}: affordance {res['affordance']:.1%}  part {res['part']:.1%}  (n={res['n']})", end="")
    if "fallbacks" in res:
        print(
            f"  fallbacks {res['fallbacks']}  refused {res['refused']}  low-confidence {res['low_confidence']}", end=""
        )
        print(f"  {res['ms_per_instruction']:.1f} ms/instruction", end="")
    print()
    for group in ("per_kind", "per_category"):
        print(f"  {group.replace('_', ' ')}:")
        for key, r in res[group].items():
            print(f"    {key:16s} n={r['n']:3d}  affordance {r['affordance']:6.1%}  part {r['part']:6.1%}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="offline,openai,transformers", type=lambda s: [b for b in s.split(",") if b])
    ap.add_argument("--set", default=str(INSTRUCTION_SET), help="JSONL instruction set")
    ap.add_argument("--model", default="gpt-4o")
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--api-key-env", default="OPENAI_API_KEY")
    ap.add_argument("--mistakes", action="store_true", help="list every wrong answer")
    ap.add_argument("--check", action="store_true", help="exit 1 when the offline acceptance is missed")
    args = ap.parse_args()

    rows = load_instruction_set(args.set)
    print(f"instruction set: {args.set} ({len(rows)} instructions, {len({r['category'] for r in rows})} categories)")
    results: dict[str, dict] = {}
    baseline = score(rows, [table_default(r) for r in rows])
    print_table("baseline (category's first table entry, text ignored)", baseline)
    skipped = {}
    for name, options in runnable(args).items():
        if isinstance(options, str):
            skipped[name] = options
            print(f"\n== {name}: {options}")
            continue
        res = evaluate(make_analyzer(name, **options), rows)
        results[name] = res
        print_table(name, res)
        if args.mistakes:
            for m in res["mistakes"]:
                print(f"    x [{m['category']}/{m['kind']}] {m['instruction']!r}: want {m['want']} got {m['got']}")

    offline = results.get("offline")
    accepted = None
    if offline:
        accepted = offline["affordance"] >= ACCEPT_AFFORDANCE and offline["part"] >= ACCEPT_PART
        print(
            f"\nacceptance (offline affordance >= {ACCEPT_AFFORDANCE:.0%}, part >= {ACCEPT_PART:.0%}): "
            f"{'PASS' if accepted else 'FAIL'}"
        )
    summary = {
        "benchmark": "analysis_accuracy",
        "set_size": len(rows),
        "baseline": {k: baseline[k] for k in ("affordance", "part")},
        "results": {k: {kk: vv for kk, vv in v.items() if kk != "mistakes"} for k, v in results.items()},
        "skipped": skipped,
        "accepted": accepted,
    }
    print(json.dumps(summary))
    return 1 if args.check and not accepted else 0


if __name__ == "__main__":
    sys.exit(main())
