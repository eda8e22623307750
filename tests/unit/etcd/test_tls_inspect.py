"""Certificates -> CertInfo, CA bundles, chain completion and expiry arithmetic (no network)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl

import pytest
import trustme

from etcdmon_gui.etcd.tls_inspect import (
    cert_info,
    cert_infos_from_pem_bundle,
    chain_from_bundle,
    client_cert_info,
    inspect_server,
)
from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.connection import TLSConfig, parse_endpoint
from etcdmon_gui.model.errors import ConfigError

DAY = 86_400.0
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def der(pem: bytes) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def test_leaf_names_sans_validity_and_identity(ca: trustme.CA) -> None:
    not_before, not_after = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30)
    leaf = ca.issue_cert(
        "etcd-0.example.org",
        "127.0.0.1",
        "::1",
        "ops@example.org",
        common_name="etcd-0",
        not_before=not_before,
        not_after=not_after,
    )
    pem = leaf.cert_chain_pems[0].bytes()
    info = cert_info(pem)

    assert info.subject.startswith("CN=etcd-0,OU=Testing cert #"), info.subject
    assert info.issuer == cert_info(ca.cert_pem.bytes()).subject
    assert info.issuer.startswith("OU=Testing CA #"), info.issuer
    # DNS names and IPs as text, in certificate order; the e-mail address is not a host.
    assert info.sans == ("etcd-0.example.org", "127.0.0.1", "::1")
    assert info.not_before == not_before.timestamp()
    assert info.not_after == not_after.timestamp()
    assert info.fingerprint_sha256 == hashlib.sha256(der(pem)).hexdigest()
    assert info.serial == info.serial.lower() and int(info.serial, 16) > 0
    assert info.self_signed is False
    assert info.days_left(NOW.timestamp()) == pytest.approx(30.0)
    assert not info.expired(NOW.timestamp()) and not info.not_yet_valid(NOW.timestamp())


def test_der_pem_and_combined_key_file_describe_the_same_certificate(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("a.example")
    pem = leaf.cert_chain_pems[0].bytes()
    assert cert_info(der(pem)) == cert_info(pem)
    # A combined "key + certificate" file: the key block is skipped.
    assert cert_info(leaf.private_key_pem.bytes() + pem) == cert_info(pem)


def test_a_root_ca_is_self_signed(ca: trustme.CA) -> None:
    info = cert_info(ca.cert_pem.bytes())
    assert info.self_signed is True
    assert info.subject == info.issuer
    assert info.sans == ()


def test_expired_certificate_has_negative_days_left(ca: trustme.CA) -> None:
    past = NOW - dt.timedelta(days=2)
    expired = ca.issue_cert("old.example", not_before=past - dt.timedelta(days=30), not_after=past)
    info = cert_info(expired.cert_chain_pems[0].bytes())
    assert info.not_after == past.timestamp()
    assert info.days_left(NOW.timestamp()) == pytest.approx(-2.0)
    assert info.expired(NOW.timestamp())


def make_info(not_after: float, not_before: float = 0.0) -> CertInfo:
    return CertInfo(
        subject="CN=x",
        issuer="CN=y",
        sans=(),
        not_before=not_before,
        not_after=not_after,
        serial="1",
        fingerprint_sha256="00",
        self_signed=False,
    )


def test_days_left_arithmetic() -> None:
    info = make_info(not_after=1_000.0 + 2.5 * DAY, not_before=1_000.0)
    assert info.days_left(1_000.0) == 2.5
    assert info.days_left(1_000.0 + 2.5 * DAY) == 0.0
    assert info.days_left(1_000.0 + 3.5 * DAY) == -1.0
    assert not info.expired(1_000.0 + 2.5 * DAY) and info.expired(1_000.0 + 2.5 * DAY + 1)
    assert info.not_yet_valid(999.0) and not info.not_yet_valid(1_000.0)


def test_a_check_alerts_on_the_first_link_to_expire() -> None:
    leaf, ca = make_info(not_after=10 * DAY), make_info(not_after=3 * DAY)
    check = CertCheck("https://h:2379", (leaf, ca), verified=True, error=None, checked_at=0.0)
    assert check.leaf is leaf
    assert check.days_left(0.0) == 3.0
    empty = CertCheck("https://h:2379", (), verified=False, error="x", checked_at=0.0)
    assert empty.leaf is None and empty.days_left(0.0) is None


def test_bundle_of_two_cas(ca: trustme.CA) -> None:
    other = trustme.CA()
    bundle = ca.cert_pem.bytes() + b"\n" + other.cert_pem.bytes()
    infos = cert_infos_from_pem_bundle(bundle)
    assert [i.subject for i in infos] == [
        cert_info(ca.cert_pem.bytes()).subject,
        cert_info(other.cert_pem.bytes()).subject,
    ]
    assert infos[0].subject != infos[1].subject
    assert all(i.self_signed for i in infos)
    assert cert_infos_from_pem_bundle(der(ca.cert_pem.bytes())) == infos[:1]


@pytest.mark.parametrize(
    "data", [b"", b"junk", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"]
)
def test_unreadable_certificates_say_so(data: bytes) -> None:
    with pytest.raises(ValueError, match="not a valid"):
        cert_infos_from_pem_bundle(data)
    with pytest.raises(ValueError, match=r"not a valid X\.509 certificate"):
        cert_info(data)


def test_chain_is_completed_from_the_bundle_through_an_intermediate(ca: trustme.CA) -> None:
    intermediate = ca.create_child_ca()
    leaf = intermediate.issue_cert("etcd.example")
    leaf_der = der(leaf.cert_chain_pems[0].bytes())
    bundle = trustme.CA().cert_pem.bytes() + ca.cert_pem.bytes() + intermediate.cert_pem.bytes()

    chain = chain_from_bundle(leaf_der, bundle)
    assert [c.subject for c in chain] == [
        cert_info(leaf_der).subject,
        cert_info(intermediate.cert_pem.bytes()).subject,
        cert_info(ca.cert_pem.bytes()).subject,
    ]
    assert [c.self_signed for c in chain] == [False, False, True]
    assert chain_from_bundle(leaf_der, None) == (cert_info(leaf_der),)
    assert chain_from_bundle(leaf_der, b"not a bundle") == (cert_info(leaf_der),)


def test_a_ca_sharing_the_issuer_name_but_not_the_key_is_not_the_issuer() -> None:
    real = trustme.CA(organization_unit_name="Same CA")
    impostor = trustme.CA(organization_unit_name="Same CA")
    leaf = real.issue_cert("etcd.example")
    assert (
        cert_info(impostor.cert_pem.bytes()).subject
        == cert_info(leaf.cert_chain_pems[0].bytes()).issuer
    )
    chain = chain_from_bundle(leaf.cert_chain_pems[0].bytes(), impostor.cert_pem.bytes())
    assert len(chain) == 1


def test_client_cert_info(ca: trustme.CA) -> None:
    client = ca.issue_cert("etcdmon-client", common_name="etcdmon-client")
    tls = TLSConfig(
        ca=ca.cert_pem.bytes(),
        cert=client.cert_chain_pems[0].bytes(),
        key=client.private_key_pem.bytes(),
    )
    info = client_cert_info(tls)
    assert info is not None and info.subject.startswith("CN=etcdmon-client,")
    assert client_cert_info(None) is None
    assert client_cert_info(TLSConfig(ca=ca.cert_pem.bytes())) is None
    bad = TLSConfig(cert=b"garbage", key=client.private_key_pem.bytes())
    with pytest.raises(ConfigError, match="the client certificate cannot be read"):
        client_cert_info(bad)


def test_a_bad_ca_is_reported_not_raised() -> None:
    endpoint = parse_endpoint("https://127.0.0.1:1")
    check = inspect_server(endpoint, TLSConfig(ca=b"not a certificate"), timeout=1.0)
    assert check == CertCheck(
        endpoint="https://127.0.0.1:1",
        chain=(),
        verified=False,
        error=check.error,
        checked_at=check.checked_at,
    )
    assert check.error and check.error.startswith("the CA certificate is not a valid PEM"), check


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        inspect_server(parse_endpoint("https://127.0.0.1:1"), None, timeout=0)
