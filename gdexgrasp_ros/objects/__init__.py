"""Objects: part-labelled shapes (procedural and loaded), part geometry, sensor-cloud preprocessing."""

from .part_object import PartMesh, PartObject

__all__ = ["PartMesh", "PartObject"]
