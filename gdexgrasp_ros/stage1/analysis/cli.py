"""gdexgrasp-analyze: analyse one instruction from the command line.

    gdexgrasp-analyze --instruction "open this jar" [--category jar] [--parts body,lid]
                      [--backend offline|openai|transformers] [--json]

Also `python -m gdexgrasp_ros.stage1.analysis.cli ...`. With --json, stdout is one JSON object
(affordance, part, confidence, backend, fallback, low_confidence, rationale, category). Exit
status 0 on an answer (a fallback or low-confidence answer included), 1 when the instruction
cannot be analysed (ANALYSIS_FAILED, or PART_NOT_FOUND for a named part the object lacks) or the
backend cannot be set up, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ...errors import GraspError
from . import BACKENDS, make_analyzer


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gdexgrasp-analyze", description="instruction -> (affordance, contact part)")
    p.add_argument("--instruction", "-i", required=True, help="the task instruction, any language")
    p.add_argument("--category", "-c", default="", help="object category, e.g. kettle (optional)")
    p.add_argument("--parts", "-p", default="", help="comma-separated part names of the object (optional)")
    p.add_argument("--backend", "-b", default="offline", choices=BACKENDS)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--image", type=Path, help="PNG rendering of the object (model backends that see)")
    chat = p.add_argument_group("openai backend")
    chat.add_argument("--model", default=None, help="chat model name (default gpt-4o)")
    chat.add_argument("--base-url", default=None, help="OpenAI-compatible server, e.g. http://localhost:8000/v1")
    chat.add_argument("--api-key-env", default=None, help="NAME of the environment variable holding the API key")
    chat.add_argument("--timeout", type=float, default=None, help="seconds per attempt")
    chat.add_argument("--retries", type=int, default=None, help="extra attempts after a timeout or server error")
    local = p.add_argument_group("transformers backend")
    local.add_argument("--model-path", default=None, help="local model directory (default $GDEXGRASP_VLM_PATH)")
    local.add_argument("--device", default=None, help="cpu, cuda, cuda:N")
    return p


def _options(args: argparse.Namespace) -> dict:
    wanted = {
        "openai": ("model", "base_url", "api_key_env", "timeout", "retries"),
        "transformers": ("model_path", "device"),
        "offline": ("device",),
    }[args.backend]
    return {k: getattr(args, k) for k in wanted if getattr(args, k) is not None}


def main(argv: list[str] | None = None) -> int:
    # Nothing is ever downloaded: every model comes from a local directory.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = _parser().parse_args(argv)
    parts = [s.strip() for s in args.parts.split(",") if s.strip()] or None
    try:
        image = args.image.read_bytes() if args.image else None
        analyzer = make_analyzer(args.backend, **_options(args))
        arrangement = analyzer.analyze(args.instruction, args.category, parts, image=image)
    except (GraspError, ValueError, OSError, RuntimeError) as exc:
        print(f"gdexgrasp-analyze: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(arrangement.to_dict(), ensure_ascii=False))
    else:
        flag = " (fallback)" if arrangement.fallback else ""
        print(f"affordance: {arrangement.affordance}")
        print(f"part:       {arrangement.contact_part}")
        print(f"confidence: {arrangement.confidence:.2f}{' (low: a guess)' if arrangement.low_confidence else ''}")
        print(f"backend:    {arrangement.backend}{flag}")
        print(f"rationale:  {arrangement.rationale}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
