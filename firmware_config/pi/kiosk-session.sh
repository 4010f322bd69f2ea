#!/bin/sh
# touchpoint-kiosk-session: the X client of touchpoint-kiosk-x. Turns blanking off, rotates the
# screen (setup-pi.sh --rotation writes /etc/touchpoint/display.env), then becomes the kiosk app.
# The paths default to the Pi's; tests/kiosk/test_boot_path.py points them at a test install.
set -eu
TOUCHPOINT_BIN="${TOUCHPOINT_BIN:-/opt/touchpoint/bin}"
TOUCHPOINT_CONFIG="${TOUCHPOINT_CONFIG:-/etc/touchpoint/device.toml}"
TOUCHPOINT_DISPLAY_ENV="${TOUCHPOINT_DISPLAY_ENV:-/etc/touchpoint/display.env}"
XRANDR_ROTATE=normal
if [ -r "$TOUCHPOINT_DISPLAY_ENV" ]; then
  # shellcheck source=/dev/null
  . "$TOUCHPOINT_DISPLAY_ENV"
fi
xset s off
xset s noblank
xset -dpms
if [ "$XRANDR_ROTATE" != normal ]; then
  xrandr -o "$XRANDR_ROTATE" || echo "touchpoint-kiosk-session: xrandr -o $XRANDR_ROTATE failed" >&2
fi
# exec: the kiosk replaces this shell, so it is the X session client that xinit waits for.
exec "$TOUCHPOINT_BIN/touchpoint-kiosk" --config "$TOUCHPOINT_CONFIG"
