"""The last session on disk: saved and read back, never a secret, and a missing or
malformed file read as "nothing to reopen" (logged) rather than an error."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from etcdmon_gui.model.session import LastSession, SessionEntry
from etcdmon_gui.store.session import FILE_NAME, SessionStore

T0 = 1_700_000_000.5


def test_a_session_is_read_back_as_saved(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "data" / FILE_NAME)
    session = LastSession(
        (
            SessionEntry.for_profile("a1b2", "prod"),
            SessionEntry.for_endpoints(["127.0.0.1:2379", "https://etcd-2:2379"], "lab"),
        ),
        saved_at=T0,
    )
    store.save(session)
    assert store.load() == session
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert [e.describe() for e in session.entries] == [
        "prod (profile)",
        "lab — 127.0.0.1:2379, https://etcd-2:2379",
    ]


def test_the_file_holds_no_user_name_or_secret(tmp_path: Path) -> None:
    entry = SessionEntry.for_endpoints(["https://root:hunter2@etcd-1:2379", "bob@etcd-2:2379"], "x")
    assert entry.endpoints == ("https://etcd-1:2379", "etcd-2:2379")
    store = SessionStore(tmp_path / FILE_NAME)
    store.save(LastSession((entry,), T0))
    text = store.path.read_text()
    assert "hunter2" not in text and "root" not in text and "bob" not in text
    with pytest.raises(ValueError, match="no user name"):
        SessionEntry("x", endpoints=("root:pw@etcd-1:2379",))


def test_an_entry_is_a_profile_or_endpoints() -> None:
    with pytest.raises(ValueError, match="one of the two"):
        SessionEntry("x")
    with pytest.raises(ValueError, match="one of the two"):
        SessionEntry("x", profile_id="p", endpoints=("a:1",))
    with pytest.raises(ValueError, match="title"):
        SessionEntry.for_profile("p", " ")


def test_a_missing_file_is_an_empty_session(tmp_path: Path) -> None:
    session = SessionStore(tmp_path / "nope" / FILE_NAME).load()
    assert session == LastSession() and session.empty and session.saved_at is None


def test_the_default_path_is_in_the_data_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    import etcdmon_gui.store.session as mod

    monkeypatch.setattr(mod, "data_dir", lambda: Path("/data/etcdmon-gui"))
    assert SessionStore().path == Path("/data/etcdmon-gui/last-session.yaml")


@pytest.mark.parametrize(
    "text",
    [
        "clusters: [oops\n",  # not YAML
        "- just a list\n",
        "schema_version: 99\nclusters: []\n",
        "schema_version: 1\nclusters: nope\n",
    ],
)
def test_a_malformed_file_is_an_empty_session_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    store = SessionStore(tmp_path / FILE_NAME)
    store.path.write_text(text)
    with caplog.at_level(logging.WARNING, logger="etcdmon_gui.store.session"):
        assert store.load() == LastSession()
    assert str(store.path) in caplog.text


def test_a_bad_entry_is_left_out_and_the_others_reopen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SessionStore(tmp_path / FILE_NAME)
    store.path.write_text(
        "schema_version: 1\n"
        "saved_at: yesterday\n"
        "clusters:\n"
        "  - {profile_id: p1, title: prod}\n"
        "  - {title: no endpoints}\n"
        "  - 42\n"
        "  - {profile_id: '', title: empty id}\n"
        "  - {endpoints: ['10.0.0.1:2379'], title: lab}\n"
    )
    with caplog.at_level(logging.WARNING, logger="etcdmon_gui.store.session"):
        session = store.load()
    assert session.entries == (
        SessionEntry.for_profile("p1", "prod"),
        SessionEntry.for_endpoints(["10.0.0.1:2379"], "lab"),
    )
    assert session.saved_at is None
    assert "cluster 2 left out" in caplog.text and "cluster 3 left out" in caplog.text
    assert "cluster 4 left out" in caplog.text


def test_an_empty_file_is_an_empty_session(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / FILE_NAME)
    store.path.write_text("")
    assert store.load() == LastSession()
    store.save(LastSession())
    assert store.load() == LastSession()


def test_saving_replaces_the_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SessionStore(tmp_path / FILE_NAME)
    first = LastSession((SessionEntry.for_profile("p1", "prod"),), T0)
    store.save(first)

    def broken(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(OSError, match="No space"):
        store.save(LastSession((SessionEntry.for_profile("p2", "other"),), T0 + 1))
    assert store.load() == first
    assert [p.name for p in tmp_path.iterdir()] == [FILE_NAME]  # no temporary file left
