"""Profiles end to end: saved with every kind of secret, used against real etcd, and no
secret anywhere in the application's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from pyetcd import etcdrpc

from etcdmon_gui.etcd.sandbox import Sandbox
from tests.pki import Pki

PASSWORD = "Pr0file-pa55word"  # a throwaway test secret


@pytest.fixture
def app_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    dirs = {name: tmp_path / name for name in ("config", "data", "state", "cache")}
    for name, path in dirs.items():
        monkeypatch.setenv(f"XDG_{name.upper()}_HOME", str(path))
    monkeypatch.delenv("ETCDMON_PROFILES", raising=False)
    return dirs


@pytest.fixture
def secure_cluster(etcd_binary: Path, tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    """One TLS member requiring client certs, with auth enabled (root / PASSWORD)."""
    pki_dir = tmp_path / "pki"
    pki_dir.mkdir()
    pki = Pki.create(pki_dir)
    ca, client = pki.ca, pki.client
    tls = pki.sandbox_tls()
    with Sandbox(1, binary=etcd_binary, tls=tls) as sandbox:
        creds = grpc.ssl_channel_credentials(
            ca.cert_pem.bytes(), client.private_key_pem.bytes(), client.cert_chain_pems[0].bytes()
        )
        with grpc.secure_channel(sandbox.endpoints[0][8:], creds) as ch:
            auth = etcdrpc.AuthStub(ch)
            auth.UserAdd(etcdrpc.AuthUserAddRequest(name="root", password=PASSWORD), timeout=5)
            auth.UserGrantRole(
                etcdrpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=5
            )
            auth.AuthEnable(etcdrpc.AuthEnableRequest(), timeout=5)
        yield sandbox, pki_dir


def etcdmon(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )


def key_body(pem: Path) -> str:
    """A line from the middle of a PEM private key: what a leak would contain."""
    return pem.read_text().splitlines()[1]


def scan(dirs: dict[str, Path], secrets: list[str]) -> list[str]:
    found = []
    for root in dirs.values():
        for path in root.rglob("*") if root.exists() else ():
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path}: {s[:6]}…" for s in secrets if s.encode() in data]
    return found


@pytest.mark.parametrize("backend", ["secret-service", "encrypted-file"])
def test_profile_with_every_secret_connects_and_leaks_nothing(
    request: pytest.FixtureRequest,
    backend: str,
    app_dirs: dict[str, Path],
    secure_cluster: tuple[Sandbox, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, pki = secure_cluster
    if backend == "secret-service":
        request.getfixturevalue("secret_service")
        monkeypatch.setenv("ETCDMON_SECRETS", "keyring")
    else:
        monkeypatch.setenv("ETCDMON_SECRETS", "encrypted-file")
        monkeypatch.setenv("ETCDMON_MASTER_PASSWORD", "master-of-secrets")
    added = etcdmon(
        "profile",
        "add",
        "secure",
        "--endpoints",
        sandbox.endpoints[0],
        "--cacert",
        str(pki / "ca.pem"),
        "--cert",
        str(pki / "client.pem"),
        "--key",
        str(pki / "client-key.pem"),
        "--import-tls",
        "--user",
        "root",
        "--password-stdin",
        "--tag",
        "production",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    # The imported files may go; the profile no longer needs them.
    (pki / "client-key.pem").rename(pki / "moved-key.pem")

    status = etcdmon("status", "--profile", "secure", "--json")
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["verdict"] == "healthy" and doc["members"][0]["reachable"]

    shown = json.loads(etcdmon("profile", "show", "secure").stdout)
    assert shown["secrets"] == {
        "password": "stored",
        "tls_ca": "stored",
        "tls_cert": "stored",
        "tls_key": "stored",
    }
    exported = etcdmon("profile", "export")
    assert "secure: password, tls_ca, tls_cert, tls_key" in exported.stdout

    secrets = [PASSWORD, key_body(pki / "moved-key.pem")]
    outputs = status.stdout + status.stderr + exported.stdout + json.dumps(shown)
    assert not [s for s in secrets if s in outputs]
    assert scan(app_dirs, secrets) == []
    assert (app_dirs["config"] / "etcdmon-gui" / "profiles.yaml").exists()


def test_wrong_stored_password_and_missing_profile(
    app_dirs: dict[str, Path],
    secure_cluster: tuple[Sandbox, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, pki = secure_cluster
    monkeypatch.setenv("ETCDMON_SECRETS", "encrypted-file")
    monkeypatch.setenv("ETCDMON_MASTER_PASSWORD", "m")
    assert (
        etcdmon(
            "profile",
            "add",
            "s",
            "--endpoints",
            sandbox.endpoints[0],
            "--cacert",
            str(pki / "ca.pem"),
            "--cert",
            str(pki / "client.pem"),
            "--key",
            str(pki / "client-key.pem"),
            "--user",
            "root",
            "--password-stdin",
            stdin="wrong\n",
        ).returncode
        == 0
    )
    out = etcdmon("status", "--profile", "s")
    assert out.returncode == 2
    assert "authentication failed for user 'root'" in out.stderr
    nope = etcdmon("status", "--profile", "absent")
    assert nope.returncode == 2 and "no profile named 'absent' (known: s)" in nope.stderr
