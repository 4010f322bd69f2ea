"""Fleet provisioning: the device registry, device bundles and the broker's generated files.

- :mod:`~hub.provisioning.registry`: add, rotate and revoke device accounts (hashed passwords only);
- :mod:`~hub.provisioning.bundle`: the per-device directory (device.toml, ca.crt, 0600 broker.pass);
- :mod:`~hub.provisioning.broker_files`: Mosquitto's passwd, ACL and TLS listener config, and reload;
- :mod:`~hub.provisioning.certs`: the broker's CA and server certificate (openssl);
- :mod:`~hub.provisioning.gate`: the hub's own check of topic ids against the registry at ingest;
- :mod:`~hub.provisioning.cli`: ``touchpoint-hub device ...`` and ``touchpoint-hub broker certs|config``.
"""
