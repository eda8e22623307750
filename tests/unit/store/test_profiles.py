"""Profiles on disk: validation with locations, migrations, atomic and careful saves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcdmon_gui.model.profile import Profile, TLSSettings
from etcdmon_gui.store import profiles as mod
from etcdmon_gui.store.profiles import (
    ProfileStore,
    ProfileStoreError,
    export_profiles,
    parse_document,
    secret_fields,
)


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(tmp_path / "cfg" / "profiles.yaml")


def test_round_trip_and_file_mode(store: ProfileStore) -> None:
    prod = Profile(
        name="prod",
        endpoints=["https://10.0.0.1:2379", "10.0.0.2:2379"],
        username="root",
        tags=["production"],
        poll_interval_s=10,
        tls=TLSSettings(
            ca_file="/etc/etcd/ca.pem",
            cert_in_keyring=True,
            key_in_keyring=True,
            server_name="etcd.internal",
            insecure_skip_verify=True,
        ),
    )
    store.add(prod)
    store.add(Profile(name="dev", endpoints=["127.0.0.1:2379"]))
    loaded = store.load()
    assert loaded.clean
    assert loaded.profiles[0] == prod and loaded.profiles[0].production
    assert [p.name for p in loaded.profiles] == ["prod", "dev"]
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert yaml.safe_load(store.path.read_text())["schema_version"] == mod.SCHEMA_VERSION


def test_each_problem_names_file_profile_field_and_line(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(
        "schema_version: 1\n"
        "profiles:\n"
        "- name: good\n"
        "  endpoints: [127.0.0.1:2379]\n"
        "- name: bad\n"
        "  endpoints: [ftp://x:1]\n"
        "  colour: red\n"
        "  poll_interval_s: many\n"
    )
    result = store.load()
    assert [p.name for p in result.profiles] == ["good"]  # the others still load
    by_field = {p.field: p for p in result.problems}
    assert by_field["endpoints"].line == 6 and by_field["endpoints"].profile == "bad"
    assert "scheme 'ftp' is not http or https" in by_field["endpoints"].message
    assert by_field["colour"].line == 7 and "unknown field" in by_field["colour"].message
    assert by_field["poll_interval_s"].line == 8
    assert str(by_field["colour"]).startswith(f"{store.path}, line 7: profile bad field 'colour'")


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("schema_version: 1\nprofiles: [\n", "not valid YAML", 3),
        ("- just\n- a list\n", "expected a mapping", 1),
        ("schema_version: 7\nprofiles: []\n", "written by a newer etcdmon-gui", 1),
        ("schema_version: one\n", "schema_version must be a whole number", 1),
        ("schema_version: 1\nprofiles: {}\n", "valid list", 2),
        (
            "schema_version: 1\nprofiles:\n- name: a\n  endpoints: [a:1]\n- name: a\n"
            "  endpoints: [b:1]\n",
            "another profile already has this name",
            5,
        ),
    ],
)
def test_malformed_files_are_explained_and_never_overwritten(
    store: ProfileStore, text: str, message: str, line: int
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(text)
    problems = store.load().problems
    assert problems and message in problems[0].message and problems[0].line == line
    with pytest.raises(ProfileStoreError, match="left untouched"):
        store.add(Profile(name="new", endpoints=["x:1"]))
    assert store.path.read_text() == text


def test_version_0_is_migrated(store: ProfileStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(
        "schema_version: 0\nprofiles:\n- name: old\n  user: root\n  endpoints: a:1, b:2\n"
    )
    (profile,) = store.load().profiles
    assert profile.username == "root" and profile.endpoints == ["a:1", "b:2"]


def test_a_failed_write_leaves_the_old_file(
    store: ProfileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add(Profile(name="keep", endpoints=["a:1"]))
    before = store.path.read_bytes()

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space"):
        store.add(Profile(name="more", endpoints=["b:1"]))
    assert store.path.read_bytes() == before
    assert os.listdir(store.path.parent) == ["profiles.yaml"]  # no temp file left behind


def test_edit_rename_remove(store: ProfileStore) -> None:
    store.add(Profile(name="a", endpoints=["a:1"]))
    store.add(Profile(name="b", endpoints=["b:1"]))
    a = store.get("a")
    store.replace("a", a.model_copy(update={"name": "c"}))
    with pytest.raises(ProfileStoreError, match="already exists"):
        store.replace("c", a.model_copy(update={"name": "b"}))
    assert store.remove("c").id == a.id
    with pytest.raises(ProfileStoreError, match=r"no profile named 'zz' \(known: b\)"):
        store.get("zz")


def test_export_has_no_secrets_and_lists_what_to_reenter() -> None:
    p = Profile(
        name="prod", endpoints=["a:1"], username="root", tls=TLSSettings(ca_in_keyring=True)
    )
    assert secret_fields(p) == ["password", "tls_ca"]
    text = export_profiles([p])
    assert "#   prod: password, tls_ca" in text
    assert parse_document(text, "export").profiles == [p]


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=300).map(str.encode),
        st.builds(
            lambda t: f"schema_version: 1\nprofiles:\n- {t}\n".encode(), st.text(max_size=80)
        ),
    )
)
def test_any_content_loads_without_raising_and_bad_content_is_never_overwritten(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "fuzz" / "profiles.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    store = ProfileStore(path)
    result = store.load()  # never raises
    if result.clean:
        return
    with pytest.raises(ProfileStoreError):
        store.add(Profile(name="x", endpoints=["x:1"]))
    assert path.read_bytes() == data
