"""Endpoint strings and connection settings as etcdctl accepts them."""

from __future__ import annotations

import pytest

from etcdmon_gui.connection_args import from_environment
from etcdmon_gui.model.connection import (
    ConnectionConfig,
    Endpoint,
    TLSConfig,
    parse_endpoint,
    parse_endpoints,
    split_user,
)
from etcdmon_gui.model.errors import BadEndpointError, ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:2379", Endpoint("http", "127.0.0.1", 2379)),
        ("http://etcd-1:2379", Endpoint("http", "etcd-1", 2379)),
        ("https://etcd-1.example.com:2379/", Endpoint("https", "etcd-1.example.com", 2379)),
        ("HTTPS://Etcd:2379", Endpoint("https", "etcd", 2379)),
        ("[::1]:2379", Endpoint("http", "::1", 2379)),
        ("  localhost:12379 ", Endpoint("http", "localhost", 12379)),
    ],
)
def test_parse_endpoint(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty endpoint"),
        ("localhost", "no port"),
        ("http://localhost", "no port"),
        ("localhost:99999", "out of range"),
        ("localhost:abc", "bad endpoint"),
        ("ftp://host:21", "scheme 'ftp' is not http or https"),
        ("unix://socket", "unix sockets are not supported"),
        ("http://host:2379/v3/kv", "an endpoint has no path"),
        ("http://:2379", "no host"),
        ("host:0", "port 0"),
    ],
)
def test_bad_endpoints_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(BadEndpointError, match=message):
        parse_endpoint(text)


def test_credentials_in_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(BadEndpointError) as info:
        parse_endpoint("http://root:hunter2pw@host:2379")
    assert "hunter2pw" not in str(info.value)
    assert "--user" in str(info.value)


def test_comma_lists_dedupe_and_keep_order() -> None:
    eps = parse_endpoints("b:1, a:2,b:1,,https://c:3")
    assert [e.url for e in eps] == ["http://b:1", "http://a:2", "https://c:3"]
    assert parse_endpoints(["a:1,b:2", "c:3"])[2].url == "http://c:3"
    with pytest.raises(BadEndpointError, match="no endpoints"):
        parse_endpoints(" , ")


def test_endpoint_renderings() -> None:
    ep = parse_endpoint("https://[::1]:2379")
    assert ep.url == "https://[::1]:2379" and ep.target == "[::1]:2379" and ep.secure


def test_config_validation_and_no_password_in_repr() -> None:
    eps = parse_endpoints("a:1")
    cfg = ConnectionConfig(eps, user="root", password="pa55word-x")
    assert "pa55word-x" not in repr(cfg)
    assert cfg.key == "http://a:1"
    with pytest.raises(ConfigError, match="without a user"):
        ConnectionConfig(eps, password="x")
    with pytest.raises(ConfigError, match="timeout must be positive"):
        ConnectionConfig(eps, timeout_s=0)
    with pytest.raises(ConfigError, match="give both --cert and --key"):
        TLSConfig(cert=b"x")
    assert "KEYDATA" not in repr(TLSConfig(cert=b"c", key=b"KEYDATA"))


def test_split_user_and_environment() -> None:
    assert split_user("root:pa:ss") == ("root", "pa:ss")
    assert split_user("root") == ("root", None)
    assert split_user(None) == (None, None)
    env = {"ETCDCTL_ENDPOINTS": "x:1", "ETCDCTL_CACERT": "/ca", "ETCDCTL_USER": "", "OTHER": "1"}
    assert from_environment(env) == {"endpoints": "x:1", "cacert": "/ca"}
