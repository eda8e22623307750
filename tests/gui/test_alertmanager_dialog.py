"""The Alertmanager channel in the app's channels dialog, offscreen: its form (built
from the settings model), saved to channels.yaml with its password in the secret
store, and its "Send test notification" accepted by a real Alertmanager (basic auth)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.model.delivery import DeliveryRecord, DeliveryStatus
from etcdmon_gui.notify.channels.alertmanager import AlertmanagerChannelConfig
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.ui.channels_dialog import ChannelsDialog
from tests.alertmanager_support import PASSWORD, USER, Alertmanager, running_alertmanager
from tests.dialog_support import keep_for_session


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path_factory.mktemp("alertmanager")) as am:
        yield am


@pytest.fixture
def app(qapp: QApplication, qtbot: QtBot, tmp_path: Path) -> Iterator[Application]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    application = Application(
        qapp,
        settings,
        interval_s=1,
        profiles=ProfileStore(tmp_path / "profiles.yaml"),
        secrets=SecretStore.memory(),
        data_dir=tmp_path,
    )
    qtbot.addWidget(application.window)
    application.window.show()
    yield application
    application.shutdown()


def _type(qtbot: QtBot, dialog: ChannelsDialog, field: str, text: str) -> None:
    assert dialog.form is not None
    edit = dialog.form.field(field).editor
    assert isinstance(edit, QLineEdit)
    edit.selectAll()
    edit.del_()
    qtbot.keyClicks(edit, text)


def test_the_form_saves_the_channel_and_its_test_is_accepted(
    app: Application, qtbot: QtBot, tmp_path: Path, alertmanager: Alertmanager
) -> None:
    with qtbot.waitSignal(app.channel_service.loaded, timeout=5_000):
        app.window.channels_action.trigger()
    dialog = app.channels_dialog
    assert dialog is not None
    dialog.add_actions["alertmanager"].trigger()
    form = dialog.form
    assert form is not None and form.type_name == "alertmanager"
    # Rows in the model's order, each secret after the setting it needs.
    assert list(form.fields)[:4] == ["name", "enabled", "urls", "labels"]
    assert form.field("resend_s").editor.value() == 60.0
    assert form.field("verify_tls").editor.isChecked()
    password = form.field("alertmanager_password").editor
    assert password.echoMode() == QLineEdit.EchoMode.Password
    assert password.placeholderText() == "only with a user name"
    _type(qtbot, dialog, "urls", "http://am-1:9093, ftp://am-2")
    _type(qtbot, dialog, "labels", "cluster=x")
    dialog.save_button.click()  # refused: two fields marked
    urls_error = form.field("urls").error.text()
    assert "not an http:// or https:// URL" in urls_error
    assert "etcdmon sets the label" in form.field("labels").error.text()
    out = Path(os.environ.get("ETCDMON_SCREENSHOTS") or tmp_path)
    assert dialog.grab().save(str(out / "channels_dialog_alertmanager_errors.png"))

    _type(qtbot, dialog, "urls", alertmanager.url)
    _type(qtbot, dialog, "labels", "env=prod, team=storage")
    _type(qtbot, dialog, "username", USER)
    assert password.placeholderText() == "required: none is stored yet"
    _type(qtbot, dialog, "alertmanager_password", PASSWORD)
    with qtbot.waitSignal(app.channel_service.saved, timeout=5_000) as saved:
        dialog.save_button.click()
        keep_for_session(dialog)
    config = saved.args[0]
    assert isinstance(config, AlertmanagerChannelConfig)
    assert config.static_labels == {"env": "prod", "team": "storage"}
    text = (tmp_path / "channels.yaml").read_text(encoding="utf-8")
    assert PASSWORD not in text
    [entry] = yaml.safe_load(text)["channels"]
    assert entry["type"] == "alertmanager" and entry["urls"] == [alertmanager.url]
    assert entry["username"] == USER
    assert app.secrets.get(config.id, "alertmanager_password") == PASSWORD

    with qtbot.waitSignal(app.channel_service.tested, timeout=10_000) as tested:
        dialog.test_button.click()
    record = tested.args[0]
    assert isinstance(record, DeliveryRecord)
    assert record.status is DeliveryStatus.DELIVERED, record.error
    assert dialog.test_summary.text().startswith("Delivered")
    assert dialog.grab().save(str(out / "channels_dialog_alertmanager.png"))
