"""OpenAI-compatible chat backend: GPT-4o as in the paper, or any local server that speaks the
chat-completions protocol (vLLM, Ollama, llama.cpp) through base_url.

The API key is read from the environment variable named by `api_key_env` when a request is
made; it is never stored in the analyzer's fields, logged, or written into a result or an
exception text (failure reasons carry only the error type and HTTP status, and everything
that leaves the backend is passed through a redaction of the key).
"""

from __future__ import annotations

import os
import time

from .base import AnalysisError
from .llm import LLMAnalyzer

DEFAULT_MODEL = "gpt-4o"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
# Local servers (vLLM, Ollama) ignore the key but the client requires one.
PLACEHOLDER_KEY = "not-needed"
BACKOFF_S = 0.25  # first pause between attempts; doubles each retry, at most MAX_BACKOFF_S
MAX_BACKOFF_S = 2.0


class ChatAnalyzer(LLMAnalyzer):
    """Instruction analysis by a chat-completions model; falls back to the offline analyzer."""

    name = "openai"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        api_key_env: str = DEFAULT_KEY_ENV,
        timeout: float = 20.0,
        retries: int = 1,
        temperature: float = 0.0,
        max_tokens: int = 300,
        json_mode: bool = True,
        use_image: bool = True,
        prompt_path: str | None = None,
        fallback=None,
    ):
        super().__init__(fallback=fallback, prompt_path=prompt_path)
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if not api_key_env or not isinstance(api_key_env, str):
            raise ValueError("api_key_env must name an environment variable")
        self.model = model
        self.base_url = base_url or None
        self.api_key_env = api_key_env
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.temperature = float(temperature)
        self.max_tokens = int(max_tokens)
        self.json_mode = json_mode
        self.use_image = use_image

    def __repr__(self) -> str:
        return (
            f"ChatAnalyzer(model={self.model!r}, base_url={self.base_url!r}, api_key_env={self.api_key_env!r}, "
            f"timeout={self.timeout}, retries={self.retries})"
        )

    # -- secrets ---------------------------------------------------------------------------------
    def _key(self) -> str:
        key = os.environ.get(self.api_key_env, "")
        if key:
            return key
        if self.base_url:
            return PLACEHOLDER_KEY
        raise AnalysisError(f"environment variable {self.api_key_env} is not set (it holds the API key)")

    def _redact(self, text: str) -> str:
        key = os.environ.get(self.api_key_env, "")
        if len(key) >= 4:
            text = text.replace(key, "[redacted]")
        return text

    def _describe(self, exc: BaseException) -> str:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return f"no answer within {self.timeout:g} s ({self.retries + 1} attempt(s))"
        if isinstance(exc, openai.APIStatusError):
            # Only the status: the body may echo request details.
            return f"HTTP {exc.status_code} from the chat server ({type(exc).__name__})"
        if isinstance(exc, openai.APIConnectionError):
            return f"cannot reach the chat server ({type(exc).__name__})"
        return super()._describe(exc)

    # -- request -----------------------------------------------------------------------------------
    def _messages(self, system: str, user: str, image_b64: str | None) -> list[dict]:
        if image_b64 is None or not self.use_image:
            return [{"role": "system", "content": system}, {"role": "user", "content": user}]
        content = [
            {"type": "text", "text": user},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image_b64}"}},
        ]
        return [{"role": "system", "content": system}, {"role": "user", "content": content}]

    def _generate(self, system: str, user: str, image_b64: str | None) -> str:
        import openai

        # Retries are ours (the client's are off) so that the total time stays bounded by
        # (retries + 1) * timeout + the short backoffs.
        client = openai.OpenAI(api_key=self._key(), base_url=self.base_url, timeout=self.timeout, max_retries=0)
        kwargs = {}
        if self.json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        try:
            for attempt in range(self.retries + 1):
                try:
                    reply = client.chat.completions.create(
                        model=self.model,
                        messages=self._messages(system, user, image_b64),
                        temperature=self.temperature,
                        max_tokens=self.max_tokens,
                        **kwargs,
                    )
                    break
                except (
                    openai.APITimeoutError,
                    openai.APIConnectionError,
                    openai.RateLimitError,
                    openai.InternalServerError,
                ):
                    if attempt == self.retries:
                        raise
                    time.sleep(min(MAX_BACKOFF_S, BACKOFF_S * 2**attempt))
        finally:
            client.close()
        choices = getattr(reply, "choices", None)
        if not choices:
            raise AnalysisError("the chat server's reply has no choices (not a chat-completions response)")
        return choices[0].message.content or ""
