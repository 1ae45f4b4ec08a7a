"""gdexgrasp-bench: grasp quality on unseen shapes, the paper's Table 1 / Table 2 protocol."""
