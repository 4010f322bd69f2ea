#!/bin/sh
# touchpoint-kiosk-session: the X client of touchpoint-kiosk-x. Turns blanking off, rotates the
# screen (setup-pi.sh --rotation writes /etc/touchpoint/display.env), then becomes the kiosk app.
set -eu
XRANDR_ROTATE=normal
if [ -r /etc/touchpoint/display.env ]; then
  # shellcheck disable=SC1091
  . /etc/touchpoint/display.env
fi
xset s off
xset s noblank
xset -dpms
if [ "$XRANDR_ROTATE" != normal ]; then
  xrandr -o "$XRANDR_ROTATE" || echo "touchpoint-kiosk-session: xrandr -o $XRANDR_ROTATE failed" >&2
fi
exec /opt/touchpoint/bin/touchpoint-kiosk --config /etc/touchpoint/device.toml
