"""Part names: normalisation, synonym families, and matching a queried name against labels.

Datasets and language models spell one part many ways ("cap", "Lid", "base_body", "handle-2",
"grip"). Every name is first normalised (lower case, separators to spaces, trailing instance
numbers dropped), then mapped to a *family*: the geometric localizer reasons about families,
and the label localizer accepts any member of the queried name's family.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# family -> its members (normalised spellings). The first member is the family's name.
PART_FAMILIES: dict[str, tuple[str, ...]] = {
    "handle": ("handle", "grip", "handgrip", "hand grip", "hilt", "haft", "bail", "handlebar", "handle grip"),
    "lid": ("lid", "cap", "top", "cover", "stopper", "cork", "closure", "bottle cap", "knob", "dial"),
    "trigger": ("trigger", "button", "switch"),
    "spout": ("spout", "nozzle", "snout", "mouth"),
    # A sprayer's "tank", a flashlight's "barrel": the main piece, named after what it is.
    "body": (
        "body",
        "base body",
        "main body",
        "container",
        "base",
        "vessel",
        "housing",
        "barrel",
        "tank",
        "canister",
        "casing",
    ),
    "blade": ("blade", "edge", "cutting edge"),
    "neck": ("neck",),
    "head": ("head",),
    "shaft": ("shaft", "stem", "rod", "pole", "stick"),
}

# AffordPose labels name affordance *regions*, not parts; when an object carries only those, a
# queried part may stand for the region that affords what that part is used for (a bottle's
# "twist" region is its cap). Used by the label localizer as a last resort, and said so.
AFFORDANCE_REGION_FAMILY: dict[str, str] = {
    "handle grasp": "handle",
    "twist": "lid",
    "wrap grasp": "body",
    "press": "trigger",
    "support": "body",
    "lift": "handle",
    "pull": "handle",
    "lever": "handle",
}

_MEMBER_TO_FAMILY = {member: family for family, members in PART_FAMILIES.items() for member in members}

# Names an instruction-analysis answer may use for one place on an object (issue 17: "families
# counted as one"): wider than the localizer's families, which keep a hammer's head apart from a
# lid. Used to map a model's answer onto the object's label and to score answers.
ANSWER_FAMILIES: tuple[frozenset[str], ...] = (
    frozenset({"cap", "lid", "top", "head", "cover"}),
    frozenset({"handle", "grip", "arm", "bail"}),
    frozenset({"body", "side", "base", "bottom"}),
)


def singular(word: str) -> str:
    """'handles' -> 'handle', 'glasses' -> 'glass', 'boxes' -> 'box'; 'glass' and short words stay."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith("ss"):
        return word
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


def same_part(a: str, b: str) -> bool:
    """Whether two part names mean the same place: equal (also as singulars), one answer family,
    or one localizer family."""
    ka, kb = (" ".join(singular(w) for w in normalize_name(x).split()) for x in (a, b))
    if ka == kb or any(ka in f and kb in f for f in ANSWER_FAMILIES):
        return True
    family = part_family(ka)
    return family is not None and family == part_family(kb)


def normalize_name(name: str) -> str:
    """'Base_Body' -> 'base body', 'handle-2' -> 'handle', '  Lid ' -> 'lid'."""
    if not isinstance(name, str):
        raise TypeError(f"a part name must be a string, got {type(name).__name__}")
    words = re.sub(r"[_\-./]+", " ", name.strip().lower()).split()
    while len(words) > 1 and words[-1].isdigit():  # instance numbers of PartNet links ("handle 2")
        words.pop()
    return " ".join(words)


def part_family(name: str) -> str | None:
    """The family of a part name ("cap" -> "lid"), or None when the name is in no family.

    A multi-word name not listed as such falls back to its last word ("kettle handle" -> "handle").
    """
    key = normalize_name(name)
    if key in _MEMBER_TO_FAMILY:
        return _MEMBER_TO_FAMILY[key]
    words = key.split()
    return _MEMBER_TO_FAMILY.get(words[-1]) if len(words) > 1 else None


def match_part_names(query: str, part_names: Sequence[str]) -> tuple[list[int], str]:
    """Indices of the part names that the queried name refers to, and how they matched.

    Order of preference: the same normalised name ("exact"), a member of the same family
    ("synonym"), an AffordPose affordance region whose family is the query's ("affordance region").
    Returns ([], "") when nothing matches.
    """
    key = normalize_name(query)
    normalized = [normalize_name(n) for n in part_names]
    exact = [i for i, n in enumerate(normalized) if n == key]
    if exact:
        return exact, "exact"
    family = part_family(key)
    if family is None:
        return [], ""
    synonyms = [i for i, n in enumerate(normalized) if part_family(n) == family]
    if synonyms:
        return synonyms, "synonym"
    regions = [i for i, n in enumerate(normalized) if AFFORDANCE_REGION_FAMILY.get(n) == family]
    return (regions, "affordance region") if regions else ([], "")
