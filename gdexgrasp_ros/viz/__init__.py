"""Offline visualisation: a small z-buffered software rasteriser and figure helpers (no display needed)."""
