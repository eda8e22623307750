"""`etcdmon` against a real TLS cluster whose server certificate expires in 2.9 days:
the verdict and the expiry alert say which certificate, and TLS failures are one line."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from etcdmon_gui.etcd.sandbox import Sandbox
from tests.pki import Pki


@dataclass
class TLSCluster:
    sandbox: Sandbox
    pki: Path  # ca.pem, client.pem, client-key.pem
    other: Path  # the same files from an unrelated CA

    def flags(self, ca: Path | None = None, client: Path | None = None) -> list[str]:
        ca, client = ca or self.pki, client or self.pki
        return [
            "--endpoints", self.sandbox.endpoints[0], "--cacert", str(ca / "ca.pem"),
            "--cert", str(client / "client.pem"), "--key", str(client / "client-key.pem"),
        ]  # fmt: skip


@pytest.fixture(scope="module")
def expiring(etcd_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSCluster]:
    pki, other = tmp_path_factory.mktemp("pki"), tmp_path_factory.mktemp("other")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=2.9)
    tls = Pki.create(pki, server_not_after=soon).sandbox_tls()
    Pki.create(other)
    with Sandbox(1, binary=etcd_binary, tls=tls) as sandbox:
        yield TLSCluster(sandbox, pki, other)


def etcdmon(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRPC_")}
    return subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def test_status_is_degraded_by_a_server_certificate_expiring_in_days(
    expiring: TLSCluster,
) -> None:
    """Issue 15: `status` said HEALTHY with a server certificate expiring in 2.9 days."""
    out = etcdmon("status", *expiring.flags(), "--json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["verdict"] == "degraded"
    (reason,) = doc["reasons"]
    assert re.fullmatch(
        r"the server certificate of member m0 \(CN=etcd-server,.*\) expires in 2\.9 days", reason
    ), reason


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("ca", "etcdmon: certificate verify failed: the server's certificate is not signed by "),
        ("client", "etcdmon: the server rejected the client certificate: it is missing, "),
    ],
)
def test_a_tls_failure_is_one_line_without_grpcs_own_logs(
    expiring: TLSCluster, who: str, message: str
) -> None:
    """Issue 15: gRPC's C core printed `Handshake failed ...` lines to stderr too."""
    flags = expiring.flags(**{who: expiring.other})
    out = etcdmon("status", *flags, "--timeout", "2")
    assert out.returncode == 3
    (line,) = out.stderr.splitlines()
    assert line.startswith(message), out.stderr


def test_the_expiry_alert_names_the_member_and_the_certificate(
    expiring: TLSCluster, tmp_path: Path
) -> None:
    """Issue 15: the alert said only "a certificate used with ... expires in 2.9 days"."""
    with subprocess.Popen(
        [
            sys.executable, "-m", "etcdmon_gui.cli", "watch", *expiring.flags(),
            "--interval", "1s", "--history", str(tmp_path / "history.sqlite3"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if "etcdCertificateExpiringVerySoon" in line:
                    break
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)
    state = next(line for line in lines if " STATE " in line)
    assert " DEGRADED: the server certificate of member m0 (CN=etcd-server," in state
    fired = lines[-1]
    assert re.search(
        r" FIRING +critical +etcdCertificateExpiringVerySoon cluster=\S+ fingerprint=\w+: "
        r"the server certificate of member m0 \(CN=etcd-server,.*\), used with \S+, "
        r"expires in 2\.9 days$",
        fired,
    ), lines
