"""TLS with client certificates and user/password auth, against real etcd servers."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import trustme
from pyetcd import etcdrpc

from etcdmon_gui import cli
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.connection import ConnectionConfig, TLSConfig, parse_endpoints
from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.model.snapshot import Verdict
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from tests.pki import Pki

ROOT_PASSWORD = "s3cret-root-pw"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki.create(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_cluster(etcd_binary: Path, certs: Pki) -> Iterator[Sandbox]:
    with Sandbox(3, binary=etcd_binary, tls=certs.sandbox_tls()) as sandbox:
        yield sandbox


def sweep(endpoints: str, **kw: object) -> object:
    config = ConnectionConfig(endpoints=parse_endpoints(endpoints), **kw)  # type: ignore[arg-type]
    with ClusterProbe(config) as probe:
        return ClusterMonitor(probe, config.key).sweep()


def enable_auth(endpoint: str, tls: TLSConfig | None = None) -> None:
    """Create root with a password and turn auth on, with the raw gRPC API."""
    target = endpoint.split("://")[1]
    if tls:
        creds = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
        channel = grpc.secure_channel(target, creds)
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        auth = etcdrpc.AuthStub(channel)
        auth.UserAdd(etcdrpc.AuthUserAddRequest(name="root", password=ROOT_PASSWORD), timeout=5)
        auth.UserGrantRole(etcdrpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=5)
        auth.AuthEnable(etcdrpc.AuthEnableRequest(), timeout=5)


def test_tls_with_client_certificates(tls_cluster: Sandbox, certs: Pki) -> None:
    snap = sweep(tls_cluster.endpoints[0], tls=certs.tls())
    assert snap.verdict == Verdict.HEALTHY, snap.reasons  # type: ignore[attr-defined]
    members = snap.members  # type: ignore[attr-defined]
    assert len(members) == 3
    assert all(m.endpoint.startswith("https://") for m in members)
    # /metrics is scraped over the same TLS, client certificate included.
    assert all(m.metrics is not None and m.metrics_error is None for m in members)
    # Each member's certificate is read and verified; ours is known too.
    for m in members:
        assert m.server_cert is not None and m.server_cert.verified, m.server_cert
        leaf = m.server_cert.leaf
        assert leaf is not None and "127.0.0.1" in leaf.sans
    assert snap.client_cert is not None  # type: ignore[attr-defined]
    days = snap.cert_days_left  # type: ignore[attr-defined]
    assert days is not None and days > 300  # trustme issues long-lived certificates


def test_wrong_ca_says_certificate_verify_failed(tls_cluster: Sandbox, certs: Pki) -> None:
    other_ca = trustme.CA()
    snap = sweep(
        tls_cluster.endpoints[0], tls=certs.tls(ca=other_ca.cert_pem.bytes()), timeout_s=2.0
    )
    assert snap.verdict == Verdict.UNREACHABLE  # type: ignore[attr-defined]
    error = snap.error  # type: ignore[attr-defined]
    assert error.startswith("certificate verify failed"), error
    assert "127.0.0.1" in error


def test_missing_client_certificate_is_named(tls_cluster: Sandbox, certs: Pki) -> None:
    snap = sweep(tls_cluster.endpoints[0], tls=TLSConfig(ca=certs.ca.cert_pem.bytes()))
    error = snap.error  # type: ignore[attr-defined]
    assert error and "client certificate" in error, error


def test_expired_client_certificate(tls_cluster: Sandbox, certs: Pki) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    expired = certs.ca.issue_cert(
        "etcdmon-client", not_before=past - dt.timedelta(days=30), not_after=past
    )
    tls = certs.tls(cert=expired.cert_chain_pems[0].bytes(), key=expired.private_key_pem.bytes())
    snap = sweep(tls_cluster.endpoints[0], tls=tls)
    error = snap.error  # type: ignore[attr-defined]
    assert error and "client certificate" in error, error


def test_key_not_matching_certificate_is_refused_before_connecting(certs: Pki) -> None:
    stranger = certs.ca.issue_cert("someone-else")
    tls = certs.tls(key=stranger.private_key_pem.bytes())
    config = ConnectionConfig(endpoints=parse_endpoints("https://127.0.0.1:1"), tls=tls)
    with pytest.raises(ConfigError, match="client key does not match the client certificate"):
        ClusterProbe(config)


def test_plain_http_against_tls_server(tls_cluster: Sandbox) -> None:
    endpoint = tls_cluster.endpoints[0].replace("https://", "http://")
    snap = sweep(endpoint, timeout_s=2.0)
    assert snap.verdict == Verdict.UNREACHABLE  # type: ignore[attr-defined]
    assert snap.error and "127.0.0.1" in snap.error  # type: ignore[attr-defined]


@pytest.fixture
def auth_cluster(cluster: Sandbox) -> Sandbox:
    enable_auth(cluster.endpoints[0])
    return cluster


def test_password_auth_over_plain_http(auth_cluster: Sandbox) -> None:
    snap = sweep(auth_cluster.endpoints_arg, user="root", password=ROOT_PASSWORD)
    assert snap.verdict == Verdict.HEALTHY, snap.reasons  # type: ignore[attr-defined]
    assert all(m.probe_error is None for m in snap.members)  # type: ignore[attr-defined]
    warnings = snap.warnings  # type: ignore[attr-defined]
    assert any("unencrypted" in w for w in warnings)
    assert all(ROOT_PASSWORD not in w for w in warnings)


def test_wrong_password_is_degraded_not_unreachable(auth_cluster: Sandbox) -> None:
    snap = sweep(auth_cluster.endpoints[0], user="root", password="nope-wrong")
    # MemberList and Status need no user: the members are known and up, the cluster
    # is not "unreachable"; the password is wrong, which the reasons say first.
    assert snap.verdict == Verdict.DEGRADED, snap.reasons  # type: ignore[attr-defined]
    assert snap.error is None  # type: ignore[attr-defined]
    assert len(snap.members) == 3 and snap.has_quorum  # type: ignore[attr-defined]
    assert (
        snap.reasons[0]
        == (  # type: ignore[attr-defined]
            f"cannot authenticate: authentication failed for user 'root' at "
            f"{auth_cluster.endpoints[0][7:]}: wrong user name or password; members and quorum "
            "come from MemberList and Status, which need no user"
        )
    )


def test_no_credentials_on_an_auth_cluster_is_degraded(auth_cluster: Sandbox) -> None:
    snap = sweep(auth_cluster.endpoints[0])
    # Status and MemberList need no user, so health is visible; the probe read is
    # refused, so this monitor cannot say reads work: never "healthy".
    assert snap.verdict == Verdict.DEGRADED, snap.reasons  # type: ignore[attr-defined]
    members = snap.members  # type: ignore[attr-defined]
    assert len(members) == 3 and all(m.reachable and m.probe_denied for m in members)
    (reason,) = snap.reasons  # type: ignore[attr-defined]
    assert reason.startswith(
        "authentication required / permission denied for the probe read on 3 member(s): "
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["status", "--endpoints", auth_cluster.endpoints[0]])
    assert code == 3 and "DEGRADED" in out.getvalue()  # the cluster refused us the read


def test_auth_and_quorum_lost_is_critical_not_unreachable(auth_cluster: Sandbox) -> None:
    mon_config = ConnectionConfig(
        endpoints=parse_endpoints(auth_cluster.endpoints_arg),
        user="root",
        password=ROOT_PASSWORD,
        timeout_s=1.0,
    )
    auth_cluster.stop_member(1)
    auth_cluster.stop_member(2)
    # Authenticate is a raft proposal and needs quorum; MemberList and Status do not.
    with ClusterProbe(mon_config) as probe:
        snap = ClusterMonitor(probe, mon_config.key).sweep()
    assert snap.verdict == Verdict.CRITICAL, snap.reasons
    assert snap.error is None and snap.voters == 3 and snap.reachable_voters == 1
    assert any(r.startswith("quorum lost: 1 of 3") for r in snap.reasons)
    assert any(r.startswith("cannot authenticate: as 'root': ") for r in snap.reasons)


def test_password_auth_over_tls(etcd_binary: Path, certs: Pki) -> None:
    with Sandbox(1, binary=etcd_binary, tls=certs.sandbox_tls(client_cert_auth=False)) as sandbox:
        tls = TLSConfig(ca=certs.ca.cert_pem.bytes())
        enable_auth(sandbox.endpoints[0], tls=tls)
        snap = sweep(sandbox.endpoints[0], tls=tls, user="root", password=ROOT_PASSWORD)
        assert snap.verdict == Verdict.HEALTHY, snap.reasons  # type: ignore[attr-defined]
        assert snap.warnings == ()  # type: ignore[attr-defined]
        bad = sweep(sandbox.endpoints[0], tls=tls, user="root", password="wrong")
        assert bad.verdict == Verdict.DEGRADED  # type: ignore[attr-defined]
        assert "authentication failed for user 'root'" in bad.reasons[0]  # type: ignore[attr-defined]


def test_insecure_skip_verify_connects_and_says_so(tls_cluster: Sandbox, certs: Pki) -> None:
    stranger_ca = trustme.CA().cert_pem.bytes()  # not the CA that signed the servers
    verified = sweep(tls_cluster.endpoints[0], tls=certs.tls(ca=stranger_ca))
    assert verified.verdict == Verdict.UNREACHABLE  # type: ignore[attr-defined]
    snap = sweep(tls_cluster.endpoints[0], tls=certs.tls(ca=stranger_ca, insecure_skip_verify=True))
    assert snap.verdict == Verdict.HEALTHY, snap.reasons  # type: ignore[attr-defined]
    assert len(snap.members) == 3  # type: ignore[attr-defined]
    warnings = snap.warnings  # type: ignore[attr-defined]
    assert any("NOT verified" in w and "insecure-skip-verify" in w for w in warnings)
    # What the servers present is still shown, and not as verified.
    checks = [m.server_cert for m in snap.members]  # type: ignore[attr-defined]
    assert all(c is not None and not c.verified and c.leaf is not None for c in checks)
