"""Secrets kept for this session only, said plainly: the question before saving one into
memory, the flags of profiles and channels whose secrets are missing (what a restart
leaves of memory), and "Move secrets…" to the encrypted file, with the whole app, its
real settings-service threads, session memory and a real keyrings.cryptfile file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractButton, QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.model.profile import LoadResult, Profile, TLSSettings
from etcdmon_gui.model.secrets import BackendInfo, MoveTarget
from etcdmon_gui.notify.channels.webhook import WebhookChannelConfig
from etcdmon_gui.store import secrets as secrets_mod
from etcdmon_gui.store.channels import ChannelStore
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SERVICE, MemoryKeyring, SecretStore, secrets_file_path
from etcdmon_gui.ui.channels_dialog import ChannelsDialog
from etcdmon_gui.ui.form_dialog import ServiceDialog
from etcdmon_gui.ui.palette import WARNING_COLOUR
from etcdmon_gui.ui.profile_manager_dialog import ProfileManagerDialog
from etcdmon_gui.ui.secret_backend_dialog import SecretBackendDialog
from tests.dialog_support import KEEP_FOR_SESSION, keep_for_session

PASSWORD = "Pr0file-pa55word"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBca0nlyInKeyring\n-----END CERTIFICATE-----\n"
URL = "https://hooks.example/services/W3bh00kT0ken"
SIGNING = "s1gning-k3y-value"
MASTER = "m4ster-of-secrets"
MOVE_TIMEOUT = 60_000  # keyrings.cryptfile derives a key per secret: ~1 s each here


@pytest.fixture(autouse=True)
def no_os_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_mod, "_OS_KEYRINGS", ("no.such.keyring",))


@pytest.fixture
def memory() -> MemoryKeyring:
    """The session memory behind the app's store, to see what is left in it."""
    return MemoryKeyring()


@pytest.fixture
def secrets(memory: MemoryKeyring) -> SecretStore:
    return SecretStore(memory, SecretStore.memory().info)


@pytest.fixture
def channels(tmp_path: Path) -> ChannelStore:
    return ChannelStore(tmp_path / "channels.yaml")  # the app's (data_dir=tmp_path)


def screenshots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ETCDMON_SCREENSHOTS") or tmp_path)


def open_profiles(app: Application, qtbot: QtBot) -> ProfileManagerDialog:
    with qtbot.waitSignal(app.profile_service.loaded, timeout=5_000):
        app.window.profiles_action.trigger()
    assert app.profile_dialog is not None
    return app.profile_dialog


def open_channels(app: Application, qtbot: QtBot) -> ChannelsDialog:
    with qtbot.waitSignal(app.channel_service.loaded, timeout=5_000):
        app.window.channels_action.trigger()
    assert app.channels_dialog is not None
    return app.channels_dialog


def type_into(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    edit.del_()
    qtbot.keyClicks(edit, text)


def session_box(dialog: ServiceDialog) -> QMessageBox:
    box = dialog.session_only_box
    assert box is not None and box.isVisible()
    return box


def button(box: QMessageBox, text: str) -> QAbstractButton:
    [found] = [b for b in box.buttons() if b.text() == text]
    return found


def all_files_bytes(*roots: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}


# -- 1. asked before a secret goes into session memory ----------------------------------


def test_saving_a_password_into_session_memory_asks_first(
    app: Application, qtbot: QtBot, store: ProfileStore, secrets: SecretStore
) -> None:
    dialog = open_profiles(app, qtbot)
    # No secret in the save: nothing to ask.
    type_into(qtbot, dialog.form.name, "plain")
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379")
    with qtbot.waitSignal(app.profile_service.saved, timeout=5_000):
        dialog.save_button.click()
        assert dialog.session_only_box is None

    dialog.add_button.click()
    type_into(qtbot, dialog.form.name, "dev")
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379")
    type_into(qtbot, dialog.form.username, "root")
    type_into(qtbot, dialog.form.password, PASSWORD)
    with qtbot.assertNotEmitted(dialog.saveRequested, wait=100):
        dialog.save_button.click()
        box = session_box(dialog)
        assert box.windowTitle() == "Secrets for this session only"
        assert box.text() == (
            "The password of “dev” will be kept in memory (this session only): it is lost "
            "when etcdmon-gui exits, and has to be entered again after a restart."
        )
        assert "choose Move secrets…" in box.informativeText()
        assert "encrypted file" in box.informativeText()
        assert box.defaultButton() is button(box, "Cancel")
        button(box, "Cancel").click()
    assert dialog.session_only_box is None
    assert dialog.status.text() == "“dev” was not saved."
    assert [p.name for p in store.load().profiles] == ["plain"]
    assert dialog.form.password.text() == PASSWORD  # still in the form, not saved

    with qtbot.waitSignal(app.profile_service.saved, timeout=5_000) as blocker:
        dialog.save_button.click()
        box = session_box(dialog)
        checkbox = box.checkBox()
        assert checkbox is not None
        checkbox.setChecked(True)  # don't ask again until etcdmon-gui exits
        button(box, KEEP_FOR_SESSION).click()
    saved = blocker.args[0]
    assert secrets.get(saved.id, "password") == PASSWORD

    type_into(qtbot, dialog.form.password, "an0ther-pw")
    with qtbot.waitSignal(app.profile_service.saved, timeout=5_000):
        dialog.save_button.click()
        assert dialog.session_only_box is None  # not asked again
    assert secrets.get(saved.id, "password") == "an0ther-pw"


def test_saving_a_webhook_url_into_session_memory_asks_first(
    app: Application, qtbot: QtBot, secrets: SecretStore, tmp_path: Path
) -> None:
    dialog = open_channels(app, qtbot)
    dialog.add_actions["webhook"].trigger()
    assert dialog.form is not None
    type_into(qtbot, dialog.form.field("name").editor, "hook")
    type_into(qtbot, dialog.form.field("webhook_url").editor, URL)
    with qtbot.waitSignal(app.channel_service.saved, timeout=5_000) as blocker:
        dialog.save_button.click()
        box = session_box(dialog)
        assert box.text().startswith("The webhook URL of “hook” will be kept in memory")
        assert URL not in box.text() + box.informativeText()
        box.grab().save(str(screenshots(tmp_path) / "session_only_box.png"))
        assert keep_for_session(dialog)
    assert secrets.get(blocker.args[0].id, "webhook_url") == URL


def test_a_persistent_store_never_asks(qtbot: QtBot, tmp_path: Path, secrets: SecretStore) -> None:
    dialog = ProfileManagerDialog()
    qtbot.addWidget(dialog)
    file_info = BackendInfo("encrypted file x", True, True, kind="encrypted-file")
    dialog.show_loaded(LoadResult(), file_info)
    type_into(qtbot, dialog.form.name, "dev")
    type_into(qtbot, dialog.form.endpoints, "127.0.0.1:2379")
    type_into(qtbot, dialog.form.username, "root")
    type_into(qtbot, dialog.form.password, PASSWORD)
    with qtbot.waitSignal(dialog.saveRequested, timeout=1_000):
        dialog.save_button.click()
    assert dialog.session_only_box is None


# -- 2. profiles and channels whose secrets are missing are flagged ---------------------


def test_items_whose_secrets_are_missing_are_flagged(
    app: Application,
    qtbot: QtBot,
    store: ProfileStore,
    channels: ChannelStore,
    secrets: SecretStore,
    tmp_path: Path,
) -> None:
    # What a restart leaves: the files, and a memory that holds only what was set since.
    lost = Profile(name="lost password", endpoints=["127.0.0.1:2379"], username="root")
    kept = Profile(name="kept", endpoints=["127.0.0.1:2379"], username="root")
    store.add(lost)
    store.add(kept)
    store.add(Profile(name="no user", endpoints=["127.0.0.1:2379"]))
    secrets.set(kept.id, "password", PASSWORD)
    lost_hook = WebhookChannelConfig(name="lost hook")
    off_hook = WebhookChannelConfig(name="off hook", enabled=False)
    good_hook = WebhookChannelConfig(name="good hook")
    for c in (lost_hook, off_hook, good_hook):
        channels.add(c)
    secrets.set(good_hook.id, "webhook_url", URL)

    dialog = open_profiles(app, qtbot)
    rows = {dialog.list.item(i).text(): dialog.list.item(i) for i in range(dialog.list.count())}
    assert set(rows) == {"lost password", "kept", "no user"}
    flagged = rows["lost password"]
    assert not flagged.icon().isNull()
    assert flagged.foreground().color() == QColor(WARNING_COLOUR)
    assert flagged.toolTip().startswith(
        "password missing: re-enter it\n(not in memory (this session only))"
    )
    for name in ("kept", "no user"):
        assert rows[name].icon().isNull() and "missing" not in rows[name].toolTip()
    dialog.list.setCurrentItem(flagged)
    assert dialog.status.text() == "⚠ password missing: re-enter it."
    assert dialog.form.password.placeholderText() == "required: none is stored yet"
    dialog.resize(980, 700)
    assert dialog.grab().save(str(screenshots(tmp_path) / "profiles_missing.png"))
    dialog.list.setCurrentItem(rows["kept"])
    assert dialog.status.text() == ""  # the notice was about the other profile

    # Entering the password again clears the flag.
    dialog.list.setCurrentItem(dialog.list.findItems("lost password", Qt.MatchFlag.MatchExactly)[0])
    type_into(qtbot, dialog.form.password, PASSWORD)
    with qtbot.waitSignal(app.profile_service.saved, timeout=5_000):
        dialog.save_button.click()
        keep_for_session(dialog)
    again = dialog.list.findItems("lost password", Qt.MatchFlag.MatchExactly)[0]
    assert again.icon().isNull() and "missing" not in again.toolTip()

    cdialog = open_channels(app, qtbot)
    items = [cdialog.list.topLevelItem(i) for i in range(cdialog.list.topLevelItemCount())]
    enabled = {i.text(0): i.text(2) for i in items if i is not None}
    assert enabled == {
        "lost hook": "yes — but no webhook URL",
        "off hook": "no (no webhook URL)",
        "good hook": "yes",
    }
    [lost_row] = [i for i in items if i is not None and i.text(0) == "lost hook"]
    assert lost_row.toolTip(0) == (
        "Webhook URL missing from memory (this session only): enter it again and save. "
        "Until then no alert reaches this channel."
    )
    assert not lost_row.icon(2).isNull()
    assert lost_row.foreground(2).color() == QColor(WARNING_COLOUR)
    cdialog.list.setCurrentItem(lost_row)
    assert cdialog.status.text() == "⚠ webhook URL missing: enter it again."
    assert cdialog.grab().save(str(screenshots(tmp_path) / "channels_missing.png"))


# -- 3. Move secrets… --------------------------------------------------------------------


def fill_everything(
    store: ProfileStore, channels: ChannelStore, secrets: SecretStore
) -> dict[tuple[str, str], str]:
    """A profile (password, CA certificate kept as a secret) and a signed webhook, with
    every secret in the app's store; returns (owner, field) -> value."""
    profile = Profile(
        name="prod",
        endpoints=["127.0.0.1:2379"],
        username="root",
        tls=TLSSettings(ca_in_keyring=True),
    )
    store.add(profile)
    hook = WebhookChannelConfig(name="signed hook", sign=True)
    channels.add(hook)
    values = {
        (profile.id, "password"): PASSWORD,
        (profile.id, "tls_ca"): CA_PEM,
        (hook.id, "webhook_url"): URL,
        (hook.id, "webhook_secret"): SIGNING,
    }
    for (owner, field), value in values.items():
        secrets.set(owner, field, value)
    return values


def choose_file(qtbot: QtBot, move: SecretBackendDialog, password: str, repeat: str) -> None:
    assert move.encrypted.isChecked()
    type_into(qtbot, move.password, password)
    type_into(qtbot, move.repeat, repeat)
    move.buttons.button(move.buttons.StandardButton.Ok).click()


def test_move_secrets_from_memory_to_an_encrypted_file(
    app: Application,
    qtbot: QtBot,
    store: ProfileStore,
    channels: ChannelStore,
    secrets: SecretStore,
    memory: MemoryKeyring,
    tmp_path: Path,
) -> None:
    values = fill_everything(store, channels, secrets)
    cdialog = open_channels(app, qtbot)
    dialog = open_profiles(app, qtbot)
    assert dialog.move_button.isEnabled()
    assert "an encrypted file" in dialog.move_button.toolTip()
    assert "Move secrets…" in dialog.backend.text()

    dialog.move_button.click()
    move = dialog.move_dialog
    assert move is not None and move.isVisible()
    assert not move.keyring.isVisible() and not move.memory.isVisible()  # no OS keyring
    move.resize(560, move.sizeHint().height())
    assert move.grab().save(str(screenshots(tmp_path) / "move_secrets.png"))
    # A typo in the second master password is caught before anything moves.
    with qtbot.assertNotEmitted(dialog.moveRequested, wait=100):
        choose_file(qtbot, move, MASTER, MASTER + "x")
    assert move.isVisible() and move.error.text().startswith("The two master passwords differ")

    with qtbot.waitSignal(app.profile_service.moved, timeout=MOVE_TIMEOUT) as blocker:
        choose_file(qtbot, move, MASTER, MASTER)
        assert not dialog.move_button.isEnabled()
        assert dialog.status.text() == "Moving the secrets to the encrypted file…"
    info, summary = blocker.args
    path = secrets_file_path()
    assert info.kind == "encrypted-file" and str(path) in info.name
    assert summary == f"Moved 4 secrets from memory (this session only) to {info.name}."
    # The app's store (shared by both services, the dispatcher, the watched clusters)
    # reads from the file now; memory holds none of them any more.
    assert secrets.info == app.secrets.info and secrets.info.kind == "encrypted-file"
    assert app.channel_service.service.store.secrets is secrets
    for owner, field in values:
        assert memory.get_password(SERVICE, f"{owner}/{field}") is None
    # A fresh store on the same file (the next start) reads every secret back.
    fresh = SecretStore.encrypted_file(path, MASTER)
    for (owner, field), value in values.items():
        assert fresh.get(owner, field) == value
    # No secret in any file: the profiles, the channels, settings, history, the
    # encrypted file itself.
    user_dirs = Path(os.environ["XDG_DATA_HOME"]).parent
    files = all_files_bytes(tmp_path, user_dirs)
    assert path in files and store.path in files and channels.path in files
    for name, data in files.items():
        for value in values.values():
            assert value.encode() not in data, f"a secret is in {name}"

    qtbot.waitUntil(lambda: "encrypted file" in cdialog.backend.text(), timeout=5_000)
    qtbot.waitUntil(lambda: dialog.status.text() == summary, timeout=5_000)
    assert "encrypted file" in dialog.backend.text()
    assert "Move secrets…" not in dialog.backend.text()  # persistent: no warning
    assert not dialog.move_button.isEnabled()  # nowhere else to go without a keyring
    assert "no OS keyring works" in dialog.move_button.toolTip()
    assert f"Secrets are kept in: {info.name}." in app.window.about_text()
    assert not dialog.list.item(0).toolTip().startswith("password missing")


def test_a_failed_move_leaves_every_secret_in_memory(
    app: Application,
    qtbot: QtBot,
    store: ProfileStore,
    channels: ChannelStore,
    secrets: SecretStore,
    memory: MemoryKeyring,
) -> None:
    # An encrypted file from before, locked by another master password.
    SecretStore.encrypted_file(secrets_file_path(), "the-real-master").set(
        "someone", "password", "older-secret"
    )
    values = fill_everything(store, channels, secrets)
    dialog = open_channels(app, qtbot)
    dialog.move_button.click()
    move = dialog.move_dialog
    assert move is not None
    with qtbot.waitSignal(app.channel_service.failed, timeout=MOVE_TIMEOUT) as blocker:
        choose_file(qtbot, move, MASTER, MASTER)
    message = blocker.args[0]
    assert message == (
        "the secrets were not moved (they are all still in memory (this session only)): "
        f"wrong master password for the encrypted secrets file {secrets_file_path()}"
    )
    assert MASTER not in message
    assert dialog.errors.isVisible() and dialog.errors.text() == message
    assert dialog.move_button.isEnabled()
    assert secrets.info.kind == "memory" and "memory" in dialog.backend.text()
    for (owner, field), value in values.items():
        assert memory.get_password(SERVICE, f"{owner}/{field}") == value
    file = SecretStore.encrypted_file(secrets_file_path(), "the-real-master")
    assert file.get("someone", "password") == "older-secret"
    assert all(file.get(owner, field) is None for owner, field in values)


@pytest.mark.parametrize(
    ("kind", "offers_keyring", "offers_file"),
    [("memory", True, True), ("encrypted-file", True, False), ("keyring", False, True)],
)
def test_move_offers_a_working_os_keyring(
    qtbot: QtBot, kind: str, offers_keyring: bool, offers_file: bool
) -> None:
    dialog = ProfileManagerDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    persistent = kind != "memory"
    info = BackendInfo(kind, persistent, persistent, kind=kind, os_keyring="SecretService")  # type: ignore[arg-type]
    dialog.show_loaded(LoadResult(), info)
    dialog.move_button.click()
    move = dialog.move_dialog
    assert move is not None
    assert move.keyring.isVisible() is offers_keyring
    assert move.encrypted.isVisible() is offers_file
    if not offers_keyring:
        return
    assert move.keyring.text() == "In the OS &keyring (SecretService)" and move.keyring.isChecked()
    assert not move.password.isEnabled()
    with qtbot.waitSignal(dialog.moveRequested, timeout=1_000) as blocker:
        move.buttons.button(move.buttons.StandardButton.Ok).click()
    assert blocker.args == [MoveTarget("keyring")]
    assert not dialog.move_button.isEnabled()  # one move at a time
    dialog.show_failed("the secrets were not moved: ...")
    assert dialog.move_button.isEnabled()
