"""Grasp-quality metrics (dataset filtering, ranking, benchmark): geometry and simulation."""
