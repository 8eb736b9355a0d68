#!/usr/bin/env bash
# Installs what grid needs on a fresh Debian/Ubuntu machine, as root:
# Deno from the npm registry when missing (with nodejs and npm from apt first
# when npm is missing too), WireGuard tools, iproute2, ping, tcpdump, iptables
# and conntrack (the fault and NAT labs) and chromium (the dashboard's
# browser test) from apt when missing, and fills
# Deno's caches (agents started in network namespaces cannot reach the
# registry). Safe to run again: it installs only what is missing.
# Sourced by .ci/run and scripts/demo.sh; can be run on its own.
set -uo pipefail

setup_log() { printf '==> %s\n' "$*" >&2; }

# Installs the given Debian packages quietly; one line on stderr when it fails.
setup_apt() {
  setup_log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1
  apt-get install -y -qq "$@" >/dev/null 2>&1 || {
    echo "grid: apt-get install $* failed" >&2
    return 1
  }
}

grid_setup() {
  local need=() pair
  # Deno comes from npm; on a fresh Debian without npm, npm (and node) come from apt.
  if ! command -v deno >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
    command -v node >/dev/null 2>&1 || need+=(nodejs)
    need+=(npm)
  fi
  for pair in wg:wireguard-tools wireguard-go:wireguard-go ip:iproute2 ping:iputils-ping tcpdump:tcpdump iptables:iptables conntrack:conntrack chromium:chromium; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    setup_apt "${need[@]}" || return 1
  fi
  if ! command -v deno >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 || {
      echo "grid: deno is missing and npm did not come with apt's npm package" >&2
      return 1
    }
    setup_log "installing deno from npm"
    npm install -g --allow-scripts=deno deno >/dev/null 2>&1 ||
      npm install -g deno >/dev/null 2>&1 || {
      echo "grid: npm install -g deno failed" >&2
      return 1
    }
    hash -r
    command -v deno >/dev/null 2>&1 || {
      echo "grid: npm installed deno but it is not on PATH (npm's global bin: $(npm prefix -g 2>/dev/null)/bin)" >&2
      return 1
    }
  fi
  setup_log "filling deno's caches"
  deno install --frozen >/dev/null || { echo "grid: deno install failed" >&2; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cd "$(dirname "$0")/.." && grid_setup
fi
