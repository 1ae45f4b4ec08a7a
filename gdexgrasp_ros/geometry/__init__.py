"""Geometry shared by every stage: rotations, primitive signed distances, meshing.

One place for each piece of geometry; stages import from here rather than re-deriving.
"""
