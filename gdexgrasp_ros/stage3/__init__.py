"""Stage 3 of G-DexGrasp: prior-guided two-stage grasp optimization (losses and optimizer)."""
