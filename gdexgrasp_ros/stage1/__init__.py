"""Stage 1 of G-DexGrasp: generalizable grasp prior retrieval (analysis, part localization, priors)."""
