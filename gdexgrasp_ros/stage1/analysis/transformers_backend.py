"""A local (vision-)language model loaded with transformers from a directory; nothing is
downloaded (local_files_only=True).

A model whose config has a vision tower (Qwen2-VL, LLaVA, Idefics, ...) is loaded as an
image-text-to-text model with its processor and sees the rendered object image; any other
model is loaded as a causal LM with its tokenizer and gets the text only. The chat template
comes with the model; control tokens typed into the instruction are encoded as plain text
(sanitize_control_tokens) so the instruction cannot forge a turn of the conversation.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .llm import LLMAnalyzer

MODEL_PATH_ENV = "GDEXGRASP_VLM_PATH"


class TransformersAnalyzer(LLMAnalyzer):
    """Instruction analysis by a local transformers model; falls back to the offline analyzer."""

    name = "transformers"

    def __init__(
        self,
        model_path: str | None = None,
        device: str = "cpu",
        max_new_tokens: int = 160,
        use_image: bool = True,
        prompt_path: str | None = None,
        fallback=None,
    ):
        super().__init__(fallback=fallback, prompt_path=prompt_path)
        path = model_path or os.environ.get(MODEL_PATH_ENV, "")
        if not path:
            raise ValueError(f"the transformers backend needs model_path or the {MODEL_PATH_ENV} environment variable")
        if not Path(path).is_dir():
            raise ValueError(f"model directory not found: {path}")
        self.model_path = str(path)
        self.device = device
        self.max_new_tokens = int(max_new_tokens)
        self.use_image = use_image
        self._model = None
        self._processor = None  # an AutoProcessor for vision models, else the tokenizer
        self.is_vision = False
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            import transformers as tf

            config = tf.AutoConfig.from_pretrained(self.model_path, local_files_only=True)
            self.is_vision = getattr(config, "vision_config", None) is not None
            if self.is_vision:
                self._processor = tf.AutoProcessor.from_pretrained(self.model_path, local_files_only=True)
                model = tf.AutoModelForImageTextToText.from_pretrained(self.model_path, local_files_only=True)
            else:
                self._processor = tf.AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
                model = tf.AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True)
            self._model = model.to(self.device).eval()

    def _strip_control_tokens(self, text: str) -> str:
        """Remove the model's special-token strings ("<|im_start|>") from the instruction payload:
        typed into an instruction they must not open a new turn of the conversation."""
        tokenizer = getattr(self._processor, "tokenizer", self._processor)
        for token in sorted(set(getattr(tokenizer, "all_special_tokens", []) or []), key=len, reverse=True):
            if len(token) > 1:
                text = text.replace(token, " ")
        return text

    def _conversation(self, system: str, user: str, image_b64: str | None) -> tuple[list[dict], list]:
        user = self._strip_control_tokens(user)
        images = []
        if self.is_vision:
            content = [{"type": "text", "text": user}]
            if image_b64 is not None and self.use_image:
                from transformers.image_utils import load_image

                images.append(load_image(image_b64).convert("RGB"))
                content.insert(0, {"type": "image"})
            return [{"role": "system", "content": [{"type": "text", "text": system}]},
                    {"role": "user", "content": content}], images  # fmt: skip
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], images

    def _generate(self, system: str, user: str, image_b64: str | None) -> str:
        import torch

        self._load()
        conversation, images = self._conversation(system, user, image_b64)
        if self.is_vision:
            prompt = self._processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
            inputs = self._processor(text=[prompt], images=images or None, return_tensors="pt")
        else:
            inputs = self._processor.apply_chat_template(
                conversation,
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
                sanitize_control_tokens=True,
            )
        inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in dict(inputs).items()}
        with torch.inference_mode():
            out = self._model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = out[0, inputs["input_ids"].shape[1] :]
        decoder = self._processor if not self.is_vision else self._processor.tokenizer
        return decoder.decode(new_tokens, skip_special_tokens=True)
