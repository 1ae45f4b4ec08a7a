"""`gdexgrasp-hand`: the console script setup.py names; the command itself is viz.hand_render.main.

Rendering belongs to viz (viz imports hand, never the reverse). This entry point is the one module
of the hand package allowed to reach into viz: hand/__init__ does not import it, nor does any other
module (test/test_dependencies.py checks both).
"""

from __future__ import annotations

import sys

from ..viz.hand_render import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
