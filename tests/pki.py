"""A throwaway certificate authority for TLS tests: CA, server and client certificates
written as PEM files, and the matching client and sandbox settings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import trustme

from etcdmon_gui.etcd.sandbox import SandboxTLS
from etcdmon_gui.model.connection import TLSConfig


@dataclass
class Pki:
    ca: trustme.CA
    server: trustme.LeafCert
    client: trustme.LeafCert
    dir: Path

    @classmethod
    def create(cls, directory: Path, server_not_after: dt.datetime | None = None) -> Pki:
        """CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
        ca = trustme.CA()
        server = ca.issue_cert(
            "127.0.0.1", "localhost", common_name="etcd-server", not_after=server_not_after
        )
        client = ca.issue_cert("etcdmon-client", common_name="etcdmon-client")
        ca.cert_pem.write_to_path(str(directory / "ca.pem"))
        server.cert_chain_pems[0].write_to_path(str(directory / "server.pem"))
        server.private_key_pem.write_to_path(str(directory / "server-key.pem"))
        client.cert_chain_pems[0].write_to_path(str(directory / "client.pem"))
        client.private_key_pem.write_to_path(str(directory / "client-key.pem"))
        return cls(ca, server, client, directory)

    def tls(self, **kw: object) -> TLSConfig:
        """Client settings: our CA and client certificate, with ``kw`` replacing parts."""
        args: dict[str, object] = {
            "ca": self.ca.cert_pem.bytes(),
            "cert": self.client.cert_chain_pems[0].bytes(),
            "key": self.client.private_key_pem.bytes(),
        }
        args.update(kw)
        return TLSConfig(**args)  # type: ignore[arg-type]

    def sandbox_tls(
        self, *, client_cert_auth: bool = True, cert: Path | None = None, key: Path | None = None
    ) -> SandboxTLS:
        """Serve https with the server certificate (or ``cert``/``key``)."""
        return SandboxTLS(
            cert_file=cert or self.dir / "server.pem",
            key_file=key or self.dir / "server-key.pem",
            ca_file=self.dir / "ca.pem",
            client_cert_auth=client_cert_auth,
            client_cert_file=self.dir / "client.pem",
            client_key_file=self.dir / "client-key.pem",
        )
