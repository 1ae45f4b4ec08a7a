"""Offline visualisation: a small z-buffered software rasteriser and figure helpers (no display needed).

raster (the rasteriser), hand_render (hand views and the gdexgrasp-hand command), scene_render
(grasp scenes, retargeting), markers and colors (RViz markers). viz imports hand, never the reverse.
"""
