"""Differentiable hand models: the embedded OpenHand and a MANO backend, one interface."""

from __future__ import annotations

from .base import HandModel, HandOutput
from .mano import ManoHand
from .open_hand import OpenHand

__all__ = ["HandModel", "HandOutput", "ManoHand", "OpenHand", "load_hand_model"]


def load_hand_model(name: str, mano_model_path: str = "", device="cpu") -> HandModel:
    """The hand selected by configuration: "open_hand" (embedded) or "mano" (needs the pickle's path)."""
    if name == "open_hand":
        return OpenHand(device=device)
    if name == "mano":
        if not mano_model_path:
            raise ValueError("hand model 'mano' needs mano_model_path (a MANO_RIGHT.pkl you downloaded)")
        return ManoHand(mano_model_path, device=device)
    raise ValueError(f"unknown hand model '{name}'; expected 'open_hand' or 'mano'")
