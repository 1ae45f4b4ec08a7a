"""Instruction sets and accuracy over them.

Two sets, same format: the project's own (stage1/data/instructions.jsonl, written together with
the vocabulary: a regression test) and the blind set (benchmarks/data/blind_instructions.jsonl,
written by someone who had not read the analyzer, frozen before the analyzer was reworked for
issue 17: never tune on it). Each line: {"instruction", "category", "parts", "affordance",
"part", "kind"}, kind one of KINDS. Part accuracy is reported exact and by family (cap / lid /
top / head / cover count as one, see localization.names.same_part). Used by
benchmarks/analysis_accuracy.py and the tests.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from ...errors import GraspError
from ...objects.affordances import AFFORDANCE_TABLE
from .base import Arrangement, InstructionAnalyzer

INSTRUCTION_SET = Path(__file__).resolve().parents[1] / "data" / "instructions.jsonl"
KINDS = ("direct", "indirect", "no_part", "paraphrase", "typo", "other_language", "injection")
FIELDS = ("instruction", "category", "parts", "affordance", "part", "kind")


def same_part_family(a: str, b: str) -> bool:
    """Whether two part names are one answer (localization.names.same_part: the issue's families,
    the localizer's families, plurals)."""
    from ..localization.names import same_part  # lazily: the localization package is heavy to import

    return same_part(a, b)


def load_instruction_set(path: str | Path | None = None) -> list[dict]:
    """The rows of a JSONL instruction set, checked field by field."""
    path = Path(path) if path else INSTRUCTION_SET
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise ValueError(f"{path}:{n}: missing fields {missing}")
        if row["kind"] not in KINDS:
            raise ValueError(f"{path}:{n}: unknown kind '{row['kind']}'")
        rows.append(row)
    return rows


def run_analyzer(analyzer: InstructionAnalyzer, rows: Sequence[dict]) -> list[Arrangement | GraspError]:
    """The analyzer's answer for every row, or the GraspError it raised for that row (one batched
    pass when the analyzer offers it and no row fails)."""
    if hasattr(analyzer, "analyze_batch"):
        try:
            return analyzer.analyze_batch(
                [r["instruction"] for r in rows], [r["category"] for r in rows], [r["parts"] for r in rows]
            )
        except GraspError:
            pass  # some row was refused: answer row by row to see which
    out: list[Arrangement | GraspError] = []
    for r in rows:
        try:
            out.append(analyzer.analyze(r["instruction"], r["category"], r["parts"]))
        except GraspError as err:
            out.append(err)
    return out


def answer(result: Arrangement | GraspError) -> tuple[str, str]:
    """(affordance, part) of an answer; a refusal is ("ERROR_CODE", message) and never right."""
    if isinstance(result, GraspError):
        return result.code.name, result.message
    return result.affordance, result.contact_part


def without_parts(rows: Sequence[dict]) -> list[dict]:
    """The rows as `gdexgrasp-analyze --category C` sees them: the object's part names withheld."""
    return [{**r, "parts": []} for r in rows]


def table_default(row: dict) -> tuple[str, str]:
    """Baseline that ignores the text: the category's first table entry (part, its first
    affordance); a wrap around the body for a category outside the table."""
    table = AFFORDANCE_TABLE.get(row["category"])
    if table is None:
        return "wrap-around-grip", "body"
    part, affs = next(iter(table.items()))
    return affs[0], part


def vocabulary_group(category: str) -> str:
    """'known' for a category of the affordance table, else 'outside'."""
    return "known" if category in AFFORDANCE_TABLE else "outside"


def score(rows: Sequence[dict], answers: Sequence[tuple[str, str]]) -> dict:
    """Affordance, part (exact) and part-family accuracy, overall, per kind, per category and per
    vocabulary group (categories of the affordance table vs outside it)."""
    groups: dict[str, dict[str, list[int]]] = {
        g: defaultdict(lambda: [0, 0, 0, 0]) for g in ("kind", "category", "vocabulary")
    }
    total = [0, 0, 0, 0]
    for row, (aff, part) in zip(rows, answers, strict=True):
        hit = [1, int(aff == row["affordance"]), int(part == row["part"]), int(same_part_family(part, row["part"]))]
        keys = {"kind": row["kind"], "category": row["category"], "vocabulary": vocabulary_group(row["category"])}
        for acc in (total, *(groups[g][k] for g, k in keys.items())):
            for i in range(4):
                acc[i] += hit[i]

    def ratios(c: list[int]) -> dict:
        return {"n": c[0], "affordance": c[1] / c[0], "part": c[2] / c[0], "part_family": c[3] / c[0]}

    return {
        **ratios(total),
        "per_kind": {k: ratios(v) for k, v in sorted(groups["kind"].items(), key=lambda kv: KINDS.index(kv[0]))},
        "per_vocabulary": {k: ratios(v) for k, v in sorted(groups["vocabulary"].items())},
        "per_category": {k: ratios(v) for k, v in sorted(groups["category"].items())},
    }


def evaluate(
    analyzer: InstructionAnalyzer, rows: Sequence[dict], clock: Callable[[], float] = time.perf_counter
) -> dict:
    """score() of an analyzer, plus its fallback, refusal and low-confidence counts and time per instruction."""
    t0 = clock()
    results = run_analyzer(analyzer, rows)
    elapsed = clock() - t0
    answers = [answer(a) for a in results]
    out = score(rows, answers)
    out["fallbacks"] = sum(isinstance(a, Arrangement) and a.fallback for a in results)
    out["refused"] = sum(isinstance(a, GraspError) for a in results)
    out["low_confidence"] = sum(isinstance(a, Arrangement) and a.low_confidence for a in results)
    out["ms_per_instruction"] = 1000 * elapsed / max(1, len(rows))
    out["mistakes"] = [
        {"instruction": r["instruction"], "category": r["category"], "kind": r["kind"],
         "want": [r["affordance"], r["part"]], "got": list(got)}
        for r, got in zip(rows, answers, strict=True)
        if got != (r["affordance"], r["part"])
    ]  # fmt: skip
    return out
