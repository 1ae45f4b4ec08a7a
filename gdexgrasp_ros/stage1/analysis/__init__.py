"""Instruction analysis: instruction -> (affordance, contact part), G-DexGrasp stage 1.

Backends: "offline" (default; sentence embeddings + rules, nothing to download), "openai"
(any OpenAI-compatible chat server) and "transformers" (a local model directory). The remote
and local model backends fall back to the offline analyzer on any failure and say so.

    from gdexgrasp_ros.stage1.analysis import make_analyzer
    arrangement = make_analyzer("offline").analyze("could you hold the kettle to pour some tea?")
"""

from __future__ import annotations

from .base import (
    AnalysisError,
    Arrangement,
    InstructionAnalyzer,
    InvalidArrangementError,
    validate_arrangement,
)

BACKENDS = ("offline", "openai", "transformers")
_ALIASES = {"chat": "openai", "gpt": "openai", "vlm": "transformers", "local": "transformers"}


def make_analyzer(backend: str = "offline", **options) -> InstructionAnalyzer:
    """An analyzer by backend name; options go to its constructor.

    offline: model_path, device, unseen_categories (benchmarks: read a category outside the
    affordance table as if no object-knowledge example named it). openai: model, base_url,
    api_key_env, timeout, retries, temperature, max_tokens, json_mode, use_image, prompt_path.
    transformers: model_path (or $GDEXGRASP_VLM_PATH), device, max_new_tokens, use_image,
    prompt_path. The model backends also take fallback (an analyzer; default: a new offline one).
    """
    name = _ALIASES.get(str(backend).strip().lower(), str(backend).strip().lower())
    if name == "offline":
        from .offline import OfflineAnalyzer

        return OfflineAnalyzer(**options)
    if name == "openai":
        from .chat import ChatAnalyzer

        return ChatAnalyzer(**options)
    if name == "transformers":
        from .transformers_backend import TransformersAnalyzer

        return TransformersAnalyzer(**options)
    raise ValueError(f"unknown analysis backend '{backend}'; expected one of {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "AnalysisError",
    "Arrangement",
    "InstructionAnalyzer",
    "InvalidArrangementError",
    "make_analyzer",
    "validate_arrangement",
]
