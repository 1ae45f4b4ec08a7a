#!/usr/bin/env bash
# Runs the whole suite (lint first: a lint failure fails the run) inside the project env.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# ROS setup scripts read unset variables: source them without nounset.
set +u
# shellcheck disable=SC1091
source scripts/env.sh
set -u
ruff check . && ruff format --check . >/dev/null || { echo "ruff: run 'ruff check --fix . && ruff format .'" >&2; exit 1; }
# 2 cores on CI, shared by the test process and the ROS nodes it starts: OpenMP threads that
# compete for busy cores make torch 10-20x slower, so each process gets one.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec python -m pytest "$@"
