"""TLS insight against real etcd servers: what each member presents, verified or not."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from etcdmon_gui.etcd.sandbox import Sandbox, free_ports
from etcdmon_gui.etcd.tls_inspect import cert_info, client_cert_info, inspect_server
from etcdmon_gui.model.certs import CertCheck
from etcdmon_gui.model.connection import Endpoint, TLSConfig, parse_endpoint
from tests.pki import Pki

TIMEOUT = 2.0
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SERVER_NOT_AFTER = NOW + dt.timedelta(days=90)


def fingerprint(pem: bytes) -> str:
    """SHA-256 over the DER form, computed without the code under test."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))).hexdigest()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"), server_not_after=SERVER_NOT_AFTER)


@pytest.fixture(scope="module")
def tls_cluster(etcd_binary: Path, pki: Pki) -> Iterator[Sandbox]:
    tls = pki.sandbox_tls()
    with Sandbox(3, binary=etcd_binary, tls=tls) as sandbox:
        yield sandbox


def first(sandbox: Sandbox) -> Endpoint:
    return parse_endpoint(sandbox.endpoints[0])


def test_every_member_presents_a_verified_chain(tls_cluster: Sandbox, pki: Pki) -> None:
    server_pem = pki.server.cert_chain_pems[0].bytes()
    ca_subject = cert_info(pki.ca.cert_pem.bytes()).subject
    for url in tls_cluster.endpoints:
        before = time.time()
        check = inspect_server(parse_endpoint(url), pki.tls(), TIMEOUT)
        assert check.verified and check.error is None, check
        assert check.endpoint == url
        assert before <= check.checked_at <= time.time()
        leaf, root = check.chain  # the leaf from the wire, the CA from the bundle (or 3.13+)
        assert leaf.fingerprint_sha256 == fingerprint(server_pem)
        assert leaf.subject.startswith("CN=etcd-server,"), leaf.subject
        assert leaf.issuer == ca_subject
        assert leaf.sans == ("127.0.0.1", "localhost")
        assert leaf.not_after == SERVER_NOT_AFTER.timestamp()
        assert leaf.self_signed is False
        assert root.subject == ca_subject and root.self_signed is True
        days = check.days_left(time.time())
        assert days is not None and 89.9 < days <= 90.0


def test_server_name_override_is_what_gets_checked(tls_cluster: Sandbox, pki: Pki) -> None:
    ok = inspect_server(first(tls_cluster), pki.tls(server_name="localhost"), TIMEOUT)
    assert ok.verified, ok

    wrong = inspect_server(first(tls_cluster), pki.tls(server_name="etcd.elsewhere"), TIMEOUT)
    assert not wrong.verified
    assert wrong.error == (
        "certificate verify failed: hostname mismatch, certificate is not valid for "
        "'etcd.elsewhere'"
    )
    # The certificate is still shown, so the user can see which names it does carry.
    assert wrong.leaf is not None and wrong.leaf.sans == ("127.0.0.1", "localhost")


def test_wrong_ca_fails_verification_but_the_certificate_is_still_read(
    tls_cluster: Sandbox, pki: Pki
) -> None:
    other_ca = trustme.CA()
    check = inspect_server(first(tls_cluster), pki.tls(ca=other_ca.cert_pem.bytes()), TIMEOUT)
    assert not check.verified
    assert check.error is not None and check.error.startswith("certificate verify failed: "), check
    assert "unable to get local issuer certificate" in check.error
    leaf = check.leaf
    assert leaf is not None
    assert leaf.fingerprint_sha256 == fingerprint(pki.server.cert_chain_pems[0].bytes())
    assert leaf.subject.startswith("CN=etcd-server,")
    assert leaf.issuer == cert_info(pki.ca.cert_pem.bytes()).subject
    # The configured (wrong) CA did not sign it, so it is not shown as the issuer.
    assert len(check.chain) == 1


def test_without_a_client_certificate(tls_cluster: Sandbox, pki: Pki) -> None:
    check = inspect_server(first(tls_cluster), TLSConfig(ca=pki.ca.cert_pem.bytes()), TIMEOUT)
    if check.verified:
        # TLS 1.3 (etcd 3.4 here): the client's handshake is over before the server
        # checks the client certificate, so the server's certificate can be read.
        assert check.leaf is not None
        assert check.leaf.fingerprint_sha256 == fingerprint(pki.server.cert_chain_pems[0].bytes())
    else:
        # TLS 1.2 (etcd 3.5 here): the server refuses inside the handshake.
        assert check.chain == ()
        port = tls_cluster.members[0].client_port
        assert check.error == (
            f"127.0.0.1:{port} rejected the client certificate: it is missing, expired, or "
            "not signed by a CA the server trusts"
        )


@pytest.fixture
def expired_server(etcd_binary: Path, pki: Pki, tmp_path: Path) -> Iterator[Sandbox]:
    """A member serving a server certificate that expired two days ago.

    The sandbox waits for a *verified* /health before it returns, so it starts with a
    valid certificate; the files are then replaced, and etcd, which loads its key pair
    on every handshake, presents the expired one from the next connection on.
    """
    cert, key = tmp_path / "server.pem", tmp_path / "server-key.pem"
    pki.server.cert_chain_pems[0].write_to_path(str(cert))
    pki.server.private_key_pem.write_to_path(str(key))
    past = NOW - dt.timedelta(days=2)
    expired = pki.ca.issue_cert(
        "127.0.0.1",
        "localhost",
        common_name="etcd-expired",
        not_before=past - dt.timedelta(days=30),
        not_after=past,
    )
    with Sandbox(1, binary=etcd_binary, tls=pki.sandbox_tls(cert=cert, key=key)) as sandbox:
        for path, blob in ((key, expired.private_key_pem), (cert, expired.cert_chain_pems[0])):
            blob.write_to_path(str(path.with_suffix(".new")))
            os.replace(path.with_suffix(".new"), path)
        yield sandbox


def test_expired_server_certificate(expired_server: Sandbox, pki: Pki) -> None:
    check = inspect_server(first(expired_server), pki.tls(), TIMEOUT)
    assert not check.verified
    assert check.error == "certificate verify failed: certificate has expired"
    leaf = check.leaf
    assert leaf is not None and leaf.subject.startswith("CN=etcd-expired,"), check
    now = time.time()
    assert leaf.days_left(now) == pytest.approx(-2.0, abs=0.01)
    assert leaf.expired(now)
    # The (valid) CA from the bundle still completes the chain.
    assert [c.self_signed for c in check.chain] == [False, True]
    days = check.days_left(now)
    assert days is not None and days < 0


def test_closed_port_is_connection_refused(pki: Pki) -> None:
    (port,) = free_ports(1)
    check = inspect_server(parse_endpoint(f"https://127.0.0.1:{port}"), pki.tls(), TIMEOUT)
    assert check == CertCheck(
        endpoint=f"https://127.0.0.1:{port}",
        chain=(),
        verified=False,
        error=f"connection refused at 127.0.0.1:{port}",
        checked_at=check.checked_at,
    )


def test_plain_http_member_given_as_https(etcd_binary: Path, pki: Pki) -> None:
    with Sandbox(1, binary=etcd_binary) as plain:
        port = plain.members[0].client_port
        endpoint = parse_endpoint(f"https://127.0.0.1:{port}")
        started = time.monotonic()
        check = inspect_server(endpoint, pki.tls(), TIMEOUT)
        elapsed = time.monotonic() - started
    assert not check.verified and check.chain == ()
    assert check.error in (
        f"127.0.0.1:{port} closed the connection during the TLS handshake (not a TLS "
        "endpoint, or the client certificate was rejected)",
        f"TLS handshake failed at 127.0.0.1:{port}: the endpoint does not speak TLS "
        "(use http:// instead of https://)",
    ), check
    assert elapsed < TIMEOUT  # refused at once, not waited out


def test_a_silent_endpoint_times_out_within_the_deadline(pki: Pki) -> None:
    # The kernel accepts the TCP connection into the backlog; nobody ever answers TLS.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        started = time.monotonic()
        check = inspect_server(parse_endpoint(f"https://127.0.0.1:{port}"), pki.tls(), 0.3)
        elapsed = time.monotonic() - started
    assert check.error == (
        f"timed out after 0.3 s waiting for the TLS handshake with 127.0.0.1:{port}"
    )
    assert check.chain == () and not check.verified
    assert 0.3 <= elapsed < 1.5


def test_no_key_material_in_results_or_logs(
    tls_cluster: Sandbox, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="etcdmon_gui")
    key_pem = pki.client.private_key_pem.bytes().decode()
    key_body = "".join(key_pem.strip().splitlines()[1:-1])
    checks = [
        inspect_server(first(tls_cluster), pki.tls(), TIMEOUT),
        inspect_server(first(tls_cluster), pki.tls(ca=trustme.CA().cert_pem.bytes()), TIMEOUT),
    ]
    assert caplog.records  # the failed verification was logged at debug level
    text = repr(checks) + caplog.text
    assert key_body[:32] not in text and "PRIVATE KEY" not in text


def test_client_certificate_expiry(pki: Pki) -> None:
    info = client_cert_info(pki.tls())
    assert info is not None
    assert info.subject.startswith("CN=etcdmon-client,")
    assert info.fingerprint_sha256 == fingerprint(pki.client.cert_chain_pems[0].bytes())
    assert info.days_left(time.time()) > 0
