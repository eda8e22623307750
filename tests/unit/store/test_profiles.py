"""Profiles on disk: validation with locations, migrations, atomic and careful saves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from etcdmon_gui.formatting import fmt_bytes
from etcdmon_gui.model.profile import Profile, TLSSettings, describe_error
from etcdmon_gui.store import profiles as mod
from etcdmon_gui.store.profiles import (
    ProfileSettings,
    ProfileStore,
    ProfileStoreError,
    export_profiles,
    parse_document,
    secret_fields,
)
from etcdmon_gui.store.secrets import SecretStore


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


# -- readable messages -----------------------------------------------------------------

PYDANTIC_WORDING = ("Input should", "should have", "after validation", "Value error")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": ""}, "name", "a profile needs a name"),
        ({"name": "x" * 101}, "name", "a name has at most 100 characters, not 101"),
        ({"name": " prod"}, "name", "a name has no leading or trailing spaces"),
        ({"name": 7}, "name", "a name is text"),
        ({"endpoints": []}, "endpoints", "a profile needs at least one endpoint"),
        ({"endpoints": ["ftp://x:1"]}, "endpoints", "scheme 'ftp' is not http or https"),
        ({"endpoints": "a:1"}, "endpoints", "endpoints are a list"),
        ({"endpoints": [5]}, "endpoints.0", "an endpoint is text"),
        ({"poll_interval_s": 0}, "poll_interval_s", "from 1 to 60, not 0"),
        ({"poll_interval_s": 61}, "poll_interval_s", "from 1 to 60, not 61"),
        ({"poll_interval_s": "often"}, "poll_interval_s", "a whole number of seconds"),
        ({"timeout_s": 0}, "timeout_s", "above 0 and at most 60, not 0"),
        ({"timeout_s": 61}, "timeout_s", "above 0 and at most 60, not 61"),
        ({"tags": "production"}, "tags", "tags are a list of words"),
        ({"tags": [""]}, "tags", "a tag cannot be empty"),
        ({"tags": [" eu"]}, "tags", "tag 'eu' has leading or trailing spaces"),
        ({"tags": ["a,b"]}, "tags", "has a comma"),
        ({"tags": [3]}, "tags.0", "a tag is text"),
        ({"username": "root:hunter2"}, "username", "a user name has no ':'"),
        ({"username": 5}, "username", "a user name is text"),
        ({"id": "a/b"}, "id", "an identifier has 1 to 64 letters"),
        ({"tls": {"cert_file": "c.pem"}}, "tls", "a client certificate needs its key"),
        ({"tls": {"ca_in_keyring": "maybe"}}, "tls.ca_in_keyring", "true or false"),
        ({"tls": "yes"}, "tls", "tls holds ca_file"),
        ({"alert_overrides": []}, "alert_overrides", "map a rule name"),
        ({"channels": "ops"}, "channels", "a list of notification channel"),
        ({"colour": "red"}, "colour", "unknown field (misspelt?)"),
    ],
)
def test_every_field_of_a_profile_has_a_readable_message(
    store: ProfileStore, fields: dict[str, object], field: str, message: str
) -> None:
    """The same sentence whether the profile comes from a file or from the CLI."""
    raw = {"name": "p", "endpoints": ["127.0.0.1:2379"], **fields}
    with pytest.raises(ValidationError) as info:
        Profile.model_validate(raw)
    (err,) = info.value.errors()
    text = describe_error(err)
    assert message in text
    assert not any(w in text for w in PYDANTIC_WORDING), text
    assert "hunter2" not in text
    if field == "username" and ":" in str(raw["username"]):
        return  # in a file, that is a password to move (the tests below)
    store.path.parent.mkdir(parents=True)
    store.path.write_text(yaml.safe_dump({"schema_version": 1, "profiles": [raw]}))
    (problem,) = store.load().problems
    assert problem.field == field and problem.message == text and problem.line is not None


def test_missing_fields_are_named() -> None:
    with pytest.raises(ValidationError) as info:
        Profile.model_validate({})
    assert [describe_error(e) for e in info.value.errors()] == [
        "a profile needs a name",
        "a profile needs at least one endpoint, e.g. host:2379",
    ]


# -- a password an older version left in the user name ---------------------------------

OLD_FILE = (
    "schema_version: 1\n"
    "profiles:\n"
    "- id: old1\n"
    "  name: old\n"
    "  endpoints: [127.0.0.1:2379]\n"
    "  username: root:{password}\n"
    "- name: plain\n"
    "  endpoints: [127.0.0.1:2380]\n"
)
STRAY = "Str4y-pa55"  # a throwaway test secret


def write_old_file(store: ProfileStore, password: str = STRAY) -> bytes:
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(OLD_FILE.format(password=password))
    return store.path.read_bytes()


def test_a_password_in_the_file_moves_to_the_secret_store(
    store: ProfileStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = SecretStore.encrypted_file(tmp_path / "secrets.cfg", "master-pw")
    write_old_file(store)
    result = store.load(secrets)
    assert result.clean, result.problems
    old = next(p for p in result.profiles if p.name == "old")
    assert old.username == "root" and old.id == "old1"
    assert [p.name for p in result.profiles] == ["old", "plain"]
    assert secrets.get("old1", "password") == STRAY
    # Rewritten: the plain user name, nothing else lost, no password anywhere.
    assert STRAY not in store.path.read_text()
    again = ProfileStore(store.path).load()
    assert again.clean and again.profiles == result.profiles
    assert os.listdir(store.path.parent) == ["profiles.yaml"]
    assert store.path.stat().st_mode & 0o777 == 0o600
    # Said once, naming the profile and where the password went, never the password.
    (notice,) = result.notices
    assert "profile 'old'" in notice and "encrypted file" in notice
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [notice]
    assert STRAY not in caplog.text and STRAY not in notice
    assert store.load(secrets).notices == []  # nothing left to move


def test_the_secret_store_is_only_opened_when_a_password_is_to_move(
    store: ProfileStore, tmp_path: Path
) -> None:
    opened: list[SecretStore] = []

    def open_store() -> SecretStore:
        opened.append(SecretStore.encrypted_file(tmp_path / "secrets.cfg", "m"))
        return opened[-1]

    lazy = ProfileStore(store.path, open_store)
    lazy.add(Profile(name="clean", endpoints=["a:1"], username="root"))
    assert lazy.load().clean and opened == []
    write_old_file(store)
    assert lazy.load().clean and len(opened) == 1  # once, for the move


def test_without_a_lasting_store_the_file_is_left_as_it_is(store: ProfileStore) -> None:
    before = write_old_file(store)
    result = store.load(SecretStore.memory())
    assert [p.name for p in result.profiles] == ["plain"]  # the other profile still loads
    (problem,) = result.problems
    assert problem.profile == "old" and problem.field == "username" and problem.line == 6
    assert "clear text" in problem.message and "memory (this session only)" in problem.message
    assert "--secrets encrypted-file" in problem.message
    assert STRAY not in str(problem)
    assert store.path.read_bytes() == before
    with pytest.raises(ProfileStoreError, match="left untouched") as info:
        store.add(Profile(name="new", endpoints=["x:1"]))
    assert STRAY not in str(info.value)
    with pytest.raises(ProfileStoreError, match="profile 'old' cannot be used"):
        store.get("old")
    assert store.path.read_bytes() == before
    # No store at all (a ProfileStore made without one): the same.
    assert [p.field for p in ProfileStore(store.path).load().problems] == ["username"]
    assert store.path.read_bytes() == before


def test_a_file_with_other_problems_keeps_its_password_until_they_are_fixed(
    store: ProfileStore, tmp_path: Path
) -> None:
    secrets = SecretStore.encrypted_file(tmp_path / "secrets.cfg", "m")
    store.path.parent.mkdir(parents=True)
    text = OLD_FILE.format(password=STRAY) + "- name: broken\n  endpoints: []\n"
    store.path.write_text(text)
    problems = store.load(secrets).problems
    assert {p.profile for p in problems} == {"old", "broken"}
    assert "fix them first" in next(p.message for p in problems if p.profile == "old")
    assert secrets.get("old1", "password") is None
    assert store.path.read_text() == text


def test_a_failed_move_leaves_the_file(
    store: ProfileStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = SecretStore.encrypted_file(tmp_path / "secrets.cfg", "m")
    before = write_old_file(store)

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    (problem,) = store.load(secrets).problems
    assert "the file cannot be rewritten: No space left on device" in problem.message
    assert store.path.read_bytes() == before
    assert os.listdir(store.path.parent) == ["profiles.yaml"]


def test_an_import_leaves_a_password_out_and_says_so() -> None:
    result = parse_document(OLD_FILE.format(password=STRAY), "team.yaml")
    assert result.clean
    assert next(p for p in result.profiles if p.name == "old").username == "root"
    (notice,) = result.notices
    assert "profile 'old'" in notice and "team.yaml" in notice and "--password-stdin" in notice
    assert STRAY not in notice


def test_the_apps_settings_service_store_moves_it_too(store: ProfileStore, tmp_path: Path) -> None:
    """The profiles dialog loads through ProfileSettings, with the app's secret store."""
    secrets = SecretStore.encrypted_file(tmp_path / "secrets.cfg", "m")
    write_old_file(store)
    listing = ProfileSettings(ProfileStore(store.path), secrets).load()
    assert listing.clean and [p.username for p in listing.profiles] == ["root", None]
    assert secrets.get("old1", "password") == STRAY and STRAY not in store.path.read_text()
    assert listing.notices and STRAY not in repr(listing)


def big_file(path: Path, profiles: int) -> None:
    lines = ["schema_version: 1", "profiles:"]
    for i in range(profiles):
        lines += [
            f"- name: p{i}",
            f"  endpoints: [10.{i // 65536}.{i // 256 % 256}.{i % 256}:2379]",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_a_huge_file_is_refused_at_once_saying_why(store: ProfileStore) -> None:
    """Issue 15: 100,000 profiles (5 MB) took 35 s and 950 MB to list."""
    big_file(store.path, 100_000)
    assert store.path.stat().st_size > 4_000_000
    result = store.load()
    assert result.profiles == []
    (problem,) = result.problems
    assert str(problem) == (
        f"{store.path}: too large for a profiles file ({fmt_bytes(store.path.stat().st_size)}; "
        "at most 1.0 MB, thousands of "
        "profiles): is it the right file? Point --profiles-file or ETCDMON_PROFILES at the "
        "profiles file, or split it"
    )
    with pytest.raises(ProfileStoreError, match=r"profile 'p1' cannot be looked up: .*too large"):
        store.get("p1")
    assert (
        parse_document(store.path.read_text(), "import.yaml")
        .problems[0]
        .message.startswith("too large for a profiles file")
    )


def test_thousands_of_profiles_still_load(store: ProfileStore) -> None:
    big_file(store.path, 5_000)
    assert store.path.stat().st_size < mod.MAX_FILE_BYTES
    result = store.load()
    assert result.clean and len(result.profiles) == 5_000


def test_an_unreadable_or_broken_file_is_named_not_a_missing_profile(
    store: ProfileStore,
) -> None:
    """Issue 15: `--profile good` said "no profile named 'good'"."""
    store.path.parent.mkdir(parents=True)
    store.path.write_text("schema_version: 1\nprofiles:\n- name: good\n  endpoints: [a:1\n")
    with pytest.raises(ProfileStoreError) as info:
        store.get("good")
    assert str(info.value).startswith(f"profile 'good' cannot be looked up: {store.path}, line")
    assert "not valid YAML" in str(info.value)
    store.path.unlink()
    store.path.mkdir()  # a directory where the file should be: it cannot be read
    with pytest.raises(ProfileStoreError) as info:
        store.get("good")
    assert str(info.value) == (
        f"profile 'good' cannot be looked up: {store.path}: cannot read: Is a directory"
    )


@pytest.mark.parametrize("hidden", ["\u202e", "\u200b", "\x1b", "\u2028"])
def test_names_that_would_not_show_as_typed_are_refused_and_escaped(
    store: ProfileStore, hidden: str
) -> None:
    """Issue 15: a name with U+202E (RIGHT-TO-LEFT OVERRIDE) was printed raw."""
    with pytest.raises(ValidationError, match="a character that is not shown as itself"):
        Profile(name=f"prod{hidden}lave", endpoints=["a:1"])
    with pytest.raises(ValidationError, match="a tag has a character"):
        Profile(name="p", endpoints=["a:1"], tags=[f"e{hidden}u"])
    store.path.parent.mkdir(parents=True)
    body = {"schema_version": 1, "profiles": [{"name": f"prod{hidden}lave", "endpoints": ["a:1"]}]}
    store.path.write_text(yaml.safe_dump(body, allow_unicode=True))
    (problem,) = store.load().problems
    text = str(problem)
    assert hidden not in text and f"profile prod\\u{ord(hidden):04x}lave" in text
    assert "U+" in problem.message
