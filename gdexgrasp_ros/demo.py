"""`make demo`: the pipeline on the bundled default scene.

The full three-stage pipeline is not in this build yet; the demo says so instead of
pretending. It will run stage 1-3 and write PNGs once those stages land.
"""

import sys


def main() -> int:
    print(
        "gdexgrasp demo: the grasp synthesis stages are not implemented in this build yet.\n"
        "What works now: the ROS 2 interfaces and the action server's goal validation (make test)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
