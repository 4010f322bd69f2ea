#!/usr/bin/env bash
# touchpoint-healthcheck: is this device ready to record and sync taps? Prints one line per check;
# exit 0 when all pass. A passing check's WARNING lines (e.g. an untrusted clock that holds taps) are
# shown under it, with their fix. Run by touchpoint-health.timer every 5 minutes, and by hand at install:
#   sudo -u touchpoint /opt/touchpoint/bin/touchpoint-healthcheck
set -uo pipefail

CONFIG="${TOUCHPOINT_CONFIG:-/etc/touchpoint/device.toml}"
PREFIX="${TOUCHPOINT_PREFIX:-/opt/touchpoint}"
STATE="${TOUCHPOINT_STATE:-/var/lib/touchpoint}"
MAX_DISK_PCT="${TOUCHPOINT_MAX_DISK_PCT:-90}"
failures=0

check() {
  local name="$1"
  shift
  local out
  if out="$("$@" 2>&1)"; then
    printf 'ok: %s\n' "$name"
    printf '%s\n' "$out" | grep '^WARNING ' || true
  else
    printf 'FAIL: %s: %s\n' "$name" "$(printf '%s' "$out" | tr '\n' ' ')"
    failures=$((failures + 1))
  fi
}

disk_ok() {
  local used
  used="$(df --output=pcent "$STATE" | tail -n 1 | tr -dc '0-9')"
  if [ "${used:-100}" -ge "$MAX_DISK_PCT" ]; then
    echo "the disk holding $STATE is ${used}% full (limit ${MAX_DISK_PCT}%)"
    return 1
  fi
}

check "device config valid and store writable" "$PREFIX/bin/touchpoint-agent" check --config "$CONFIG"
check "disk space for the store" disk_ok
if command -v systemctl >/dev/null 2>&1; then
  for unit in touchpoint-agent.service touchpoint-kiosk.service touchpoint-panel.service; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
      check "$unit running" systemctl is-active --quiet "$unit"
    fi
  done
fi
if [ "$failures" -gt 0 ]; then
  echo "touchpoint-healthcheck: $failures check(s) failed"
  exit 1
fi
echo "touchpoint-healthcheck: healthy"
