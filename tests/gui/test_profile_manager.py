"""The profile manager, offscreen, with a real profile SettingsService thread, a profiles
file in tmp_path, session-memory secrets and real sandbox clusters for the connection
tests."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from etcdmon_gui import __version__
from etcdmon_gui.app import Application
from etcdmon_gui.app import main as app_main
from etcdmon_gui.etcd.sandbox import Sandbox, free_ports
from etcdmon_gui.model.profile import Profile, TLSSettings
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.ui.profile_manager_dialog import ProfileManagerDialog
from tests.dialog_support import keep_for_session

# The offscreen platform cannot raise a window or pass size hints on; Qt says so at
# WARNING level when the dialog is shown (a mark replaces the ini list, so both).
SECRET = "s3cret-Pa55word"


def open_dialog(app: Application, qtbot: QtBot) -> ProfileManagerDialog:
    """File → Profiles…, then wait until the service has read the file."""
    with qtbot.waitSignal(app.profile_service.loaded, timeout=5_000):
        app.window.profiles_action.trigger()
    assert app.profile_dialog is not None and app.profile_dialog.isVisible()
    return app.profile_dialog


def type_into(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    edit.del_()
    qtbot.keyClicks(edit, text)


def save(app: Application, qtbot: QtBot, dialog: ProfileManagerDialog) -> Profile:
    with qtbot.waitSignal(app.profile_service.saved, timeout=5_000) as blocker:
        dialog.save_button.click()
        keep_for_session(dialog)
    profile: Profile = blocker.args[0]
    return profile


def names(dialog: ProfileManagerDialog) -> list[str]:
    return [dialog.list.item(i).text() for i in range(dialog.list.count())]


def visible_texts(dialog: ProfileManagerDialog) -> list[str]:
    """Every text the dialog shows, except what is typed into the password field."""
    texts = [dialog.windowTitle()]
    texts += [
        e.text() + e.placeholderText() + e.toolTip()
        for e in dialog.findChildren(QLineEdit)
        if e is not dialog.form.password
    ]
    texts += [label.text() + label.toolTip() for label in dialog.findChildren(QLabel)]
    return texts


def test_added_profile_goes_to_the_file_and_its_password_to_the_secret_store(
    app: Application, qtbot: QtBot, store: ProfileStore, secrets: SecretStore
) -> None:
    dialog = open_dialog(app, qtbot)
    assert names(dialog) == [] and not dialog.problems_box.isVisible()
    assert "memory (this session only)" in dialog.backend.text()
    dialog.add_button.click()
    type_into(qtbot, dialog.form.name, "dev")
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379, http://127.0.0.2:2379")
    type_into(qtbot, dialog.form.username, "root")
    type_into(qtbot, dialog.form.password, SECRET)
    type_into(qtbot, dialog.form.tags, "staging, eu")
    dialog.form.poll.setValue(7)
    assert dialog.form.password.echoMode() == QLineEdit.EchoMode.Password
    saved = save(app, qtbot, dialog)

    text = store.path.read_text()
    assert SECRET not in text
    doc = yaml.safe_load(text)
    assert doc["profiles"] == [
        {
            "id": saved.id,
            "name": "dev",
            "endpoints": ["127.0.0.1:2379", "http://127.0.0.2:2379"],
            "username": "root",
            "poll_interval_s": 7,
            "tags": ["staging", "eu"],
        }
    ]
    assert secrets.get(saved.id, "password") == SECRET
    # The form now shows the saved profile; the password is a placeholder, nowhere else.
    assert names(dialog) == ["dev"] and dialog.list.currentRow() == 0
    assert dialog.form.password.text() == ""
    assert dialog.form.password.placeholderText() == "(stored in memory (this session only))"
    assert not any(SECRET in t for t in visible_texts(dialog))
    assert SECRET not in app.window.windowTitle()
    assert dialog.connect_button.isEnabled()


def test_a_blank_password_keeps_the_stored_one(
    app: Application, qtbot: QtBot, store: ProfileStore, secrets: SecretStore
) -> None:
    prof = Profile(name="ops", endpoints=["127.0.0.1:2379"], username="admin")
    store.add(prof)
    secrets.set(prof.id, "password", SECRET)
    dialog = open_dialog(app, qtbot)
    assert dialog.form.name.text() == "ops" and dialog.form.username.text() == "admin"
    assert dialog.form.password.placeholderText() == "(stored in memory (this session only))"
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379,127.0.0.1:22379")
    assert not dialog.connect_button.isEnabled()  # unsaved changes
    saved = save(app, qtbot, dialog)
    assert saved.id == prof.id
    assert store.get("ops").endpoints == ["127.0.0.1:2379", "127.0.0.1:22379"]
    assert secrets.get(prof.id, "password") == SECRET

    type_into(qtbot, dialog.form.password, "another-one")
    save(app, qtbot, dialog)
    assert secrets.get(prof.id, "password") == "another-one"
    # Without a user the password is not needed any more, and is removed.
    type_into(qtbot, dialog.form.username, "")
    save(app, qtbot, dialog)
    assert secrets.get(prof.id, "password") is None


def test_a_new_user_without_a_password_is_refused(
    app: Application, qtbot: QtBot, store: ProfileStore
) -> None:
    dialog = open_dialog(app, qtbot)
    type_into(qtbot, dialog.form.name, "dev")
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379")
    type_into(qtbot, dialog.form.username, "root")
    with qtbot.waitSignal(app.profile_service.failed, timeout=5_000) as blocker:
        dialog.save_button.click()
    assert "enter the password of user 'root'" in blocker.args[0]
    assert dialog.errors.isVisible() and "enter the password" in dialog.errors.text()
    assert not store.path.exists()


def test_clone_copies_settings_and_secrets_and_delete_removes_both(
    app: Application,
    qtbot: QtBot,
    store: ProfileStore,
    secrets: SecretStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prod = Profile(
        name="prod",
        endpoints=["10.0.0.1:2379"],
        username="root",
        tags=["production"],
        poll_interval_s=10,
    )
    store.add(prod)
    secrets.set(prod.id, "password", SECRET)
    dialog = open_dialog(app, qtbot)
    assert "PRODUCTION" in names(dialog)[0]  # production profiles are marked
    dialog.clone_button.click()
    assert dialog.form.name.text() == "prod (copy)" and dialog.list.currentRow() == -1
    assert dialog.form.password.placeholderText() == "(stored in memory (this session only))"
    clone = save(app, qtbot, dialog)
    assert clone.id != prod.id and clone.poll_interval_s == 10 and clone.tags == ["production"]
    assert [p.name for p in store.load().profiles] == ["prod", "prod (copy)"]
    assert secrets.get(clone.id, "password") == SECRET
    assert dialog.form.name.text() == "prod (copy)" and dialog.list.currentRow() == 1

    # Saying No to the confirmation deletes nothing.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    with qtbot.assertNotEmitted(dialog.deleteRequested):
        dialog.delete_button.click()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(app.profile_service.deleted, timeout=5_000):
        dialog.delete_button.click()
    assert [p.name for p in store.load().profiles] == ["prod"]
    assert secrets.get(clone.id, "password") is None
    assert secrets.get(prod.id, "password") == SECRET
    assert len(names(dialog)) == 1 and dialog.form.name.text() == "prod"


def test_an_invalid_endpoint_is_shown_inline_and_nothing_is_saved(
    app: Application, qtbot: QtBot, store: ProfileStore
) -> None:
    dialog = open_dialog(app, qtbot)
    type_into(qtbot, dialog.form.name, "bad")
    type_into(qtbot, dialog.form.endpoints, "ftp://x:1")
    with qtbot.assertNotEmitted(dialog.saveRequested):
        dialog.save_button.click()
    assert dialog.errors.isVisible()
    assert dialog.errors.text().startswith("Endpoints: ")
    assert "scheme 'ftp' is not http or https" in dialog.errors.text()
    assert dialog.form.endpoints.property("invalid") is True
    # A client certificate without its key is refused the same way.
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379")
    type_into(qtbot, dialog.form.tls_rows["cert"].path, "/tmp/client.pem")
    dialog.save_button.click()
    assert "TLS: a client certificate needs its key" in dialog.errors.text()
    assert dialog.form.endpoints.property("invalid") is False
    assert not store.path.exists()


def test_a_malformed_file_is_explained_and_never_overwritten(
    app: Application, qtbot: QtBot, store: ProfileStore
) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text(
        "schema_version: 1\n"
        "profiles:\n"
        "- name: good\n"
        "  endpoints: [127.0.0.1:2379]\n"
        "- name: broken\n"
        "  endpoints: [ftp://x:1]\n"
    )
    before = store.path.read_bytes()
    dialog = open_dialog(app, qtbot)
    assert dialog.problems_box.isVisible()
    assert f"{store.path}, line 6: profile broken field 'endpoints'" in dialog.problems.text()
    assert names(dialog) == ["good"]  # the valid one still loads
    dialog.add_button.click()
    type_into(qtbot, dialog.form.name, "new")
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379")
    with qtbot.waitSignal(app.profile_service.failed, timeout=5_000):
        dialog.save_button.click()
    assert "left untouched" in dialog.errors.text()
    assert store.path.read_bytes() == before
    assert dialog.save_button.isEnabled()


def test_test_connection_shows_the_members_of_a_real_cluster(
    app: Application, qtbot: QtBot, store: ProfileStore, cluster: Sandbox
) -> None:
    store.add(
        Profile(
            name="prod-eu",
            endpoints=["10.0.0.1:2379"],
            tags=["production"],
            tls=TLSSettings(ca_file="/etc/etcd/ca.pem", server_name="etcd.eu"),
        )
    )
    store.add(Profile(name="sandbox", endpoints=[cluster.endpoints[0]], poll_interval_s=2))
    dialog = open_dialog(app, qtbot)
    dialog.list.setCurrentRow(1)
    assert dialog.form.name.text() == "sandbox"
    with qtbot.waitSignal(app.profile_service.tested, timeout=15_000) as blocker:
        dialog.test_button.click()
        assert not dialog.test_button.isEnabled()
        assert dialog.test_button.text() == "Testing…"
    snapshot, error = blocker.args
    assert error == "" and snapshot is not None
    assert dialog.test_button.isEnabled() and dialog.test_button.text() == "Test connection"
    assert dialog.members.topLevelItemCount() == 3
    rows = [dialog.members.topLevelItem(i) for i in range(3)]
    assert sorted(r.text(0) for r in rows) == ["m0", "m1", "m2"]
    assert all(r.text(2) == "yes" and r.text(3).endswith(" ms") for r in rows)
    assert all(r.text(1).startswith("3.5.") for r in rows)
    summary = dialog.test_summary.text()
    assert summary.startswith("“sandbox”: Healthy · leader m")
    assert "3 of 3 voters reachable" in summary
    dialog.resize(980, 700)
    assert dialog.grab().save("/tmp/profiles.png")


def test_test_connection_to_a_closed_port_says_connection_refused(
    app: Application, qtbot: QtBot
) -> None:
    port = free_ports(1)[0]
    dialog = open_dialog(app, qtbot)
    type_into(qtbot, dialog.form.name, "nothing there")
    type_into(qtbot, dialog.form.endpoints, f"127.0.0.1:{port}")
    with qtbot.waitSignal(app.profile_service.tested, timeout=15_000):
        dialog.test_button.click()  # unsaved values are tested as they are
    assert dialog.test_summary.text() == (
        f"“nothing there”: Unreachable\nconnection refused at 127.0.0.1:{port}"
    )
    assert dialog.test_button.isEnabled()


def test_connect_watches_the_profile_in_the_main_window(
    app: Application, qtbot: QtBot, store: ProfileStore, cluster: Sandbox
) -> None:
    prof = Profile(name="local sandbox", endpoints=cluster.endpoints)
    store.add(prof)
    dialog = open_dialog(app, qtbot)
    with qtbot.waitSignal(dialog.connectRequested, timeout=5_000) as blocker:
        dialog.connect_button.click()
    assert blocker.args == [prof]
    assert not dialog.isVisible()
    root = app.window.tree.root(f"profile:{prof.id}")
    assert root is not None and root.text(0) == "local sandbox"
    qtbot.waitUntil(lambda: root.childCount() == 3, timeout=10_000)
    assert app.workers[f"profile:{prof.id}"].worker._interval_s == prof.poll_interval_s


def test_unknown_profile_on_the_command_line_is_a_readable_error(
    store: ProfileStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.add(Profile(name="known", endpoints=["127.0.0.1:2379"]))
    code = app_main(["--profile", "nope", "--profiles-file", str(store.path)])
    assert code == 2
    assert "no profile named 'nope' (known: known)" in capsys.readouterr().err


def test_about_shows_the_version_and_the_secret_backend(app: Application) -> None:
    text = app.window.about_text()
    assert __version__ in text
    assert "Secrets are kept in: memory (this session only)." in text
    assert "forgotten" in text  # not persistent, so it says so


def test_imported_tls_files_are_read_by_the_service_into_the_secret_store(
    app: Application, qtbot: QtBot, store: ProfileStore, secrets: SecretStore, tmp_path: Path
) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
    ca = tmp_path / "ca.pem"
    ca.write_text(pem)
    dialog = open_dialog(app, qtbot)
    type_into(qtbot, dialog.form.name, "tls")
    type_into(qtbot, dialog.form.endpoints, "etcd.example:2379")
    ca_row = dialog.form.tls_rows["ca"]
    type_into(qtbot, ca_row.path, "/nonexistent/ca.pem")
    ca_row.import_box.setChecked(True)
    with qtbot.waitSignal(app.profile_service.failed, timeout=5_000):
        dialog.save_button.click()
        box = dialog.session_only_box
        assert box is not None and "CA certificate of “tls”" in box.text()
        assert keep_for_session(dialog)
    assert (
        "cannot read CA certificate file '/nonexistent/ca.pem': No such file or directory"
        in dialog.errors.text()
    )
    assert not store.path.exists()

    type_into(qtbot, ca_row.path, str(ca))
    saved = save(app, qtbot, dialog)
    assert yaml.safe_load(store.path.read_text())["profiles"][0]["tls"] == {"ca_in_keyring": True}
    assert "MIIBfake" not in store.path.read_text()
    assert secrets.get(saved.id, "tls_ca") == pem
    assert ca_row.path.text() == "" and ca_row.import_box.isChecked()
    assert ca_row.path.placeholderText().startswith("(stored in memory (this session only))")


def test_shutdown_ends_a_connection_test_to_a_hung_member_at_once(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    dialog = open_dialog(app, qtbot)
    type_into(qtbot, dialog.form.name, "hung")
    type_into(qtbot, dialog.form.endpoints, cluster.endpoints[1])
    cluster.pause_member(1)
    try:
        dialog.test_button.click()
        qtbot.waitUntil(lambda: app.profile_service.service.testing, timeout=5_000)
        t0 = time.monotonic()
        app.shutdown()
        elapsed = time.monotonic() - t0
    finally:
        cluster.resume_member(1)
    assert app.profile_service.qthread.isFinished()
    assert elapsed < 1.5, f"shutdown took {elapsed:.2f} s during a connection test"
