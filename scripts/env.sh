# Source me: activates the project environment made by scripts/setup.sh.
#   . scripts/env.sh
_gdex_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$_gdex_root/.venv/bin/activate"
# shellcheck disable=SC1091
. "$_gdex_root/install/setup.bash"
# The source tree first, so edits are used without a rebuild.
export PYTHONPATH="$_gdex_root${PYTHONPATH:+:$PYTHONPATH}"
unset _gdex_root
# Console scripts (gdexgrasp-hand, ...) as `ros2 run` would find them.
export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/install/gdexgrasp_ros/lib/gdexgrasp_ros:$PATH"
