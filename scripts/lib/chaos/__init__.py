"""``scripts/chaos``: real agents, a real Mosquitto and a real hub under random faults.

Run ``scripts/chaos --help``. The modules:

- :mod:`chaos.plan`: the run's shape (devices, zones, clock scenarios, fault mix) for --short/--long;
- :mod:`chaos.procs`: the hub, agent and tapper processes (kill -9, restart);
- :mod:`chaos.tapper`: a device's kiosk stand-in, recording taps at random through the real Recorder;
- :mod:`chaos.proxy`: one TCP link per device and for the hub, to cut or stall (network partitions);
- :mod:`chaos.replay`: captures batches off the broker and publishes copies again, shuffled;
- :mod:`chaos.faults`: schedules and injects the faults, and counts them by kind;
- :mod:`chaos.check`: the union of the device stores against the hub's events, quarantine and rollups;
- :mod:`chaos.run`: ties it together.
"""
