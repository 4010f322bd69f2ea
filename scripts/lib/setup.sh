# shellcheck shell=bash
# Shared set-up for scripts/demo, scripts/test and scripts/bench: system packages and the venv.
# Source it from a script whose working directory is the repository root.

TP_VENV="${TOUCHPOINT_VENV:-.venv}"
TP_PY="$TP_VENV/bin/python"

tp_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# tp_need_packages CMD:PACKAGE ... -> installs missing Debian packages when root, else says what to run.
# CMD is a command the package provides, or "dpkg" for a library package checked with dpkg.
# Returns 1 (without exiting) when something is missing and cannot be installed.
tp_need_packages() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd="${pair%%:*}"; pkg="${pair#*:}"
    if [ "$cmd" = dpkg ]; then
      dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    elif ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ] && [ ! -x "/usr/bin/$cmd" ]; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    tp_log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    return 0
  fi
  tp_log "missing system packages: ${missing[*]}"
  tp_log "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  return 1
}

# tp_venv EXTRAS -> creates .venv (if needed) and installs the project with those extras.
tp_venv() {
  local extras="$1" py="${PYTHON:-python3}"
  if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    tp_log "Touchpoint needs Python 3.11 or newer; set PYTHON=/path/to/python3.11"
    return 1
  fi
  if [ ! -x "$TP_PY" ]; then
    tp_log "creating virtual environment $TP_VENV"
    "$py" -m venv "$TP_VENV"
  fi
  local stamp="$TP_VENV/.touchpoint-installed-$extras"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    tp_log "installing touchpoint[$extras] into $TP_VENV"
    "$TP_PY" -m pip install -q --disable-pip-version-check -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" || true
    "$TP_PY" -c 'import edge_agent, hub' || return 1
    touch "$stamp"
  fi
}
