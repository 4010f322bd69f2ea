"""``scripts/demo``: the whole Touchpoint system on one machine.

A real Mosquitto, a real hub and one real ``touchpoint-agent`` process per simulated store, with
weeks of history, live taps, alert rules posting to a local webhook receiver, and one kiosk whose
link drops for a while. Only the standard library and the project itself are imported here, because
``scripts/demo`` installs nothing but ``touchpoint[hub]``. The modules:

- :mod:`demo.hubapi`: a small JSON client of the hub's REST API (urllib);
- :mod:`demo.webhooks`: the local receiver that prints each alert webhook;
- :mod:`demo.children`: the processes the demo starts, and how they are all stopped;
- :mod:`demo.run`: the demo itself.
"""
