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
# 2 cores on CI: keep torch from oversubscribing them while ROS nodes run in other processes.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec python -m pytest "$@"
