"""``etcdmon serve``'s secret files (the token, an etcd password, the PostgreSQL
password) under one rule, the PostgreSQL TLS warning, and the 403 a read gets when no
token is configured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.server.api import Auth, create_app
from etcdmon_gui.server.clusters import postgres_tls_warning, read_token, resolve
from etcdmon_gui.server.config import Postgres, ServeConfigError, load_config
from etcdmon_gui.store.history.postgres import read_password_file
from etcdmon_gui.store.secret_file import SecretFileError, read_secret_file

TOKEN = "0123456789abcdef-token"


def secret(tmp_path: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    monkeypatch.delenv("ETCDMON_PROFILES", raising=False)
    for name in ("PGHOST", "PGHOSTADDR", "PGSSLMODE"):
        monkeypatch.delenv(name, raising=False)


def config_with(tmp_path: Path, **fields: object) -> dict[str, object]:
    return {
        "secrets": "memory",
        "channels": "none",
        "clusters": {"profiles": [], "endpoints": []},
        "history": {"sqlite": str(tmp_path / "h.sqlite")},
        **fields,
    }


def test_one_rule_first_line_without_spaces_around_it(tmp_path: Path) -> None:
    assert read_secret_file(secret(tmp_path, "a", " pass word \nsecond\n"), "x") == "pass word"
    assert read_secret_file(secret(tmp_path, "b", "pw\r\n"), "x") == "pw"
    assert read_secret_file(secret(tmp_path, "c", "pw"), "x") == "pw"
    for text in ("", "\n", "\npw\n"):
        with pytest.raises(SecretFileError, match="first line is empty"):
            read_secret_file(secret(tmp_path, "d", text), "x")
    with pytest.raises(SecretFileError, match="no such file"):
        read_secret_file(tmp_path / "missing", "x")


@pytest.mark.parametrize("mode", [0o604, 0o602, 0o644])
def test_every_secret_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    text = "pw-0123456789abcdef\n"
    token = secret(tmp_path, "token", text, mode)
    with pytest.raises(ServeConfigError, match="chmod 600") as info:
        read_token(token)
    assert "pw-0123" not in str(info.value)
    etcd = secret(tmp_path, "etcd-pw", text, mode)
    lab = {"name": "lab", "endpoints": "127.0.0.1:1", "user": "root", "password_file": str(etcd)}
    flags = config_with(tmp_path, clusters={"profiles": [], "endpoints": [lab]})
    with pytest.raises(ServeConfigError, match=r"cluster 'lab': password file .*chmod 600"):
        resolve(load_config(None, flags))
    pg = secret(tmp_path, "pg-pw", text, mode)
    history = {"postgres": {"host": "127.0.0.1", "password_file": str(pg)}}
    with pytest.raises(ServeConfigError, match=r"PostgreSQL password file .*chmod 600"):
        resolve(load_config(None, config_with(tmp_path, history=history)))
    with pytest.raises(HistoryError, match="chmod 600"):
        read_password_file(pg)


def test_private_secret_files_are_read_and_a_group_reader_is_noted(tmp_path: Path) -> None:
    token = secret(tmp_path, "token", TOKEN + "\n", 0o640)
    etcd = secret(tmp_path, "etcd-pw", "etcd pw\n")
    pg = secret(tmp_path, "pg-pw", "pg pw\nignored\n", 0o640)
    lab = {"name": "lab", "endpoints": "127.0.0.1:1", "user": "root", "password_file": str(etcd)}
    resolved = resolve(
        load_config(
            None,
            config_with(
                tmp_path,
                token_file=str(token),
                clusters={"profiles": [], "endpoints": [lab]},
                history={"postgres": {"host": "127.0.0.1", "password_file": str(pg)}},
            ),
        )
    )
    assert resolved.token == TOKEN
    assert resolved.targets[0].config.password == "etcd pw"
    assert read_password_file(pg) == "pg pw"
    assert [n.split(":")[0] for n in resolved.notes] == [
        f"token file {token}",
        f"PostgreSQL password file {pg}",
    ]
    assert all("chmod 600" in n for n in resolved.notes)


def test_a_token_is_one_word_of_16_characters(tmp_path: Path) -> None:
    assert read_token(secret(tmp_path, "t", TOKEN + "\nsecond line\n")) == TOKEN
    for text in ("short\n", "0123456789 abcdef-token\n"):
        with pytest.raises(ServeConfigError, match="at least 16 characters without spaces"):
            read_token(secret(tmp_path, "t", text))


@pytest.mark.parametrize(
    ("fields", "warned"),
    [
        ({"host": "db.example.org"}, True),
        ({"host": "10.0.0.5", "sslmode": "require"}, True),
        ({"host": "db.example.org", "sslmode": "verify-full", "sslrootcert": "ca.pem"}, False),
        ({"host": "127.0.0.1"}, False),
        ({"host": "::1"}, False),
        ({"host": "localhost"}, False),
        ({"host": "/var/run/postgresql"}, False),
        ({"dsn": "host=db.example.org dbname=etcd user=etcdmon"}, True),
        ({"dsn": "postgresql://etcdmon@db.example.org/etcd?sslmode=verify-full"}, False),
        ({"dsn": "postgresql://etcdmon@localhost/etcd"}, False),
        ({"dsn": "dbname=etcd"}, False),  # libpq's default: the unix socket
    ],
)
def test_postgres_beyond_loopback_without_verify_full_is_warned(
    fields: dict[str, str], warned: bool
) -> None:
    warning = postgres_tls_warning(Postgres.model_validate(fields))
    if warned:
        assert warning is not None
        assert "verify-full" in warning and "sslrootcert" in warning and "password" in warning
    else:
        assert warning is None
    assert postgres_tls_warning(None) is None


def test_a_read_without_a_configured_token_is_not_called_a_change() -> None:
    app = create_app(object(), Auth(None, loopback=False), lambda: (b"", "text/plain"))  # type: ignore[arg-type]

    async def go(method: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
            return await c.request(method, "/api/v1/clusters")

    read = asyncio.run(go("GET"))
    assert read.status_code == 403
    assert "changes" not in read.json()["detail"] and "--token-file" in read.json()["detail"]
    change = asyncio.run(go("POST"))
    assert change.status_code == 403 and "changes" in change.json()["detail"]
