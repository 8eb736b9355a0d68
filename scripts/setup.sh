#!/usr/bin/env bash
# Installs what grid needs on a fresh Debian/Ubuntu machine, as root:
# Deno from the npm registry when missing, WireGuard tools, iproute2, ping,
# tcpdump, iptables and conntrack (the fault and NAT labs) from apt when
# missing, and fills Deno's caches (agents started in network namespaces
# cannot reach the registry). Safe to run again.
# Sourced by .ci/run and scripts/demo.sh; can be run on its own.
set -uo pipefail

setup_log() { printf '==> %s\n' "$*" >&2; }

grid_setup() {
  if ! command -v deno >/dev/null 2>&1; then
    setup_log "installing deno from npm"
    npm install -g --allow-scripts=deno deno >/dev/null 2>&1 || npm install -g deno >&2 || return 1
  fi
  local need=() pair
  for pair in wg:wireguard-tools wireguard-go:wireguard-go ip:iproute2 ping:iputils-ping tcpdump:tcpdump iptables:iptables conntrack:conntrack; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    setup_log "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || {
      echo "grid: apt-get install ${need[*]} failed" >&2
      return 1
    }
  fi
  setup_log "filling deno's caches"
  deno install --frozen >/dev/null || { echo "grid: deno install failed" >&2; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cd "$(dirname "$0")/.." && grid_setup
fi
