"""Instruction analysis (G-DexGrasp stage 1): instruction -> (affordance, contact part).

Every backend returns an `Arrangement`; whatever a backend produced is checked by
`validate_arrangement` against the fixed affordance list and the object's part names, so a
language model's answer is never used unchecked. A backend whose output fails the check
raises `InvalidArrangementError`, which the remote backends turn into a fallback to the
offline analyzer.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from ...errors import ErrorCode, GraspError
from ...objects.affordances import AFFORDANCE_TABLE, AFFORDANCES
from .content import unreadable_reason

# Instructions longer than this are cut before analysis: a task instruction is a sentence or
# two, and a bounded input keeps prompts and embedding time bounded.
MAX_INSTRUCTION_CHARS = 2000

# Confidence scale: 0.5 is a coin toss between the two best affordances, ~0.73 a clear lead (the
# offline analyzer's margin of half a strong cue word), 0.99 the cap. An answer below
# LOW_CONFIDENCE is marked `low_confidence` and its rationale starts with LOW_CONFIDENCE_NOTE;
# answers the analyzer knows to be guesses (no usable task text left, a part the object lacks
# named loosely, most words unknown) are capped at 0.5, so they are always marked.
LOW_CONFIDENCE = 0.6
LOW_CONFIDENCE_NOTE = "low confidence, a guess"


class AnalysisError(GraspError):
    """The instruction could not be analysed (reported as ANALYSIS_FAILED)."""

    def __init__(self, message: str):
        super().__init__(ErrorCode.ANALYSIS_FAILED, message)


class InvalidArrangementError(AnalysisError):
    """A backend's output is outside the allowed affordances or part names."""


@dataclass
class Arrangement:
    """The decision of instruction analysis.

    affordance: one of AFFORDANCES; contact_part: the part to touch (one of the object's part
    names when they are known); confidence in 0..1; rationale: a short human-readable reason;
    backend: which backend decided; fallback: True when the configured backend failed and the
    offline analyzer answered instead; low_confidence: True when the answer is a guess
    (confidence below LOW_CONFIDENCE, or marked so by the backend), and then the rationale
    starts with LOW_CONFIDENCE_NOTE.
    """

    affordance: str
    contact_part: str
    confidence: float
    rationale: str = ""
    backend: str = "offline"
    fallback: bool = False
    object_category: str = ""
    low_confidence: bool = False

    def __post_init__(self) -> None:
        self.low_confidence = bool(self.low_confidence or float(self.confidence) < LOW_CONFIDENCE)
        if self.low_confidence and not self.rationale.startswith(LOW_CONFIDENCE_NOTE):
            self.rationale = f"{LOW_CONFIDENCE_NOTE}: {self.rationale}" if self.rationale else LOW_CONFIDENCE_NOTE

    def to_dict(self) -> dict:
        """A JSON-ready summary (the CLI's output); `part` is the contact part."""
        return {
            "affordance": self.affordance,
            "part": self.contact_part,
            "confidence": round(float(self.confidence), 4),
            "backend": self.backend,
            "fallback": bool(self.fallback),
            "low_confidence": bool(self.low_confidence),
            "category": self.object_category,
            "rationale": self.rationale,
        }


def normalize_affordance(value: object) -> str:
    """Map harmless spelling variants ("Handle grip", "HANDLE_GRIP") onto the canonical name."""
    if not isinstance(value, str):
        raise InvalidArrangementError(f"affordance must be a string, got {type(value).__name__}")
    name = "-".join(value.strip().lower().replace("_", " ").replace("-", " ").split())
    if name not in AFFORDANCES:
        raise InvalidArrangementError(f"affordance '{value[:60]}' is not one of {', '.join(AFFORDANCES)}")
    return name


def normalize_part(value: object, part_names: Sequence[str] | None) -> str:
    """The part name as the object spells it (also for another name of the same place,
    localization.names.same_part: "lid" for a "cap", "arm" for a "handle"); any part name is
    accepted when none are known."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidArrangementError("contact part must be a non-empty string")
    name = " ".join(value.strip().lower().replace("_", " ").split())
    if not part_names:
        if len(name) > 40:
            raise InvalidArrangementError("contact part name is implausibly long")
        return name
    by_key = {" ".join(p.strip().lower().replace("_", " ").split()): p for p in part_names}
    if name in by_key:
        return by_key[name]
    # A model may say "lid" for the object's "cap": the one label of the same part family.
    from ..localization.names import same_part  # lazily: the localization package is heavy to import

    same = [p for key, p in by_key.items() if same_part(name, key)]
    if len(same) == 1:
        return same[0]
    raise InvalidArrangementError(f"contact part '{value[:40]}' is not one of the object's parts {list(part_names)}")


def validate_arrangement(
    affordance: object,
    contact_part: object,
    category: str = "",
    part_names: Sequence[str] | None = None,
    confidence: object = 1.0,
    check_table: bool = True,
) -> tuple[str, str, float]:
    """Check a backend's raw answer; returns (affordance, part, confidence) in canonical form.

    With a category of the affordance table and check_table, the (category, part, affordance)
    triple must be one the table allows: downstream prior retrieval has no prior for others.
    """
    aff = normalize_affordance(affordance)
    part = normalize_part(contact_part, part_names)
    try:
        conf = float(confidence)
    except (TypeError, ValueError):
        raise InvalidArrangementError(f"confidence must be a number, got {str(confidence)[:30]!r}") from None
    if not math.isfinite(conf) or not 0.0 <= conf <= 1.0:
        raise InvalidArrangementError(f"confidence {conf} is outside 0..1")
    table = AFFORDANCE_TABLE.get(category)
    if check_table and table is not None and aff not in table.get(part, ()):
        raise InvalidArrangementError(f"a {category}'s '{part}' does not afford {aff} (see the affordance table)")
    return aff, part, conf


def clean_instruction(instruction: object) -> str:
    """The instruction as analysable text, or AnalysisError when there is nothing to analyse:
    empty, no letters at all, or binary / mis-decoded data (content.unreadable_reason)."""
    if not isinstance(instruction, str):
        raise AnalysisError(f"instruction must be a string, got {type(instruction).__name__}")
    text = " ".join(instruction.split())[:MAX_INSTRUCTION_CHARS]
    reason = unreadable_reason(text)
    if reason:
        raise AnalysisError(reason)
    return text


class InstructionAnalyzer(ABC):
    """instruction (+ optional object category, part names and rendered image) -> Arrangement."""

    name = "base"

    @abstractmethod
    def analyze(
        self,
        instruction: str,
        category: str = "",
        part_names: Sequence[str] | None = None,
        image=None,
    ) -> Arrangement:
        """Decide the affordance and the contact part.

        category: the object's category when known ("" = unknown); part_names: the object's
        part names when known (the contact part is then one of them); image: an optional
        rendered view of the object (PNG bytes or an HxWx3 uint8 array) for backends that see.
        """
