"""Sharing profiles: the import and export the CLI and the profile manager share
(``ProfileStore.import_file``/``import_text``, ``export_file``, ``read_import``), and
``etcdmon profile import/export`` on top of them, in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from etcdmon_gui.cli import main as cli_main
from etcdmon_gui.model.profile import Profile, TLSSettings
from etcdmon_gui.store.profiles import (
    MAX_FILE_BYTES,
    ProfileSettings,
    ProfileStore,
    ProfileStoreError,
    export_profiles,
    read_import,
)
from etcdmon_gui.store.secrets import SecretStore, secrets_file_path
from etcdmon_gui.store.settings import ImportClash, ImportRefused

SECRET = "imp0rt-Pa55word"  # a throwaway test secret


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(tmp_path / "cfg" / "profiles.yaml")


def team() -> list[Profile]:
    return [
        Profile(name="staging", endpoints=["10.0.0.1:2379"], username="root", tags=["eu"]),
        Profile(
            name="prod",
            endpoints=["https://10.0.1.1:2379"],
            tags=["production"],
            tls=TLSSettings(ca_file="/etc/etcd/ca.pem", key_in_keyring=True, cert_in_keyring=True),
        ),
    ]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_an_import_adds_every_profile_and_names_the_secrets_to_enter(
    store: ProfileStore, tmp_path: Path
) -> None:
    store.add(Profile(name="dev", endpoints=["127.0.0.1:2379"]))
    theirs = team()
    source = write(tmp_path / "team.yaml", export_profiles(theirs))
    result = store.import_file(source)
    assert result.added == ("staging", "prod") and result.replaced == () and result.count == 2
    assert result.needs == {"staging": ("password",), "prod": ("tls_cert", "tls_key")}
    assert result.source == str(source) and result.path == str(store.path)
    assert result.notices == () and result.dropped_ids == ()
    loaded = store.load()
    assert loaded.clean and [p.name for p in loaded.profiles] == ["dev", "staging", "prod"]
    assert loaded.profiles[1:] == theirs  # ids included: their secrets' keys


def test_a_clash_imports_nothing_unless_replacing_and_a_replaced_one_keeps_its_place(
    store: ProfileStore, tmp_path: Path
) -> None:
    mine = [
        Profile(name="prod", endpoints=["10.9.9.9:2379"]),
        Profile(name="dev", endpoints=["127.0.0.1:2379"]),
    ]
    store.save(mine)
    before = store.path.read_bytes()
    theirs = team()
    source = write(tmp_path / "team.yaml", export_profiles(theirs))
    with pytest.raises(ImportClash) as info:
        store.import_file(source)
    assert info.value.names == ["prod"] and str(info.value) == "profiles already exist: prod"
    assert store.path.read_bytes() == before

    result = store.import_file(source, replace=True)
    assert result.added == ("staging",) and result.replaced == ("prod",)
    assert result.dropped_ids == (mine[0].id,)  # the new "prod" came with its own id
    loaded = store.load().profiles
    assert [p.name for p in loaded] == ["prod", "dev", "staging"]
    assert loaded[0] == theirs[1] and loaded[0].endpoints == ["https://10.0.1.1:2379"]


def test_the_same_export_under_other_names_gets_new_ids(
    store: ProfileStore, tmp_path: Path
) -> None:
    original = team()
    store.save(original)
    renamed = [p.model_copy(update={"name": f"{p.name}-2"}) for p in original]
    result = store.import_text(export_profiles(renamed), "copy.yaml")
    assert result.added == ("staging-2", "prod-2")
    ids = [p.id for p in store.load().profiles]
    assert len(set(ids)) == 4 and ids[:2] == [p.id for p in original]


def test_re_importing_ones_own_export_with_replace_keeps_ids_and_secrets(
    store: ProfileStore, tmp_path: Path
) -> None:
    secrets = SecretStore.memory()
    settings = ProfileSettings(store, secrets)
    store.save(team())
    staging = store.get("staging")
    secrets.set(staging.id, "password", SECRET)
    exported = tmp_path / "out" / "profiles.yaml"
    assert settings.export_file(str(exported), []) == 2
    result = settings.import_file(str(exported), True)
    assert result.replaced == ("staging", "prod") and result.dropped_ids == ()
    assert secrets.get(staging.id, "password") == SECRET


def test_the_settings_import_drops_the_secrets_of_a_replaced_profile(
    store: ProfileStore, tmp_path: Path
) -> None:
    secrets = SecretStore.memory()
    old = Profile(name="staging", endpoints=["10.0.0.9:2379"], username="admin")
    store.save([old])
    secrets.set(old.id, "password", SECRET)
    source = write(tmp_path / "team.yaml", export_profiles(team()))
    result = ProfileSettings(store, secrets).import_file(str(source), True)
    assert result.dropped_ids == (old.id,)
    assert secrets.present(old.id) == []
    assert store.get("staging").id != old.id


def test_the_cli_import_drops_the_secrets_of_a_replaced_profile_too(
    store: ProfileStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETCDMON_MASTER_PASSWORD", "cli-master-1")
    old = Profile(name="staging", endpoints=["10.0.0.9:2379"], username="admin")
    store.save([old])
    SecretStore.encrypted_file(secrets_file_path(), "cli-master-1").set(old.id, "password", SECRET)
    source = write(tmp_path / "team.yaml", export_profiles(team()))
    opts = ["--profiles-file", str(store.path), "--secrets", "encrypted-file"]
    assert cli_main(["profile", "import", str(source), "--replace", *opts]) == 0
    fresh = SecretStore.encrypted_file(secrets_file_path(), "cli-master-1")
    assert fresh.present(old.id) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schema_version: 1\nprofiles:\n- name: a\n  endpoints: [x:1\n", "not valid YAML"),
        ("schema_version: 1\nprofiles:\n- name: a\n  endpoints: []\n", "field 'endpoints'"),
        ("schema_version: 99\nprofiles: []\n", "written by a newer etcdmon-gui"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_a_malformed_file_imports_nothing_and_says_where(
    store: ProfileStore, tmp_path: Path, text: str, expected: str
) -> None:
    store.save([Profile(name="dev", endpoints=["127.0.0.1:2379"])])
    before = store.path.read_bytes()
    source = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ImportRefused) as info:
        store.import_file(source)
    assert not isinstance(info.value, ImportClash)
    message = str(info.value)
    assert message.startswith(f"nothing imported:\n  {source}") and expected in message
    assert store.path.read_bytes() == before


def test_a_store_with_problems_is_not_imported_into(store: ProfileStore, tmp_path: Path) -> None:
    broken = "schema_version: 1\nprofiles:\n- name: a\n  endpoints: [x:1\n"
    write(store.path, broken)
    source = write(tmp_path / "team.yaml", export_profiles(team()))
    with pytest.raises(ImportRefused, match=r"has problems; fix it before importing$"):
        store.import_file(source)
    assert store.path.read_text() == broken


def test_files_that_are_not_an_export_are_refused_before_parsing(tmp_path: Path) -> None:
    with pytest.raises(ImportRefused, match=r"^cannot read .*missing.yaml: No such file"):
        read_import(tmp_path / "missing.yaml")
    huge = write(tmp_path / "huge.yaml", b"#" * (MAX_FILE_BYTES + 10))
    with pytest.raises(ImportRefused, match=r"^nothing imported: .*huge.yaml: too large"):
        read_import(huge)
    binary = write(tmp_path / "x.yaml", b"schema_version: 1\n\xff\xfe")
    with pytest.raises(ImportRefused) as info:
        read_import(binary)
    assert str(info.value) == (
        f"nothing imported: {binary} is not UTF-8 text (byte 18): is it an export of "
        "etcdmon profiles?"
    )


def test_a_password_in_an_imported_file_is_left_out_with_a_notice(
    store: ProfileStore, tmp_path: Path
) -> None:
    text = (
        "schema_version: 1\nprofiles:\n"
        f"- name: old\n  endpoints: [a:1]\n  username: root:{SECRET}\n"
    )
    result = store.import_text(text, "old.yaml")
    (notice,) = result.notices
    assert "profile 'old'" in notice and SECRET not in notice
    assert store.get("old").username == "root" and SECRET not in store.path.read_text()
    # A refused import still tells it.
    with pytest.raises(ImportClash) as info:
        store.import_text(text, "old.yaml")
    assert len(info.value.notices) == 1


def test_an_export_is_written_whole_readable_and_without_secrets(
    store: ProfileStore, tmp_path: Path
) -> None:
    store.save(team())
    target = tmp_path / "share" / "team.yaml"
    write(target, "an older file\n")
    chosen = store.export_file(target, ["prod"])
    assert [p.name for p in chosen] == ["prod"]
    text = target.read_text()
    assert text.startswith("# etcdmon-gui profiles export. It holds no secrets.")
    assert "#   prod: tls_cert, tls_key" in text
    assert target.stat().st_mode & 0o777 == 0o644
    assert os.listdir(target.parent) == ["team.yaml"]  # no temporary file left
    other = ProfileStore(tmp_path / "other.yaml")
    other.import_file(target)
    assert other.load().profiles == chosen
    with pytest.raises(ProfileStoreError, match=r"^no profile named nope, zz$"):
        store.export_file(tmp_path / "x.yaml", ["prod", "zz", "nope"])
    with pytest.raises(ProfileStoreError, match=r"^cannot write .*: Is a directory$"):
        store.export_file(tmp_path / "share", [])


def test_the_cli_says_the_same_as_before(
    store: ProfileStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opts = ["--profiles-file", str(store.path), "--secrets", "memory"]
    store.save([team()[1]])
    out = tmp_path / "out.yaml"
    assert cli_main(["profile", "export", "-o", str(out), *opts]) == 0
    err = capsys.readouterr().err
    assert f"exported 1 profile(s) to {out}" in err
    assert "note: prod needs tls_cert, tls_key re-entered after import" in err

    source = write(tmp_path / "team.yaml", export_profiles(team()))
    assert cli_main(["profile", "import", str(source), *opts]) == 2
    assert capsys.readouterr().err == ("etcdmon: profiles already exist: prod (use --replace)\n")
    assert cli_main(["profile", "import", str(source), "--replace", *opts]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"imported 2 profile(s) into {store.path}\n"
    assert captured.err == (
        "note: enter password for staging (etcdmon profile edit staging ...)\n"
        "note: enter tls_cert, tls_key for prod (etcdmon profile edit prod ...)\n"
    )
    assert yaml.safe_load(out.read_text())["profiles"][0]["name"] == "prod"
    bad = write(tmp_path / "bad.yaml", b"\xff")
    assert cli_main(["profile", "import", str(bad), *opts]) == 2
    assert "is not UTF-8 text (byte 0)" in capsys.readouterr().err
