#!/usr/bin/env bash
# The quick start's main job on a fresh machine, as root: installs what is
# missing (scripts/setup.sh), then `deno task demo` (a WireGuard mesh of grid
# nodes in network namespaces: status table and ping matrix; torn down on exit).
# Arguments pass through: --nodes N, --psk, --keep.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
grid_setup || exit 1
exec deno task demo "$@"
