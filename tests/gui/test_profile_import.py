"""Import… and Export… in the profile manager, offscreen, with a real ProfileStore on a
tmp file, session-memory secrets and the real profile SettingsService thread, wired
the way app.py wires the dialog (``_wire_service_dialog`` plus the import/export
names)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from PySide6.QtWidgets import QFileDialog, QMessageBox
from pytestqt.qtbot import QtBot

from etcdmon_gui.model.profile import ImportResult, Profile, TLSSettings
from etcdmon_gui.store.profiles import ProfileSettings, ProfileStore, export_profiles
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.ui.profile_manager_dialog import ProfileManagerDialog
from etcdmon_gui.workers.settings_service import SettingsService, SettingsServiceHandle
from etcdmon_gui.workers.settings_testers import ConnectionTester

SECRET = "exp0rt-Pa55word"  # a throwaway test secret
TIMEOUT = 5_000


def screenshots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ETCDMON_SCREENSHOTS") or tmp_path)


def shoot(qtbot: QtBot, dialog: ProfileManagerDialog, path: Path) -> None:
    """Save a picture of the dialog once its layout has given the status line (which
    wraps) its height."""
    status = dialog.status
    qtbot.waitUntil(lambda: status.height() >= status.heightForWidth(status.width()))
    assert dialog.grab().save(str(path))


def wire(dialog: ProfileManagerDialog, service: SettingsServiceHandle) -> None:
    """What app.py connects: requests by name, answers to ``show_<answer>``."""
    for name in ("load", "save", "delete", "test", "move"):
        getattr(dialog, f"{name}Requested").connect(getattr(service, name))
    dialog.importRequested.connect(service.import_file)
    dialog.exportRequested.connect(service.export_file)
    answers = (
        "present", "missing", "loaded", "moved", "saved", "deleted", "tested", "failed",
        "imported", "clashed", "exported",
    )  # fmt: skip
    for name in answers:
        getattr(service, name).connect(getattr(dialog, f"show_{name}"))


@pytest.fixture
def service(store: ProfileStore, secrets: SecretStore) -> Iterator[SettingsServiceHandle]:
    handle = SettingsServiceHandle(
        SettingsService(ProfileSettings(store, secrets), ConnectionTester()), "profiles"
    )
    handle.start()
    yield handle
    assert handle.shutdown()


@pytest.fixture
def dialog(qtbot: QtBot, service: SettingsServiceHandle) -> ProfileManagerDialog:
    manager = ProfileManagerDialog()
    qtbot.addWidget(manager)
    wire(manager, service)
    with qtbot.waitSignal(service.loaded, timeout=TIMEOUT):
        manager.show()
    return manager


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


def names(dialog: ProfileManagerDialog) -> list[str]:
    return [dialog.list.item(i).text() for i in range(dialog.list.count())]


def import_(
    qtbot: QtBot, service: SettingsServiceHandle, dialog: ProfileManagerDialog, path: Path
) -> ImportResult:
    with qtbot.waitSignal(service.imported, timeout=TIMEOUT) as blocker:
        dialog.import_file(str(path))
    result: ImportResult = blocker.args[0]
    return result


def test_import_lists_the_profiles_asks_before_replacing_and_replaces(
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    service: SettingsServiceHandle,
    dialog: ProfileManagerDialog,
) -> None:
    assert names(dialog) == [] and dialog.import_button.isEnabled()
    assert not dialog.export_button.isEnabled()  # nothing to export yet
    theirs = team()
    source = tmp_path / "team.yaml"
    source.write_text(export_profiles(theirs))

    result = import_(qtbot, service, dialog, source)
    assert result.added == ("staging", "prod")
    assert names(dialog) == ["staging", "prod · PRODUCTION"]
    assert store.load().profiles == theirs
    status = dialog.status.text()
    assert status.startswith("Imported 2 profiles from “team.yaml”: added “staging” and “prod”.")
    assert (
        "enter the password of “staging”; the client certificate and client key of “prod”" in status
    )
    assert dialog.form.name.text() == "staging"  # the first one imported is shown
    assert dialog.export_button.isEnabled()
    shoot(qtbot, dialog, screenshots(tmp_path) / "profile_import_done.png")

    # The same file again: nothing is imported until the user says to replace.
    edited = [theirs[0].model_copy(update={"endpoints": ["10.0.0.2:2379"]}), theirs[1]]
    source.write_text(export_profiles(edited))
    with qtbot.waitSignal(service.clashed, timeout=TIMEOUT) as blocker:
        dialog.import_file(str(source))
    assert blocker.args == [str(source), ["staging", "prod"]]
    box = dialog.replace_box
    assert box is not None and box.isVisible() and box.isModal()
    assert "“staging” and “prod”" in box.text() and "tagged production" in box.informativeText()
    assert box.grab().save(str(screenshots(tmp_path) / "profile_import_replace.png"))
    assert store.load().profiles == theirs
    [replace] = [b for b in box.buttons() if b.text() == "Replace"]
    with qtbot.waitSignal(service.imported, timeout=TIMEOUT) as blocker:
        replace.click()
    assert blocker.args[0].replaced == ("staging", "prod")
    assert dialog.replace_box is None
    assert store.load().profiles == edited
    assert names(dialog) == ["staging", "prod · PRODUCTION"]
    assert dialog.status.text().startswith("Imported 2 profiles from “team.yaml”: replaced")

    # Asked again, and cancelled: nothing changes.
    with qtbot.waitSignal(service.clashed, timeout=TIMEOUT):
        dialog.import_file(str(source))
    assert dialog.replace_box is not None
    dialog.replace_box.button(QMessageBox.StandardButton.Cancel).click()
    assert dialog.status.text() == "Nothing imported from “team.yaml”."
    assert store.load().profiles == edited


def test_a_malformed_file_says_why_and_changes_nothing(
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    service: SettingsServiceHandle,
    dialog: ProfileManagerDialog,
) -> None:
    store.add(Profile(name="dev", endpoints=["127.0.0.1:2379"]))
    with qtbot.waitSignal(service.loaded, timeout=TIMEOUT):
        service.load()
    before = store.path.read_bytes()
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nprofiles:\n- name: a\n  endpoints: [x:1\n")
    with qtbot.waitSignal(service.failed, timeout=TIMEOUT) as blocker:
        dialog.import_file(str(bad))
    message = blocker.args[0]
    assert message.startswith(f"nothing imported:\n  {bad}, line ") and "not valid YAML" in message
    assert dialog.errors.isVisible() and dialog.errors.text() == message
    assert store.path.read_bytes() == before
    assert names(dialog) == ["dev"] and dialog.import_button.isEnabled()
    shoot(qtbot, dialog, screenshots(tmp_path) / "profile_import_failed.png")


def test_export_writes_a_file_that_imports_back_equal_without_secrets(
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    secrets: SecretStore,
    service: SettingsServiceHandle,
    dialog: ProfileManagerDialog,
) -> None:
    mine = team()
    store.save(mine)
    secrets.set(mine[0].id, "password", SECRET)
    secrets.set(mine[1].id, "tls_key", "-----BEGIN PRIVATE KEY-----\nk3y\n-----END")
    with qtbot.waitSignal(service.loaded, timeout=TIMEOUT):
        service.load()
    target = tmp_path / "share" / "team.yaml"
    target.parent.mkdir()

    # Through the real file dialog, as a person would choose the file.
    dialog.export_button.click()
    chooser = dialog.file_dialog
    assert chooser is not None and chooser.isVisible()
    assert chooser.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    chooser.selectFile(str(target))
    with qtbot.waitSignal(service.exported, timeout=TIMEOUT) as blocker:
        chooser.accept()
    assert blocker.args == [str(target), 2]
    assert dialog.file_dialog is None
    assert dialog.status.text().startswith(f"Exported 2 profiles to “{target}”.")
    shoot(qtbot, dialog, screenshots(tmp_path) / "profile_export_done.png")

    text = target.read_text()
    assert SECRET not in text and "k3y" not in text
    assert "#   staging: password" in text and "#   prod: tls_cert, tls_key" in text
    assert yaml.safe_load(text)["schema_version"] == 1
    elsewhere = ProfileStore(tmp_path / "elsewhere" / "profiles.yaml")
    elsewhere.import_file(target)
    assert elsewhere.load().profiles == mine


def test_start_import_opens_a_file_dialog_whose_choice_is_imported(
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    service: SettingsServiceHandle,
    dialog: ProfileManagerDialog,
) -> None:
    source = tmp_path / "team.yml"
    source.write_text(export_profiles(team()))
    dialog.start_import()  # what a first-run page's "Import profiles…" calls
    chooser = dialog.file_dialog
    assert chooser is not None and chooser.isVisible()
    assert chooser.acceptMode() == QFileDialog.AcceptMode.AcceptOpen
    assert chooser.nameFilters() == ["YAML files (*.yaml *.yml)", "All files (*)"]
    chooser.selectFile(str(source))
    with qtbot.waitSignal(service.imported, timeout=TIMEOUT):
        chooser.accept()
    assert [p.name for p in store.load().profiles] == ["staging", "prod"]
