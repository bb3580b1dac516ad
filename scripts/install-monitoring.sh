#!/usr/bin/env bash
# Install Prometheus, promtool, Alertmanager and amtool from Debian's packages so that
# tests/unit/test_deploy_monitoring.py (promtool/amtool checks) and tests/e2e (real
# Prometheus/Alertmanager on free ports) can run. Idempotent: does nothing when the tools
# are already there, and runs `apt-get update` only when the package lists lack them.
#
# The Debian packages would start their own daemons on :9090/:9093; our tests start
# their own instances, so daemons are kept from starting (policy-rc.d) and any that
# started anyway are stopped again.
#
# Binaries (Debian): /usr/bin/prometheus, /usr/bin/promtool,
#                    /usr/bin/prometheus-alertmanager (not "alertmanager"), /usr/bin/amtool.
set -euo pipefail

readonly PACKAGES=(prometheus prometheus-alertmanager)
readonly TOOLS=(prometheus promtool prometheus-alertmanager amtool)

log() { printf 'install-monitoring: %s\n' "$*" >&2; }

all_tools_present() {
  local tool
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || return 1
  done
}

# True when apt knows an installable candidate for every package (lists are fresh enough).
candidates_known() {
  local pkg candidate
  for pkg in "${PACKAGES[@]}"; do
    candidate="$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    [[ -n "$candidate" && "$candidate" != "(none)" ]] || return 1
  done
}

# Stop a daemon the package may have started, by the pid its init script recorded, or by
# the exact executable path of processes started from the package's binary.
stop_daemon() {
  local service="$1" binary="$2" pid
  if [[ -x "/etc/init.d/$service" ]]; then
    "/etc/init.d/$service" stop >/dev/null 2>&1 || true
  fi
  # /proc/PID/exe rather than pgrep: comm names are cut to 15 characters.
  local exe
  for exe in /proc/[0-9]*/exe; do
    if [[ "$(readlink "$exe" 2>/dev/null)" == "$binary" ]]; then
      pid="${exe#/proc/}"
      pid="${pid%/exe}"
      # A daemon runs as the package's "prometheus" user; our tests' own instances run as
      # the invoking user, so only the former are the package's.
      if [[ "$(stat -c %U "/proc/$pid")" == prometheus ]]; then
        log "stopping $service daemon started by the package (pid $pid)"
        kill "$pid" 2>/dev/null || true
      fi
    fi
  done
}

main() {
  if [[ "$(id -u)" -ne 0 ]]; then
    log "must run as root (apt-get install)"
    exit 1
  fi

  if all_tools_present; then
    log "already installed"
  else
    export DEBIAN_FRONTEND=noninteractive
    if ! candidates_known; then
      log "apt-get update (package lists lack ${PACKAGES[*]})"
      apt-get update -qq
    fi

    # Keep invoke-rc.d from starting the services during installation. An existing
    # policy (Docker images ship one) is left untouched.
    local own_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      own_policy=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' >"$own_policy"
      chmod 0755 "$own_policy"
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
    if [[ -n "$own_policy" ]]; then
      rm -f "$own_policy"
      trap - EXIT
    fi
  fi

  # Under systemd the unit may be enabled and started regardless of policy-rc.d.
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus prometheus-alertmanager prometheus-node-exporter \
      >/dev/null 2>&1 || true
  fi
  stop_daemon prometheus /usr/bin/prometheus
  stop_daemon prometheus-alertmanager /usr/bin/prometheus-alertmanager

  local tool
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { log "missing $tool after install"; exit 1; }
  done
  log "$(promtool --version 2>&1 | head -n1)"
  log "$(amtool --version 2>&1 | head -n1)"
}

main "$@"
