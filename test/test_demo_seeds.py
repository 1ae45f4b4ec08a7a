"""`make demo` must not depend on a lucky camera: the best grasp lands on the kettle's real handle
(judged against the renderer's labels, not the result's own mask) on scene seeds that were fixed
before any run: 10, 11 and 12, the three after the README's seeds 0-9 (benchmarks/demo_seeds.py)."""

import pytest

from gdexgrasp_ros.demo import default_scene, synthesize_scene, true_part_contact, true_part_mask
from gdexgrasp_ros.metrics.contact import on_part

# Seed 10 fails (measured 2026-12-06, after the seeds were fixed): the one-view localizer
# returns another piece of the kettle as its handle. strict: this test fails once it passes,
# so the mark cannot outlive the bug.
KNOWN_MISS = pytest.mark.xfail(strict=True, reason="seed 10: the one-view localizer misses the kettle's handle")


@pytest.mark.parametrize("seed", [pytest.param(10, marks=KNOWN_MISS), 11, 12])
def test_the_demo_grasps_the_real_handle(seed):
    scene = default_scene(seed)
    result = synthesize_scene(scene, 700, "leap_hand", progress_bar=False, device="cpu")  # measured on a CPU
    assert result.arrangement.contact_part == "handle" and result.grasps
    assert true_part_mask(scene, result.object_points).any(), "the camera sees the handle"
    assert on_part(true_part_contact(scene, result))
