"""Differentiable hand models: the embedded OpenHand and a MANO backend, one interface."""

from .base import HandModel, HandOutput
from .open_hand import OpenHand

__all__ = ["HandModel", "HandOutput", "OpenHand"]
