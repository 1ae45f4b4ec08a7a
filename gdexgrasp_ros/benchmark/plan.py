"""What a benchmark run does: which instruction each shape gets, and the goals (mode x preset x schedule).

Instructions come from `--instructions FILE` (JSON lines {object, instruction, affordance, part};
`object` is a shape id, a shape's file stem or a category) and, for categories it does not cover,
from the project's own set (stage1/data/instructions.jsonl). From the project's set a category takes
its `indirect` instructions first (the paper's test instructions are indirect), then `direct` ones,
and the first of each distinct (affordance, part) pair, so two instructions ask for different grasps.
A category the set does not know gets `direct` instructions of other categories whose part the
shape has, with the category word replaced (e.g. "Hold the teapot by its handle." -> "Hold the cup
by its handle."): each part's commonest use in the set first, and different parts first. Shape i of a category takes instruction i mod n. A shape without the instruction's
part is skipped and counted. No rule here looks at a category's name.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..objects.affordances import matching_parts, part_words
from ..stage1.analysis.evaluation import load_instruction_set
from .shapes import BenchShape, category_name

MODES = ("inferred", "gt", "camera")
KIND_ORDER = ("indirect", "direct")
# Presets whose goals ignore the cloud's labels (no language, no part): their `inferred` and `gt`
# goals are the same computation, so one complete-cloud run stands for both rows.
LABEL_BLIND_PRESETS = ("dexgraspnet_baseline",)


@dataclass(frozen=True)
class Instruction:
    text: str
    affordance: str
    part: str  # the part name as the instruction's source names it ("handle")
    origin: str  # "file" | "project" | "project:<category>" (borrowed from another category)


@dataclass(frozen=True)
class Goal:
    """One synthesis goal: a shape seen in a mode, run with a preset and an optimizer schedule."""

    shape: BenchShape
    instruction: Instruction
    target_parts: tuple[str, ...]  # the shape's part names that are the instruction's part
    mode: str
    preset: str
    iterations: tuple[int, int]  # (sub-stage A, sub-stage B)
    seed: int

    @property
    def key(self) -> str:
        mode = "complete" if self.preset in LABEL_BLIND_PRESETS and self.mode != "camera" else self.mode
        a, b = self.iterations
        return f"{mode}|{self.preset}|{a}+{b}|{self.shape.shape_id}|{self.instruction.text}|seed={self.seed}"

    @property
    def scene_seed(self) -> int:
        """Seed of this shape's sampling and camera view: the same for every preset and mode."""
        return (self.seed * 1_000_003 + zlib.crc32(self.shape.shape_id.encode())) % (2**31)


@dataclass
class Plan:
    goals: list[Goal]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (shape id, reason)


def part_tokens(name: str) -> set[str]:
    """Words of a part name: 'base_body' -> {base, body}; 'handle-2' -> {handle}; 'rotation_lid' -> {rotation, lid}."""
    return set(part_words(name))


def read_instruction_file(path: str | Path) -> dict[str, list[Instruction]]:
    """object -> its instructions, from JSON lines {object, instruction, affordance, part}."""
    out: dict[str, list[Instruction]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{n}: not JSON: {err}") from None
        missing = [k for k in ("object", "instruction", "affordance", "part") if not str(row.get(k, "")).strip()]
        if missing:
            raise ValueError(f"{path}:{n}: missing {missing} (each line needs object, instruction, affordance, part)")
        key = category_name(str(row["object"]))
        out.setdefault(key, []).append(Instruction(row["instruction"], row["affordance"], row["part"], "file"))
    return out


def _distinct(rows: list[dict]) -> list[dict]:
    ranked = sorted(rows, key=lambda r: KIND_ORDER.index(r["kind"]))
    seen, out = set(), []
    for r in ranked:
        if (r["affordance"], r["part"]) not in seen:
            seen.add((r["affordance"], r["part"]))
            out.append(r)
    return out


def project_instructions(category: str, shape_parts: list[str], rows: list[dict], per_category: int = 2):
    """The project's instructions for a category (see the module docstring)."""
    own = [r for r in rows if r["category"] == category and r["kind"] in KIND_ORDER]
    if own:
        picked = _distinct(own)[:per_category]
        return [Instruction(r["instruction"], r["affordance"], r["part"], "project") for r in picked]
    direct = [r for r in rows if r["kind"] == "direct"]
    uses = Counter((r["affordance"], r["part"]) for r in direct)
    usable, seen = [], set()
    # A part's commonest use across the set first ("handle": handle-grip, not a faucet's twist).
    for r in sorted(direct, key=lambda r: -uses[(r["affordance"], r["part"])]):
        pattern = re.compile(rf"\b{re.escape(r['category'])}\b", re.IGNORECASE)
        pair = (r["affordance"], r["part"])
        if pair not in seen and matching_parts(r["part"], shape_parts) and pattern.search(r["instruction"]):
            seen.add(pair)
            usable.append(Instruction(pattern.sub(category, r["instruction"]), r["affordance"], r["part"],
                                      f"project:{r['category']}"))  # fmt: skip
    # Different parts first (a cup gets a handle and a body instruction, not two of its body).
    by_part: list[Instruction] = []
    for i in usable:
        if all(i.part != b.part for b in by_part):
            by_part.append(i)
    return (by_part + [i for i in usable if i not in by_part])[:per_category]


def instructions_for(shape: BenchShape, parts: list[str], from_file: dict[str, list[Instruction]],
                     rows: list[dict]) -> list[Instruction]:  # fmt: skip
    stem = Path(shape.path).stem.lower() if shape.path else ""
    for key in (category_name(shape.shape_id), category_name(stem) if stem else "", shape.category):
        if key and key in from_file:
            return from_file[key]
    return project_instructions(shape.category, parts, rows)


def make_plan(shapes: list[tuple[BenchShape, list[str]]], modes, presets, iterations: tuple[int, int], seed: int,
              instruction_file: str | Path | None = None, instruction_set=None) -> Plan:  # fmt: skip
    """Goals for every shape (with its part names), mode and preset; shapes are taken in order, and the
    i-th shape of a category takes that category's instruction i mod n."""
    rows = load_instruction_set(instruction_set)
    from_file = read_instruction_file(instruction_file) if instruction_file else {}
    plan = Plan([])
    index: dict[str, int] = {}
    for shape, parts in shapes:
        options = instructions_for(shape, parts, from_file, rows)
        i = index.get(shape.category, 0)
        index[shape.category] = i + 1
        if not options:
            plan.skipped.append((shape.shape_id, f"no instruction for category '{shape.category}' names a part "
                                                 f"it has ({', '.join(parts)})"))  # fmt: skip
            continue
        chosen = options[i % len(options)]
        targets = matching_parts(chosen.part, parts)
        if not targets:
            plan.skipped.append((shape.shape_id, f"has no '{chosen.part}' for \"{chosen.text}\" "
                                                 f"(parts: {', '.join(parts)})"))  # fmt: skip
            continue
        for mode in modes:
            for preset in presets:
                plan.goals.append(Goal(shape, chosen, targets, mode, preset, tuple(iterations), seed))
    return plan


def unique_goals(goals: list[Goal]) -> list[Goal]:
    """One goal per key, in order (label-blind presets run once for `inferred` and `gt`)."""
    seen, out = set(), []
    for g in goals:
        if g.key not in seen:
            seen.add(g.key)
            out.append(g)
    return out
