"""Which (category, part) pairs afford which of the five G-DexGrasp affordances.

The table drives dataset synthesis (which part a prior of an affordance touches) and the
offline instruction analyser's part choice. Names: handle-grip, twist, wrap-around-grip,
base-support, trigger-squeeze.
"""

from __future__ import annotations

import re

from ..affordance_types import AFFORDANCES

__all__ = ["AFFORDANCES", "AFFORDANCE_TABLE", "affordances_of", "matching_parts", "part_words", "parts_affording"]

# category -> part -> affordances it affords (first = the most typical for that part).
AFFORDANCE_TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    # training categories
    "bottle": {"body": ("wrap-around-grip", "base-support"), "cap": ("twist",), "neck": ("wrap-around-grip",)},
    "bowl": {"body": ("base-support", "wrap-around-grip"), "base": ("base-support",)},
    "dispenser": {"body": ("wrap-around-grip", "base-support"), "pump": ("trigger-squeeze",)},
    "headphones": {"headband": ("handle-grip",), "earcup": ("wrap-around-grip",)},
    "faucet": {"handle": ("twist", "handle-grip"), "spout": ("wrap-around-grip",)},
    "handle bottle": {"handle": ("handle-grip",), "body": ("wrap-around-grip", "base-support"), "cap": ("twist",)},
    "jar": {"lid": ("twist",), "body": ("wrap-around-grip", "base-support")},
    "kettle": {"handle": ("handle-grip",), "body": ("base-support", "wrap-around-grip"), "lid": ("twist",)},
    "knife": {"handle": ("handle-grip",)},
    "mug": {"handle": ("handle-grip",), "body": ("wrap-around-grip", "base-support")},
    "pot": {"handle": ("handle-grip",), "lid": ("twist",), "body": ("base-support", "wrap-around-grip")},
    "scissors": {"handle": ("handle-grip",)},
    "spray bottle": {"trigger": ("trigger-squeeze",), "body": ("wrap-around-grip", "base-support"), "head": ("twist",)},
    # unseen categories
    "frying pan": {"handle": ("handle-grip",), "body": ("base-support",)},
    "saucepan": {"handle": ("handle-grip",), "lid": ("twist",), "body": ("base-support", "wrap-around-grip")},
    "broom": {"handle": ("handle-grip", "wrap-around-grip")},
    "umbrella": {"handle": ("handle-grip",), "shaft": ("wrap-around-grip",), "canopy": ("wrap-around-grip",)},
    "suitcase": {"handle": ("handle-grip",), "body": ("base-support",)},
    "hammer": {"handle": ("handle-grip",)},
    "screwdriver": {"handle": ("twist", "handle-grip")},
    "drill": {"trigger": ("trigger-squeeze",), "handle": ("handle-grip",), "body": ("wrap-around-grip",)},
    "watering can": {"handle": ("handle-grip",), "body": ("wrap-around-grip", "base-support")},
    "teapot": {"handle": ("handle-grip",), "lid": ("twist",), "body": ("base-support", "wrap-around-grip")},
    "flashlight": {"body": ("wrap-around-grip",), "head": ("twist",)},
    "jug": {"handle": ("handle-grip",), "lid": ("twist",), "body": ("wrap-around-grip", "base-support")},
    "cup": {"handle": ("handle-grip",), "body": ("wrap-around-grip", "base-support")},
    "vase": {"handle": ("handle-grip",), "body": ("wrap-around-grip", "base-support")},
    "bucket": {"handle": ("handle-grip",), "body": ("wrap-around-grip", "base-support")},
}


def affordances_of(category: str, part: str) -> tuple[str, ...]:
    return AFFORDANCE_TABLE.get(category, {}).get(part, ())


def parts_affording(category: str, affordance: str) -> list[str]:
    """Parts of a category that afford an affordance, the most typical first."""
    if affordance not in AFFORDANCES:
        raise ValueError(f"unknown affordance '{affordance}'; expected one of {AFFORDANCES}")
    parts = AFFORDANCE_TABLE.get(category, {})
    ranked = [(aff.index(affordance), p) for p, aff in parts.items() if affordance in aff]
    return [p for _, p in sorted(ranked)]


def part_words(name: str) -> list[str]:
    """Lower-case words of a part name: 'base_body' -> [base, body]; 'handle-2' -> [handle]."""
    return [w for w in re.split(r"[^a-z]+", name.lower()) if w]


def matching_parts(part: str, shape_parts: list[str]) -> tuple[str, ...]:
    """An object's part names that name `part`: the same name first, then names that contain its words
    ('base_body' for body, 'rotation_lid' for lid)."""
    want = set(part_words(part))
    if not want:
        return ()
    exact = [p for p in shape_parts if p.lower() == part.lower()]
    return tuple(exact + [p for p in shape_parts if p not in exact and want <= set(part_words(p))])
