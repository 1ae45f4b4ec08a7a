"""Stage 2 of G-DexGrasp: part-aware wrist-pose generation (initial hand placements for stage 3)."""
