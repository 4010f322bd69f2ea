#!/usr/bin/env bash
# Set up a Raspberry Pi (Raspberry Pi OS Lite / Debian 12) as a Touchpoint kiosk or button station.
# Run it as root on the Pi, from a copy of the repository, with the device's bundle:
#   sudo firmware_config/pi/setup-pi.sh --bundle /tmp/helsinki-central-k01
# docs/install-checklist.md is the whole procedure; --help lists the options.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: setup-pi.sh --bundle DIR [--mode kiosk|panel] [--rotation 0|90|180|270] [--source PIP_SPEC]
                   [--root DIR]

Installs Touchpoint into a venv (/opt/touchpoint), the device bundle into /etc/touchpoint,
the systemd units (agent, kiosk or panel, health check), bounded journald logs, and for a
kiosk: boot to the app with no desktop, screen blanking off, cursor hidden.

  --bundle DIR     the directory from `touchpoint-hub device add` (device.toml, ca.crt, broker.pass)
  --mode MODE      kiosk: touchscreen app on tty1 (drives a [panel] too, if configured) (default)
                   panel: screenless GPIO button station
  --rotation DEG   rotate the screen and the touch input together, at the X server (default 0);
                   leave kiosk.rotation in device.toml at 0 when you use this
  --source SPEC    what pip installs (default: this repository checkout)
  --root DIR       stage every file under DIR and run no command (apt, pip, useradd, systemctl):
                   for reviewing the result, and for the tests
EOF
}

PREFIX=/opt/touchpoint
ETC=/etc/touchpoint
USER_NAME=touchpoint
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
MODE=kiosk
ROTATION=0
BUNDLE=""
SOURCE=""
ROOT=""

say() { printf '[setup-pi] %s\n' "$*"; }
die() { printf '[setup-pi] error: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE="${2:?--bundle needs a directory}"; shift 2 ;;
    --mode) MODE="${2:?--mode needs kiosk or panel}"; shift 2 ;;
    --rotation) ROTATION="${2:?--rotation needs 0, 90, 180 or 270}"; shift 2 ;;
    --source) SOURCE="${2:?--source needs a pip spec}"; shift 2 ;;
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option $1" ;;
  esac
done

staging() { [ -n "$ROOT" ]; }

# run CMD...: run it, or in --root mode only say it would.
run() {
  if staging; then say "would run: $*"; else "$@"; fi
}

# put SRC DEST MODE [OWNER:GROUP]: install a file under $ROOT with its mode (and owner, when not staging).
put() {
  install -D -m "$3" "$1" "$ROOT$2"
  if [ -n "${4:-}" ] && ! staging; then chown "$4" "$ROOT$2"; fi
}

# write DEST MODE: install stdin as a file.
write() {
  local tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  put "$tmp" "$1" "$2"
  rm -f "$tmp"
}

check_inputs() {
  case "$MODE" in kiosk|panel) ;; *) die "--mode must be kiosk or panel (got $MODE)" ;; esac
  case "$ROTATION" in 0|90|180|270) ;; *) die "--rotation must be 0, 90, 180 or 270 (got $ROTATION)" ;; esac
  [ -n "$BUNDLE" ] || { usage >&2; die "--bundle is required (make one with: touchpoint-hub device add)"; }
  [ -f "$BUNDLE/device.toml" ] || die "$BUNDLE/device.toml is missing: is $BUNDLE a device bundle?"
  [ -f "$BUNDLE/broker.pass" ] || die "$BUNDLE/broker.pass is missing: is $BUNDLE a device bundle?"
  if ! staging && [ "$(id -u)" -ne 0 ]; then die "run as root (sudo), or use --root DIR to stage the files"; fi
  if [ -z "$SOURCE" ]; then
    [ -f "$REPO/pyproject.toml" ] || die "no --source given and $REPO is not a Touchpoint checkout"
    SOURCE="$REPO"
  fi
}

install_packages() {
  local packages=(python3-venv python3-pip ca-certificates)
  if [ "$MODE" = kiosk ]; then
    # x11-xserver-utils: xset and xrandr for the session; libx11-6: the kiosk reads the screen size through it.
    packages+=(xserver-xorg-core xserver-xorg-legacy xserver-xorg-input-libinput xinit x11-xserver-utils
      libx11-6 libmtdev1 libgl1-mesa-dri)
  fi
  say "installing system packages: ${packages[*]}"
  run env DEBIAN_FRONTEND=noninteractive apt-get update -q
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
}

create_user() {
  if ! staging && ! id "$USER_NAME" >/dev/null 2>&1; then
    say "creating the system user $USER_NAME"
    useradd --system --home-dir /var/lib/touchpoint --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
  fi
  local group
  for group in gpio video input render tty; do
    if getent group "$group" >/dev/null 2>&1; then run usermod -a -G "$group" "$USER_NAME"; fi
  done
}

install_software() {
  say "installing touchpoint[kiosk] from $SOURCE into $PREFIX"
  # System site packages: the Pi's own GPIO libraries (python3-lgpio) stay visible to gpiozero.
  run python3 -m venv --system-site-packages "$PREFIX"
  run "$PREFIX/bin/pip" install --quiet --upgrade "${SOURCE}[kiosk]"
  put "$HERE/kiosk-x.sh" "$PREFIX/bin/touchpoint-kiosk-x" 0755
  put "$HERE/kiosk-session.sh" "$PREFIX/bin/touchpoint-kiosk-session" 0755
  put "$HERE/healthcheck.sh" "$PREFIX/bin/touchpoint-healthcheck" 0755
  if [ -f "$REPO/docs/install-checklist.md" ]; then
    put "$REPO/docs/install-checklist.md" "$PREFIX/share/doc/install-checklist.md" 0644
  fi
}

install_config() {
  say "installing the bundle of $(grep -m1 '^device_id' "$BUNDLE/device.toml" | cut -d'"' -f2) into $ETC"
  install -d -m 0750 "$ROOT$ETC"
  if ! staging; then chown "root:$USER_NAME" "$ETC"; fi
  put "$BUNDLE/device.toml" "$ETC/device.toml" 0640 "root:$USER_NAME"
  # The only copy of the device's broker password: readable by the services' user alone.
  put "$BUNDLE/broker.pass" "$ETC/broker.pass" 0600 "$USER_NAME:$USER_NAME"
  if [ -f "$BUNDLE/ca.crt" ]; then put "$BUNDLE/ca.crt" "$ETC/ca.crt" 0644; fi
  install -d -m 0750 "$ROOT/var/lib/touchpoint"
  if ! staging; then chown "$USER_NAME:$USER_NAME" /var/lib/touchpoint; fi
}

install_units() {
  local unit
  for unit in touchpoint-agent.service touchpoint-kiosk.service touchpoint-panel.service \
    touchpoint-health.service touchpoint-health.timer; do
    put "$REPO/firmware_config/systemd/$unit" "/etc/systemd/system/$unit" 0644
  done
  # Logs are bounded: an SD card wears out, and a full one stops the store.
  put "$REPO/firmware_config/systemd/journald-touchpoint.conf" /etc/systemd/journald.conf.d/touchpoint.conf 0644
}

# The libinput calibration matrix and xrandr name for each rotation (clockwise).
touch_matrix() {
  case "$1" in
    90) echo "0 1 0 -1 0 1 0 0 1" ;;
    180) echo "-1 0 1 0 -1 1 0 0 1" ;;
    270) echo "0 -1 1 1 0 0 0 0 1" ;;
  esac
}

xrandr_name() {
  case "$1" in 0) echo normal ;; 90) echo right ;; 180) echo inverted ;; 270) echo left ;; esac
}

configure_kiosk_display() {
  say "kiosk: boot to the app on tty1 with no desktop; blanking off; cursor hidden; rotation $ROTATION"
  # Any user may start X; it gets its devices from the logind session of touchpoint-kiosk.service.
  write /etc/X11/Xwrapper.config 0644 <<'EOF'
# Written by Touchpoint setup-pi.sh: the kiosk's X server runs as the touchpoint user.
allowed_users=anybody
needs_root_rights=yes
EOF
  printf 'XRANDR_ROTATE=%s\n' "$(xrandr_name "$ROTATION")" | write "$ETC/display.env" 0644
  local conf="/etc/X11/xorg.conf.d/40-touchpoint-touch.conf"
  if [ "$ROTATION" = 0 ]; then
    rm -f "$ROOT$conf"
  else
    write "$conf" 0644 <<EOF
# Written by Touchpoint setup-pi.sh --rotation $ROTATION: touch input turns with the screen.
Section "InputClass"
    Identifier "touchpoint touchscreen rotation"
    MatchIsTouchscreen "on"
    Driver "libinput"
    Option "CalibrationMatrix" "$(touch_matrix "$ROTATION")"
EndSection
EOF
  fi
  # The text console must not blank either (before X starts, and if it restarts).
  local cmdline
  for cmdline in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    if [ -f "$ROOT$cmdline" ]; then
      if ! grep -q 'consoleblank=0' "$ROOT$cmdline"; then sed -i '1 s/$/ consoleblank=0/' "$ROOT$cmdline"; fi
      break
    fi
  done
  run systemctl set-default multi-user.target
  local dm
  for dm in lightdm gdm3 sddm; do
    if ! staging && systemctl list-unit-files "$dm.service" >/dev/null 2>&1; then
      systemctl disable "$dm.service" >/dev/null 2>&1 || true
    fi
  done
  run systemctl disable getty@tty1.service
}

enable_services() {
  local units=(touchpoint-agent.service touchpoint-health.timer)
  if [ "$MODE" = kiosk ]; then
    units+=(touchpoint-kiosk.service)
    run systemctl disable touchpoint-panel.service
  else
    units+=(touchpoint-panel.service)
    run systemctl disable touchpoint-kiosk.service
  fi
  run systemctl daemon-reload
  run systemctl restart systemd-journald
  run systemctl enable "${units[@]}"
  say "enabled: ${units[*]}"
}

final_check() {
  if staging; then
    say "staged under $ROOT; nothing was run"
    return
  fi
  say "checking the config as the service user"
  runuser -u "$USER_NAME" -- "$PREFIX/bin/touchpoint-agent" check --config "$ETC/device.toml"
  say "done: reboot now (sudo reboot); afterwards: sudo -u $USER_NAME $PREFIX/bin/touchpoint-healthcheck"
}

main() {
  check_inputs
  if ! staging; then install_packages; fi
  create_user
  install_software
  install_config
  install_units
  if [ "$MODE" = kiosk ]; then configure_kiosk_display; fi
  enable_services
  final_check
}

main
