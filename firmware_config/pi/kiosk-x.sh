#!/bin/sh
# touchpoint-kiosk-x: a bare X server on tty1 running only the kiosk session (no desktop, no window manager).
# Started by touchpoint-kiosk.service; installed to /opt/touchpoint/bin by setup-pi.sh.
#   -nocursor      no mouse pointer on a touchscreen
#   -s 0 -dpms     the screen never blanks or powers down
#   -nolisten tcp  no X connections from the network
exec /usr/bin/xinit /opt/touchpoint/bin/touchpoint-kiosk-session -- \
  /usr/bin/X :0 vt1 -keeptty -nolisten tcp -nocursor -s 0 -dpms
