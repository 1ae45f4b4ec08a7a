"""Shared test setup: an isolated DDS domain per test run, and helpers to start nodes."""

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Keep DDS traffic on this machine and away from other test runs: a domain id derived from
# the pid (0..100 are valid for Fast DDS's port mapping), discovery on localhost only.
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RCUTILS_LOGGING_BUFFERED_STREAM", "1")
