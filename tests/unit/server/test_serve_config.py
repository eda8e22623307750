"""``etcdmon serve``'s configuration: what it accepts, and refusals that name the file,
the line, the field and the reason (or the flag that gave the value)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdmon_gui.model.postgres import PgSettings
from etcdmon_gui.server.clusters import read_token
from etcdmon_gui.server.config import ServeConfigError, is_loopback, load_config

EXAMPLE = Path(__file__).parents[3] / "packaging" / "serve" / "etcdmon-serve.example.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "serve.yaml"
    path.write_text(text)
    return path


def refusal(path: Path | None, flags: dict[str, object] | None = None) -> str:
    with pytest.raises(ServeConfigError) as info:
        load_config(path, flags)
    return str(info.value)


def test_defaults_and_the_example() -> None:
    config = load_config(None)
    assert (config.host, config.port, config.interval, config.retry_for) == (
        "127.0.0.1",
        9479,
        5.0,
        86_400.0,
    )
    assert config.loopback and not config.tls and config.clusters.profiles == "all"
    assert load_config(EXAMPLE) == config  # the example shows the defaults


def test_a_full_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
host: 0.0.0.0
port: 8443
token_file: secret/token
tls_cert: tls/cert.pem
tls_key: /abs/key.pem
log_format: json
log_level: WARNING
interval: 30s
retry_for: 2h
channels: [oncall]
clusters:
  profiles: [prod, staging]
  endpoints:
    - name: lab
      endpoints: 10.0.0.1:2379,10.0.0.2:2379
      cacert: ca.pem
      tags: [production]
history:
  postgres: {host: db.example.org, dbname: etcd, password_file: pgpass}
allow_production_benchmarks: true
""",
    )
    config = load_config(path)
    assert config.token_file == tmp_path / "secret/token"  # relative to the file's folder
    assert config.tls_key == Path("/abs/key.pem") and config.tls_cert == tmp_path / "tls/cert.pem"
    assert not config.loopback and config.tls and config.log_level == "warning"
    assert (config.interval, config.retry_for) == (30.0, 7200.0)
    lab = config.clusters.endpoints[0]
    assert lab.endpoints == ["10.0.0.1:2379", "10.0.0.2:2379"] and lab.cacert == tmp_path / "ca.pem"
    pg = config.history.postgres
    assert pg is not None and pg.password_file == tmp_path / "pgpass"
    assert isinstance(pg.target(), PgSettings) and pg.target().where.endswith("/etcd")


def test_refusals_name_the_file_the_line_and_the_field(tmp_path: Path) -> None:
    path = write(tmp_path, "port: 9479\ninterval: 2 minutes\nclusters:\n  profile: [a]\n")
    text = refusal(path)
    lines = text.splitlines()
    assert lines[0].startswith(f"{path}, line 2: interval: ") and "e.g. 5s" in lines[0]
    assert (
        lines[1]
        == f"{path}, line 4: clusters.profile: not a setting etcdmon serve knows (misspelt?)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("port: 70000\n", "line 1: port: Input should be less than or equal to 65535"),
        ("interval: 0.5s\n", "interval: '0.5s': give a duration from 1s to 1h"),
        ("log_format: xml\n", "log_format: Input should be 'text' or 'json'"),
        ("tls_cert: c.pem\n", "HTTPS needs both tls_cert and tls_key"),
        ("clusters:\n  endpoints:\n  - name: x\n    endpoints: 'http//bad'\n", "line 4"),
        ("clusters:\n  endpoints:\n  - {name: 'a b', endpoints: [h:1]}\n", "name: String should"),
        ("history: {sqlite: a, postgres: {dsn: x}}\n", "give sqlite or postgres, not both"),
        (
            "history:\n  postgres:\n    dsn: postgresql://u:hunter2@db/etcdmon\n",
            "line 3: history.postgres.dsn: the DSN holds a password",
        ),
        ("history: {postgres: {dbname: x}}\n", "give dsn, or host"),
        ("- a list\n", "line 1: expected a mapping"),
        ("port: [1\n", "not valid YAML"),
    ],
)
def test_refusals(tmp_path: Path, text: str, expected: str) -> None:
    message = refusal(write(tmp_path, text))
    assert expected in message and str(tmp_path) in message
    assert "hunter2" not in message


def test_flags_override_the_file_and_say_so(tmp_path: Path) -> None:
    path = write(tmp_path, "port: 1000\ninterval: 10s\nhistory: {keep_raw: 48h}\n")
    config = load_config(path, {"port": 2000, "history": {"sqlite": "/tmp/h.sqlite"}})
    assert config.port == 2000 and config.interval == 10.0
    assert config.history.sqlite == Path("/tmp/h.sqlite") and config.history.keep_raw == "48h"
    assert refusal(path, {"interval": "fast"}).startswith("--interval: interval: 'fast'")
    assert refusal(None, {"port": 0}).startswith("--port/--listen: port:")


def test_a_missing_file(tmp_path: Path) -> None:
    assert "no such file" in refusal(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("db", False)],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_token_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("0123456789abcdef-token\n")
    token.chmod(0o644)
    with pytest.raises(ServeConfigError, match="chmod 600"):
        read_token(token)
    token.chmod(0o600)
    assert read_token(token) == "0123456789abcdef-token"
    token.write_text("short")
    with pytest.raises(ServeConfigError, match="at least 16"):
        read_token(token)
    with pytest.raises(ServeConfigError, match="no such file"):
        read_token(tmp_path / "missing")
