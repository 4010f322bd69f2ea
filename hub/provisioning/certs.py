"""The broker's TLS: a private CA and a server certificate, made with the ``openssl`` command.

``touchpoint-hub broker certs --out DIR --host NAME`` writes:

- ``ca.crt``: the CA devices verify the broker with (copied into every device bundle);
- ``ca.key``: the CA's key, 0600 root: keep it offline after set-up if you can;
- ``server.crt`` / ``server.key``: the broker's certificate for NAME (plus localhost and
  127.0.0.1, so a hub on the same machine can connect), key 0640 root:mosquitto.

An existing CA is kept, so re-running it (a new host name, a renewal) never
strands devices already in the field; only ``--new-ca`` replaces it.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hub.provisioning.files import BROKER_SECRET, PUBLIC, SECRET, log, make_dir, mosquitto_gid, write_file

CA_DAYS = 3650
SERVER_DAYS = 825  # the longest validity TLS clients commonly accept for a server certificate
CURVE = "prime256v1"  # EC keys: fast handshakes on a Raspberry Pi


class CertError(RuntimeError):
    pass


@dataclass(frozen=True)
class CertPaths:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"


def _openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise CertError("the openssl command is needed: apt-get install openssl")
    proc = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise CertError(f"openssl {args[0]} failed: {proc.stderr.strip()[-500:]}")


def san_entries(hosts: list[str]) -> list[str]:
    """subjectAltName entries: IP:... for addresses, DNS:... for names; localhost always included."""
    entries: list[str] = []
    for host in [*hosts, "localhost", "127.0.0.1"]:
        try:
            entry = f"IP:{ipaddress.ip_address(host)}"
        except ValueError:
            if not host or any(c in host for c in " ,/\\\n"):
                raise CertError(f"--host {host!r} is not a host name or IP address") from None
            entry = f"DNS:{host}"
        if entry not in entries:
            entries.append(entry)
    return entries


def make_certs(out: Path, hosts: list[str], *, new_ca: bool = False) -> tuple[CertPaths, bool]:
    """Create (or keep) the CA and issue a server certificate for ``hosts``; return (paths, CA created)."""
    if not hosts:
        raise CertError("give at least one --host: the name devices use to reach the broker")
    paths = CertPaths(make_dir(out, 0o755))
    gid = mosquitto_gid()
    created = False
    with tempfile.TemporaryDirectory(prefix="touchpoint-certs-") as tmp_name:
        tmp = Path(tmp_name)
        if new_ca or not (paths.ca_cert.exists() and paths.ca_key.exists()):
            _openssl(
                "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{CURVE}", "-nodes",
                "-keyout", "ca.key", "-out", "ca.crt", "-days", str(CA_DAYS),
                "-subj", "/O=Touchpoint/CN=Touchpoint broker CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                cwd=tmp,
            )  # fmt: skip
            write_file(paths.ca_key, (tmp / "ca.key").read_bytes(), SECRET)
            write_file(paths.ca_cert, (tmp / "ca.crt").read_bytes(), PUBLIC)
            created = True
            log.info("created a new CA: %s", paths.ca_cert)
        else:
            log.info("keeping the existing CA %s (devices in the field trust it)", paths.ca_cert)
        shutil.copy(paths.ca_cert, tmp / "ca.crt")
        shutil.copy(paths.ca_key, tmp / "ca.key")
        (tmp / "server.ext").write_text(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            f"extendedKeyUsage=serverAuth\nsubjectAltName={','.join(san_entries(hosts))}\n"
        )
        _openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", f"ec_paramgen_curve:{CURVE}", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", f"/O=Touchpoint/CN={hosts[0]}",
            cwd=tmp,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", str(SERVER_DAYS), "-extfile", "server.ext",
            cwd=tmp,
        )  # fmt: skip
        write_file(paths.server_key, (tmp / "server.key").read_bytes(), BROKER_SECRET, gid=gid)
        write_file(paths.server_cert, (tmp / "server.crt").read_bytes(), PUBLIC)
    log.info("issued %s for %s", paths.server_cert, ", ".join(san_entries(hosts)))
    return paths, created
