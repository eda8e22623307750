"""Profiles end to end: saved with every kind of secret, used against real etcd, and no
secret anywhere in the application's files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
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
    assert out.returncode == 3, out.stdout + out.stderr  # the cluster refused us
    assert "authentication failed for user 'root'" in out.stderr
    nope = etcdmon("status", "--profile", "absent")
    assert nope.returncode == 2 and "no profile named 'absent' (known: s)" in nope.stderr


def tls_flags(pki: Path) -> list[str]:
    return [
        "--cacert",
        str(pki / "ca.pem"),
        "--cert",
        str(pki / "client.pem"),
        "--key",
        str(pki / "client-key.pem"),
    ]


def test_user_name_colon_password_goes_to_the_keyring_not_the_file(
    request: pytest.FixtureRequest,
    app_dirs: dict[str, Path],
    secure_cluster: tuple[Sandbox, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sandbox, pki = secure_cluster
    request.getfixturevalue("secret_service")
    monkeypatch.setenv("ETCDMON_SECRETS", "keyring")
    added = etcdmon(
        "profile", "add", "p", "--endpoints", sandbox.endpoints[0], *tls_flags(pki),
        "--user", f"root:{PASSWORD}",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    saved = yaml.safe_load((app_dirs["config"] / "etcdmon-gui" / "profiles.yaml").read_text())
    assert saved["profiles"][0]["username"] == "root"
    listed = etcdmon("profile", "list")
    assert listed.returncode == 0 and "user root" in listed.stdout, listed.stderr
    assert "secrets missing" not in listed.stdout
    shown = etcdmon("profile", "show", "p")
    assert json.loads(shown.stdout)["secrets"]["password"] == "stored"
    status = etcdmon("status", "--profile", "p", "--json")  # the password really is there
    assert status.returncode == 0, status.stderr
    outputs = [added, listed, shown, status]
    assert not [o.args for o in outputs if PASSWORD in o.stdout + o.stderr]
    assert scan(app_dirs, [PASSWORD]) == []
    twice = etcdmon(
        "profile", "edit", "p", "--user", "root:x", "--password-stdin", stdin="y\n"
    )  # fmt: skip
    assert twice.returncode == 2 and "give the password one way" in twice.stderr


def test_an_old_file_with_a_password_in_the_user_name_is_repaired(
    request: pytest.FixtureRequest,
    app_dirs: dict[str, Path],
    secure_cluster: tuple[Sandbox, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As older versions wrote `profile add --user root:PASSWORD`."""
    sandbox, pki = secure_cluster
    path = app_dirs["config"] / "etcdmon-gui" / "profiles.yaml"
    path.parent.mkdir(parents=True)
    old = {
        "name": "old",
        "endpoints": [sandbox.endpoints[0]],
        "username": f"root:{PASSWORD}",
        "tls": {
            "ca_file": str(pki / "ca.pem"),
            "cert_file": str(pki / "client.pem"),
            "key_file": str(pki / "client-key.pem"),
        },
    }
    path.write_text(yaml.safe_dump({"schema_version": 1, "profiles": [old]}))
    before = path.read_bytes()
    # Only a store that forgets at exit: nothing is moved, the file is left as it was.
    forgetful = etcdmon("profile", "list", "--secrets", "memory")
    assert forgetful.returncode == 1
    assert "profile old field 'username'" in forgetful.stderr
    assert "clear text" in forgetful.stderr and "--secrets encrypted-file" in forgetful.stderr
    unusable = etcdmon("status", "--profile", "old", "--secrets", "memory")
    assert unusable.returncode == 2 and "profile 'old' cannot be used" in unusable.stderr
    assert path.read_bytes() == before
    # With a real keyring: moved, the file rewritten, one warning naming the profile.
    request.getfixturevalue("secret_service")
    monkeypatch.setenv("ETCDMON_SECRETS", "keyring")
    listed = etcdmon("profile", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("old  https://") and "user root" in listed.stdout
    (warning,) = listed.stderr.splitlines()
    assert warning.startswith("etcdmon: WARNING: profile 'old': its password was in ")
    assert "now in SecretService" in warning
    assert yaml.safe_load(path.read_text())["profiles"][0]["username"] == "root"
    shown = etcdmon("profile", "show", "old")
    assert json.loads(shown.stdout)["secrets"] == {"password": "stored"}
    assert shown.stderr == ""  # nothing left to move
    status = etcdmon("status", "--profile", "old", "--json")
    assert status.returncode == 0, status.stderr
    outputs = [forgetful, unusable, listed, shown, status]
    assert not [o.args for o in outputs if PASSWORD in o.stdout + o.stderr]
    assert scan(app_dirs, [PASSWORD]) == []


def test_a_password_given_as_pw_is_in_no_file(
    app_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's own words: `--user root:pw`, and an old file with `username: root:pw`."""
    monkeypatch.setenv("ETCDMON_SECRETS", "encrypted-file")
    monkeypatch.setenv("ETCDMON_MASTER_PASSWORD", "master-of-secrets")
    config = app_dirs["config"]
    added = etcdmon("profile", "add", "new", "--endpoints", "127.0.0.1:2379", "--user", "root:pw")
    assert added.returncode == 0, added.stderr
    path = config / "etcdmon-gui" / "profiles.yaml"
    path.write_text(path.read_text() + "- name: old\n  endpoints: [a:1]\n  username: root:pw\n")
    outputs = [etcdmon("profile", "list"), etcdmon("profile", "show", "old")]
    outputs += [etcdmon("profile", "show", "new"), etcdmon("profile", "list", "--json")]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    assert not [o.args for o in [added, *outputs] if "root:pw" in o.stdout + o.stderr]
    assert [p for p in config.rglob("*") if p.is_file() and b"pw" in p.read_bytes()] == []
    listed = json.loads(outputs[-1].stdout)
    assert {p["name"]: p["secrets"] for p in listed} == {
        "new": {"password": "stored"},
        "old": {"password": "stored"},
    }


def test_list_and_show_flag_profiles_whose_secrets_are_missing(
    app_dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETCDMON_SECRETS", "encrypted-file")
    monkeypatch.setenv("ETCDMON_MASTER_PASSWORD", "master-of-secrets")
    ep = "127.0.0.1:2379"
    for name, extra, stdin in (
        ("kept", ["--user", "root", "--password-stdin"], "pa55\n"),
        ("lost", ["--user", "root"], ""),  # a user, no password stored
        ("open", [], ""),
    ):
        added = etcdmon("profile", "add", name, "--endpoints", ep, *extra, stdin=stdin)
        assert added.returncode == 0, added.stderr
    listed = etcdmon("profile", "list")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [
        f"kept  {ep}  user root",
        f"lost  {ep}  user root  (secrets missing: password)",
        f"open  {ep}",
    ]
    assert "secrets of lost are not in encrypted file" in listed.stderr
    shown = etcdmon("profile", "show", "lost")
    assert json.loads(shown.stdout)["secrets"] == {"password": "missing"}
    # After a restart without the store that has them (no OS keyring): both flagged.
    elsewhere = etcdmon("profile", "list", "--secrets", "memory")
    assert elsewhere.stdout.count("(secrets missing: password)") == 2
    assert "secrets of kept, lost are not in memory (this session only)" in elsewhere.stderr
    assert "--secrets" in elsewhere.stderr and "pa55" not in elsewhere.stdout + elsewhere.stderr


PYDANTIC_WORDING = ("Input should", "should have", "after validation", "Value error")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["add", "", "--endpoints", ""],
            [
                "NAME: a profile needs a name",
                "--endpoints: a profile needs at least one endpoint, e.g. host:2379",
            ],
        ),
        (["add", "p", "--endpoints", ","], ["--endpoints: a profile needs at least one endpoint"]),
        (["add", "x" * 101, "--endpoints", "a:1"], ["NAME: a name has at most 100 characters"]),
        (["add", " p", "--endpoints", "a:1"], ["NAME: a name has no leading or trailing"]),
        (["add", "p", "--endpoints", "ftp://x:1"], ["--endpoints: bad endpoint 'ftp://x:1'"]),
        (["add", "p", "--endpoints", "a:1", "--interval", "0"], ["--interval: the poll interval"]),
        (["add", "p", "--endpoints", "a:1", "--interval", "61"], ["from 1 to 60, not 61"]),
        (["add", "p", "--endpoints", "a:1", "--timeout", "0"], ["--timeout: the call deadline"]),
        (["add", "p", "--endpoints", "a:1", "--timeout", "61"], ["at most 60, not 61.0"]),
        (["add", "p", "--endpoints", "a:1", "--tag", " eu"], ["--tag: tag 'eu' has leading"]),
        (["add", "p", "--endpoints", "a:1", "--tag", ""], ["--tag: a tag cannot be empty"]),
        (["add", "p", "--endpoints", "a:1", "--cert", "c.pem"], ["--cacert/--cert/--key: a"]),
        (["add", "p", "--endpoints", "a:1", "--user", ":pw"], ["a password needs a user"]),
    ],
)
def test_profile_problems_are_said_in_the_users_words(
    app_dirs: dict[str, Path], argv: list[str], expected: list[str]
) -> None:
    out = etcdmon("profile", *argv, "--secrets", "memory")
    assert out.returncode == 2
    for line in expected:
        assert line in out.stderr, out.stderr
    assert not any(w in out.stderr for w in PYDANTIC_WORDING), out.stderr
    assert "Traceback" not in out.stderr and "pw" not in out.stderr
    assert not (app_dirs["config"] / "etcdmon-gui" / "profiles.yaml").exists()


def test_edit_says_what_is_wrong_and_keeps_the_profile(app_dirs: dict[str, Path]) -> None:
    assert etcdmon("profile", "add", "p", "--endpoints", "a:1").returncode == 0
    path = app_dirs["config"] / "etcdmon-gui" / "profiles.yaml"
    before = path.read_bytes()
    out = etcdmon("profile", "edit", "p", "--rename", "", "--interval", "0", "--endpoints", "")
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        "etcdmon: the profile was not saved:",
        "  --rename: a profile needs a name",
        "  --endpoints: a profile needs at least one endpoint, e.g. host:2379",
        "  --interval: the poll interval is a whole number of seconds from 1 to 60, not 0",
    ]
    assert path.read_bytes() == before


@pytest.mark.parametrize("backend", ["secret-service", "encrypted-file"])
def test_password_stdin_with_a_profile_whose_tls_is_in_the_keyring(
    request: pytest.FixtureRequest,
    backend: str,
    app_dirs: dict[str, Path],
    secure_cluster: tuple[Sandbox, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: `--profile P --password-stdin` swapped in a memory-only store, so the
    TLS material imported with --import-tls was "not in the keyring"."""
    sandbox, pki = secure_cluster
    if backend == "secret-service":
        request.getfixturevalue("secret_service")
        monkeypatch.setenv("ETCDMON_SECRETS", "keyring")
    else:
        monkeypatch.setenv("ETCDMON_SECRETS", "encrypted-file")
        monkeypatch.setenv("ETCDMON_MASTER_PASSWORD", "master-of-secrets")
    added = etcdmon(
        "profile", "add", "imported", "--endpoints", sandbox.endpoints[0], *tls_flags(pki),
        "--import-tls", "--user", "root", "--password-stdin", stdin="not-the-password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    for pem in pki.glob("client*.pem"):  # only the keyring has them now
        pem.rename(pem.with_suffix(".moved"))
    status = etcdmon("status", "--profile", "imported", "--password-stdin", stdin=PASSWORD + "\n")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("cluster ") and "HEALTHY" in status.stdout.splitlines()[0]
    # Without --password-stdin the stored (wrong) password is used: refused, as it should.
    stored = etcdmon("status", "--profile", "imported")
    assert stored.returncode == 3 and "authentication failed" in stored.stderr
    # The one-off password was not stored.
    again = etcdmon("status", "--profile", "imported")
    assert again.returncode == 3


def test_a_broken_or_unreadable_profiles_file_is_named(app_dirs: dict[str, Path]) -> None:
    """Issue 15: `--profile good` answered "no profile named 'good'"."""
    path = app_dirs["config"] / "etcdmon-gui" / "profiles.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("schema_version: 1\nprofiles:\n- {name: good, endpoints: [a:1]\n")
    broken = etcdmon("status", "--profile", "good")
    assert broken.returncode == 2
    assert broken.stderr.startswith(
        f"etcdmon: profile 'good' cannot be looked up: {path}, line 4: not valid YAML"
    ), broken.stderr
    path.unlink()
    path.mkdir()
    unreadable = etcdmon("status", "--profile", "good")
    assert unreadable.returncode == 2
    assert unreadable.stderr == (
        f"etcdmon: profile 'good' cannot be looked up: {path}: cannot read: Is a directory\n"
    )


def test_a_huge_profiles_file_is_refused_quickly(app_dirs: dict[str, Path]) -> None:
    """Issue 15: 100,000 profiles (5 MB) took 35 s and 950 MB to list."""
    path = app_dirs["config"] / "etcdmon-gui" / "profiles.yaml"
    path.parent.mkdir(parents=True)
    entries = (
        f"- {{name: p{i}, endpoints: ['10.0.{i // 256 % 256}.{i % 256}:2379']}}"
        for i in range(100_000)
    )
    path.write_text("schema_version: 1\nprofiles:\n" + "\n".join(entries) + "\n")
    started = time.monotonic()
    listed = etcdmon("profile", "list")
    assert time.monotonic() - started < 10
    assert listed.returncode == 1 and listed.stdout == ""
    assert listed.stderr.startswith(f"etcdmon: {path}: too large for a profiles file (")
    assert "at most 1.0 MB" in listed.stderr and len(listed.stderr.splitlines()) == 1
    used = etcdmon("status", "--profile", "p1")
    assert used.returncode == 2 and "too large for a profiles file" in used.stderr


def test_names_with_bidi_controls_are_refused_and_never_printed_raw(
    app_dirs: dict[str, Path],
) -> None:
    """Issue 15: a name with U+202E (RIGHT-TO-LEFT OVERRIDE) was printed raw, so
    `prod\u202eved-` showed as `prod-dev`."""
    name = "prod\u202eved-"
    out = etcdmon("profile", "add", name, "--endpoints", "a:1")
    assert out.returncode == 2
    assert out.stderr == (
        "etcdmon: NAME: a name has a character that is not shown as itself (U+202E "
        "RIGHT-TO-LEFT OVERRIDE): it could make the text display as something else; type "
        "it again without it\n"
    )
    path = app_dirs["config"] / "etcdmon-gui" / "profiles.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "schema_version: 1\nprofiles:\n- {name: ok, endpoints: [a:1]}\n"
        f'- {{name: "{name}", endpoints: [a:1]}}\n',
        encoding="utf-8",
    )
    listed = etcdmon("profile", "list")
    assert listed.returncode == 1 and listed.stdout == "ok  a:1\n"
    assert "\u202e" not in listed.stderr
    assert "profile prod\\u202eved-" in listed.stderr and "U+202E" in listed.stderr
    shown = etcdmon("status", "--profile", name)
    assert shown.returncode == 2 and "\u202e" not in shown.stderr
