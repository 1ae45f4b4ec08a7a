"""What the language-model backends share: the prompt, the request payload, parsing and
validating the answer, and falling back to the offline analyzer on any failure.

The instruction travels as a JSON string field of the user message, never spliced into the
system prompt, so it stays data; the answer is checked by `validate_arrangement` before use.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import struct
import zlib
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...objects.affordances import AFFORDANCE_TABLE
from .base import (
    LOW_CONFIDENCE_NOTE,
    AnalysisError,
    Arrangement,
    InstructionAnalyzer,
    InvalidArrangementError,
    clean_instruction,
    validate_arrangement,
)
from .offline import check_named_part

log = logging.getLogger(__name__)

PROMPT_FILE = "instruction_analysis.txt"
AFFORDANCE_HELP = {
    "handle-grip": "fingers curled around a handle or grip: carrying, pouring, using a tool",
    "twist": "fingertips turning a cap, lid, knob or tool about its axis: opening, closing, screwing",
    "wrap-around-grip": "the whole hand wrapped around a body, neck or shaft: holding, shaking, pointing",
    "base-support": "the open palm under the object: carrying it level, hot or full things",
    "trigger-squeeze": "the index finger pressing a trigger or pump: spraying, drilling, dispensing",
}
MAX_RATIONALE_CHARS = 300
DEFAULT_CONFIDENCE = 0.7  # used when a model omits the confidence field


def prompt_search_paths() -> list[Path]:
    """Where the prompt file may live: the source tree, then the installed share directory."""
    paths = [Path(__file__).resolve().parents[3] / "config" / "prompts" / PROMPT_FILE]
    try:
        from ament_index_python.packages import get_package_share_directory

        paths.append(Path(get_package_share_directory("gdexgrasp_ros")) / "config" / "prompts" / PROMPT_FILE)
    except (ImportError, LookupError, ValueError):
        pass  # not installed as a ROS package: the source tree is the only place
    return paths


def load_prompt(path: str | Path | None = None) -> str:
    """The system prompt with the affordance list filled in."""
    candidates = [Path(path)] if path else prompt_search_paths()
    for p in candidates:
        if p.is_file():
            template = p.read_text(encoding="utf-8")
            listing = "\n".join(f"- {name}: {help_}" for name, help_ in AFFORDANCE_HELP.items())
            return template.replace("{{AFFORDANCES}}", listing)
    raise FileNotFoundError(f"instruction-analysis prompt not found; looked in {[str(p) for p in candidates]}")


def allowed_parts(category: str, part_names: Sequence[str] | None) -> list[str] | None:
    """The part names an answer must use: the given ones, else the table's for the category."""
    if part_names:
        return [str(p) for p in part_names]
    table = AFFORDANCE_TABLE.get(category)
    return list(table) if table else None


def user_payload(instruction: str, category: str, part_names: Sequence[str] | None) -> str:
    return json.dumps(
        {"instruction": instruction, "object_category": category or "", "part_names": part_names or []},
        ensure_ascii=False,
    )


def encode_image(image) -> str:
    """Base64 PNG of PNG bytes or an HxW / HxWx3 / HxWx4 uint8 array."""
    if isinstance(image, bytes | bytearray):
        if not bytes(image[:8]) == PNG_SIGNATURE:
            raise ValueError("image bytes must be a PNG")
        return base64.b64encode(bytes(image)).decode("ascii")
    return base64.b64encode(png_bytes(np.asarray(image))).decode("ascii")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(arr: np.ndarray) -> bytes:
    """A PNG file of a uint8 image (grey, RGB or RGBA), written with the standard library."""
    if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError("image array must be HxW, HxWx3 or HxWx4 uint8")
    height, width = arr.shape[:2]
    channels = 1 if arr.ndim == 2 else arr.shape[2]
    color_type = {1: 0, 3: 2, 4: 6}[channels]  # grey, RGB, RGBA

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = np.ascontiguousarray(arr).reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.IGNORECASE)


def parse_answer(raw: str, category: str, part_names: Sequence[str] | None) -> tuple[str, str, float, str]:
    """(affordance, part, confidence, rationale) from a model's reply, or InvalidArrangementError."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidArrangementError("the model returned an empty answer")
    text = _FENCE.sub("", raw.strip())
    start, end = text.find("{"), text.rfind("}")
    if start < 0:
        raise InvalidArrangementError("the model's answer is not a JSON object")
    if end <= start:
        raise InvalidArrangementError("the model's answer is malformed JSON (unterminated object)")
    try:
        obj = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        raise InvalidArrangementError(f"the model's answer is malformed JSON ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise InvalidArrangementError("the model's answer is not a JSON object")
    part = obj.get("part", obj.get("contact_part"))
    aff, part, conf = validate_arrangement(
        obj.get("affordance"),
        part,
        category,
        allowed_parts(category, part_names),
        obj.get("confidence", DEFAULT_CONFIDENCE),
    )
    rationale = obj.get("rationale", "")
    rationale = " ".join(str(rationale).split())[:MAX_RATIONALE_CHARS] if rationale else ""
    return aff, part, conf, rationale


class LLMAnalyzer(InstructionAnalyzer):
    """A language-model backend: subclasses implement `_generate`; any failure there or in the
    answer falls back to `fallback` (the offline analyzer), with fallback=True and the reason.
    An instruction that names a part the object lacks is refused (PART_NOT_FOUND) by the offline
    analyzer's rule before the model is asked (offline.check_named_part)."""

    def __init__(self, fallback: InstructionAnalyzer | None = None, prompt_path: str | None = None):
        self._fallback = fallback
        self.prompt_path = prompt_path
        self._prompt: str | None = None

    @property
    def fallback(self) -> InstructionAnalyzer:
        if self._fallback is None:
            from .offline import OfflineAnalyzer

            self._fallback = OfflineAnalyzer()
        return self._fallback

    @property
    def system_prompt(self) -> str:
        if self._prompt is None:
            self._prompt = load_prompt(self.prompt_path)
        return self._prompt

    @abstractmethod
    def _generate(self, system: str, user: str, image_b64: str | None) -> str:
        """The model's raw reply text; raise on any failure."""

    def _redact(self, text: str) -> str:
        """Remove secrets from text that leaves the backend (rationales, logs)."""
        return text

    def _describe(self, exc: BaseException) -> str:
        """A short, secret-free reason for a failure."""
        if isinstance(exc, AnalysisError):
            return exc.message
        detail = " ".join(str(exc).split())[:200]
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__

    def analyze(self, instruction, category="", part_names=None, image=None) -> Arrangement:
        text = clean_instruction(instruction)
        category = " ".join(str(category or "").lower().replace("_", " ").split())
        check_named_part(text, category, part_names)  # the offline analyzer's named-part rule
        try:
            image_b64 = encode_image(image) if image is not None else None
            raw = self._generate(self.system_prompt, user_payload(text, category, part_names), image_b64)
            aff, part, conf, rationale = parse_answer(raw, category, part_names)
        # Every failure (transport, model, parsing, validation) must end in the offline answer.
        except Exception as exc:  # noqa: BLE001
            return self._fall_back(text, category, part_names, exc)
        return Arrangement(aff, part, conf, self._redact(rationale), self.name, False, category)

    def _fall_back(self, text: str, category: str, part_names, exc: BaseException) -> Arrangement:
        reason = self._redact(self._describe(exc))
        log.warning("%s analyzer failed (%s); using the offline analyzer", self.name, reason)
        arr = self.fallback.analyze(text, category, part_names)
        arr.fallback = True
        note = f"{LOW_CONFIDENCE_NOTE}: " if arr.low_confidence else ""  # stays first
        arr.rationale = (
            f"{note}{self.name} backend failed: {reason}; offline analyzer: {arr.rationale.removeprefix(note)}"
        )
        return arr
