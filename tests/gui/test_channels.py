"""The notification channels dialog and the Deliveries tab, offscreen, with the real
channel SettingsService thread and NotificationDispatcher, channels.yaml in tmp_path,
session-memory secrets, and a real HTTP receiver on loopback."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.model.alerts import EventKind
from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
)
from etcdmon_gui.notify.channels.webhook import WebhookChannelConfig
from etcdmon_gui.notify.retry import RetryPolicy
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.ui.channels_dialog import ChannelsDialog
from etcdmon_gui.ui.delivery_log_widget import (
    COL_OUTCOME,
    FAILED_BACKGROUND,
    DeliveryLogModel,
)
from tests.dialog_support import keep_for_session

# The offscreen platform cannot raise a window or pass size hints on; Qt says so at
# WARNING level when the dialog is shown (a mark replaces the ini list, so both).
TOKEN = "T0ps3cretW3bh00kPath"
SIGNING = "sh4red-s1gning-key"


class Receiver:
    """An Alertmanager-style webhook receiver on loopback answering ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                receiver.headers.append(dict(self.headers))
                receiver.bodies.append(json.loads(body))
                payload = b"receiver says no" if receiver.status >= 300 else b"ok"
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def secrets() -> SecretStore:
    return SecretStore.memory()


@pytest.fixture
def channels_app(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, secrets: SecretStore
) -> Iterator[Application]:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    app = Application(
        qapp,
        settings,
        interval_s=1,
        profiles=ProfileStore(tmp_path / "profiles.yaml"),
        secrets=secrets,
        data_dir=tmp_path,
    )
    # Retries in milliseconds, so a failing receiver is given up on quickly.
    app.dispatcher.set_policy(
        RetryPolicy(attempts=3, base_delay_s=0.02, max_delay_s=0.05, jitter=0)
    )
    qtbot.addWidget(app.window)
    app.window.show()
    yield app
    app.shutdown()


def open_dialog(app: Application, qtbot: QtBot) -> ChannelsDialog:
    """File → Notification channels…, then wait until the service has read the file."""
    with qtbot.waitSignal(app.channel_service.loaded, timeout=5_000):
        app.window.channels_action.trigger()
    assert app.channels_dialog is not None and app.channels_dialog.isVisible()
    return app.channels_dialog


def editor(dialog: ChannelsDialog, name: str) -> Any:
    assert dialog.form is not None
    return dialog.form.field(name).editor


def type_into(qtbot: QtBot, edit: QLineEdit, text: str) -> None:
    edit.selectAll()
    edit.del_()
    qtbot.keyClicks(edit, text)


def add_webhook(qtbot: QtBot, dialog: ChannelsDialog, name: str, url: str | None) -> None:
    dialog.add_actions["webhook"].trigger()
    type_into(qtbot, editor(dialog, "name"), name)
    if url is not None:
        type_into(qtbot, editor(dialog, "webhook_url"), url)


def save(app: Application, qtbot: QtBot, dialog: ChannelsDialog) -> WebhookChannelConfig:
    with qtbot.waitSignal(app.channel_service.saved, timeout=5_000) as blocker:
        dialog.save_button.click()
        keep_for_session(dialog)
    config = blocker.args[0]
    assert isinstance(config, WebhookChannelConfig)
    return config


def send_test(
    app: Application, qtbot: QtBot, dialog: ChannelsDialog, timeout: int = 10_000
) -> DeliveryRecord:
    with qtbot.waitSignal(app.channel_service.tested, timeout=timeout) as blocker:
        dialog.test_button.click()
        assert not dialog.test_button.isEnabled()
        assert dialog.test_button.text() == "Sending…"
    record = blocker.args[0]
    assert isinstance(record, DeliveryRecord)
    assert dialog.test_button.isEnabled()
    return record


def visible_texts(app: Application, dialog: ChannelsDialog) -> list[str]:
    """Everything shown, except what is typed into the password fields."""
    texts = [dialog.windowTitle()]
    texts += [
        e.text() + e.placeholderText() + e.toolTip()
        for e in dialog.findChildren(QLineEdit)
        if e.echoMode() != QLineEdit.EchoMode.Password
    ]
    texts += [e.placeholderText() + e.toolTip() for e in dialog.findChildren(QLineEdit)]
    texts += [label.text() + label.toolTip() for label in dialog.findChildren(QLabel)]
    texts += [label.text() for label in app.window.findChildren(QLabel)]
    model = app.window.deliveries.model
    for row in range(model.rowCount()):
        for col in range(model.columnCount()):
            index = model.index(row, col)
            texts += [str(model.data(index)), str(model.data(index, Qt.ItemDataRole.ToolTipRole))]
    return texts


def channels_file(tmp_path: Path) -> dict[str, Any]:
    data = yaml.safe_load((tmp_path / "channels.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_a_webhook_channel_is_saved_without_its_url_and_its_test_is_delivered(
    channels_app: Application,
    qtbot: QtBot,
    tmp_path: Path,
    secrets: SecretStore,
    receiver: Receiver,
) -> None:
    app = channels_app
    dialog = open_dialog(app, qtbot)
    assert dialog.list.topLevelItemCount() == 0
    assert "memory (this session only)" in dialog.backend.text()
    add_webhook(qtbot, dialog, "ops webhook", receiver.url)
    type_into(qtbot, editor(dialog, "receiver"), "ops-team")
    config = save(app, qtbot, dialog)

    # channels.yaml has the channel, never the URL; the URL is in the secret store.
    text = (tmp_path / "channels.yaml").read_text(encoding="utf-8")
    assert TOKEN not in text and "127.0.0.1" not in text
    [saved] = channels_file(tmp_path)["channels"]
    assert saved["type"] == "webhook" and saved["name"] == "ops webhook"
    assert saved["receiver"] == "ops-team" and saved["id"] == config.id
    assert secrets.get(config.id, "webhook_url") == receiver.url
    # The dispatcher uses the new channel from now on.
    assert [c.id for c in app.dispatcher.channels()] == [config.id]
    # The list shows it; the form keeps the URL out of sight.
    item = dialog.list.topLevelItem(0)
    assert item is not None
    assert (item.text(0), item.text(1), item.text(2)) == ("ops webhook", "Webhook", "yes")
    url_edit = editor(dialog, "webhook_url")
    assert url_edit.echoMode() == QLineEdit.EchoMode.Password
    assert url_edit.text() == ""
    assert url_edit.placeholderText() == "(stored in memory (this session only))"

    # Send test notification, with the stored URL (the field is blank).
    record = send_test(app, qtbot, dialog)
    assert record.status is DeliveryStatus.DELIVERED and record.attempts == 1
    assert dialog.test_summary.text().startswith("Delivered")
    assert "in 1 attempt" in dialog.test_summary.text()
    [body] = receiver.bodies
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["receiver"] == "ops-team"
    [alert] = body["alerts"]
    assert alert["status"] == "firing" and alert["fingerprint"]
    assert {"alertname", "severity", "cluster"} <= set(alert["labels"])
    assert alert["annotations"]["summary"].startswith("Test notification")
    assert alert["startsAt"] and alert["endsAt"]

    # The Deliveries tab shows the attempt.
    log = app.window.deliveries
    qtbot.waitUntil(lambda: log.model.rowCount() == 1, timeout=5_000)
    [attempt] = log.model.attempts()
    assert attempt.outcome is AttemptOutcome.DELIVERED and attempt.test
    assert log.model.data(log.model.index(0, COL_OUTCOME)) == "delivered"
    # No secret anywhere on screen.
    assert not [t for t in visible_texts(app, dialog) if TOKEN in t or receiver.url in t]


def test_a_failing_receiver_is_reported_after_the_configured_attempts(
    channels_app: Application,
    qtbot: QtBot,
    tmp_path: Path,
    secrets: SecretStore,
    receiver: Receiver,
) -> None:
    app = channels_app
    receiver.status = 500
    dialog = open_dialog(app, qtbot)
    add_webhook(qtbot, dialog, "broken hook", receiver.url)
    progress: list[str] = []  # what the dialog says when a try fails and is retried
    app.delivery_log.delivery.connect(
        lambda a, _r: (
            progress.append(dialog.test_summary.text())
            if a.outcome is AttemptOutcome.RETRYING
            else None
        )
    )
    # Tested before it is saved: the typed-in URL is used, and nothing is stored.
    record = send_test(app, qtbot, dialog)
    assert len(progress) == 2
    assert progress[0].startswith("Attempt 1 of 3 failed: POST http://127.0.0.1:")
    assert "answered 500" in progress[0] and "retrying at" in progress[0]
    assert record.status is DeliveryStatus.FAILED and record.attempts == 3
    assert len(receiver.bodies) == 3
    summary = dialog.test_summary.text()
    assert summary.startswith("Failed") and "after 3 attempts" in summary
    assert "answered 500" in summary and TOKEN not in summary
    assert not (tmp_path / "channels.yaml").exists()
    assert secrets.present(record.channel_id) == []

    log = app.window.deliveries
    qtbot.waitUntil(lambda: log.model.rowCount() == 3, timeout=5_000)
    outcomes = [a.outcome for a in log.model.attempts()]  # newest first
    assert outcomes == [AttemptOutcome.FAILED, AttemptOutcome.RETRYING, AttemptOutcome.RETRYING]
    assert [a.attempt for a in log.model.attempts()] == [3, 2, 1]
    assert all("answered 500" in (a.error or "") for a in log.model.attempts())
    failed_row = log.model.index(0, COL_OUTCOME)
    assert log.model.data(failed_row) == "failed"
    background = log.model.data(failed_row, Qt.ItemDataRole.BackgroundRole)
    assert background.color().name() == FAILED_BACKGROUND
    assert "1 delivery failed" in log.summary.text()
    assert not [t for t in visible_texts(app, dialog) if TOKEN in t or receiver.url in t]


def test_a_blank_secret_keeps_the_stored_one(
    channels_app: Application,
    qtbot: QtBot,
    tmp_path: Path,
    secrets: SecretStore,
    receiver: Receiver,
) -> None:
    app = channels_app
    dialog = open_dialog(app, qtbot)
    add_webhook(qtbot, dialog, "hook", receiver.url)
    config = save(app, qtbot, dialog)
    type_into(qtbot, editor(dialog, "receiver"), "renamed-receiver")
    editor(dialog, "enabled").setChecked(False)
    assert editor(dialog, "webhook_url").text() == ""
    edited = save(app, qtbot, dialog)
    assert edited.id == config.id and edited.receiver == "renamed-receiver"
    assert not edited.enabled
    [saved] = channels_file(tmp_path)["channels"]
    assert saved["receiver"] == "renamed-receiver" and saved["enabled"] is False
    assert secrets.get(config.id, "webhook_url") == receiver.url
    item = dialog.list.topLevelItem(0)
    assert item is not None and item.text(2) == "no"
    # The stored URL still works for a test of the saved channel.
    assert send_test(app, qtbot, dialog).status is DeliveryStatus.DELIVERED
    assert len(receiver.bodies) == 1


def test_delete_removes_the_channel_and_its_secrets(
    channels_app: Application,
    qtbot: QtBot,
    tmp_path: Path,
    secrets: SecretStore,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = channels_app
    dialog = open_dialog(app, qtbot)
    add_webhook(qtbot, dialog, "signed hook", receiver.url)
    editor(dialog, "sign").setChecked(True)
    type_into(qtbot, editor(dialog, "webhook_secret"), SIGNING)
    config = save(app, qtbot, dialog)
    assert secrets.present(config.id) == ["webhook_url", "webhook_secret"]
    # The signed test carries the signature header.
    assert send_test(app, qtbot, dialog).status is DeliveryStatus.DELIVERED
    assert receiver.headers[0]["X-Etcdmon-Signature"].startswith("sha256=")

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    dialog.delete_button.click()  # answered No: nothing happens
    assert [c["id"] for c in channels_file(tmp_path)["channels"]] == [config.id]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(app.channel_service.deleted, timeout=5_000):
        dialog.delete_button.click()
    assert channels_file(tmp_path)["channels"] == []
    assert secrets.present(config.id) == []
    assert app.dispatcher.channels() == []
    assert dialog.list.topLevelItemCount() == 0
    assert dialog.status.text() == "Deleted “signed hook” and its secrets."
    assert not dialog.save_button.isEnabled() and not dialog.test_button.isEnabled()


def test_invalid_fields_are_shown_inline_and_nothing_is_saved(
    channels_app: Application, qtbot: QtBot, tmp_path: Path, secrets: SecretStore
) -> None:
    app = channels_app
    dialog = open_dialog(app, qtbot)
    add_webhook(qtbot, dialog, "hook", None)
    type_into(qtbot, editor(dialog, "external_url"), "ftp://example.com")
    assert dialog.form is not None
    with qtbot.assertNotEmitted(dialog.saveRequested):
        dialog.save_button.click()
    external = dialog.form.field("external_url")
    assert external.error.isVisible()
    assert "http:// or https://" in external.error.text()
    assert external.editor.property("invalid") is True
    url = dialog.form.field("webhook_url")
    assert url.error.isVisible() and url.error.text().startswith("required")
    assert dialog.errors.text() == "Correct the 2 fields marked in red."
    # A URL that is not one is refused without being repeated.
    type_into(qtbot, url.editor, f"not a url {TOKEN}")
    with qtbot.assertNotEmitted(dialog.testRequested):
        dialog.test_button.click()
    assert url.error.text() == "expected an http:// or https:// URL with a host"
    assert not [t for t in visible_texts(app, dialog) if TOKEN in t]
    assert not (tmp_path / "channels.yaml").exists()
    # Fixed, it saves, and the errors are gone.
    type_into(qtbot, external.editor, "")
    type_into(qtbot, url.editor, "http://127.0.0.1:9/hook")
    save(app, qtbot, dialog)
    assert not dialog.errors.isVisible()
    assert not dialog.form.field("webhook_url").error.isVisible()
    assert len(channels_file(tmp_path)["channels"]) == 1


def test_a_malformed_file_is_explained_and_never_overwritten(
    channels_app: Application, qtbot: QtBot, tmp_path: Path
) -> None:
    app = channels_app
    path = tmp_path / "channels.yaml"
    path.write_text(
        "schema_version: 1\nchannels:\n  - type: webhook\n    name: [\n", encoding="utf-8"
    )
    original = path.read_bytes()
    with qtbot.waitSignal(app.channel_service.failed, timeout=5_000) as blocker:
        app.window.channels_action.trigger()
    dialog = app.channels_dialog
    assert dialog is not None
    assert str(path) in blocker.args[0] and "not valid YAML" in blocker.args[0]
    assert dialog.errors.isVisible() and str(path) in dialog.errors.text()
    add_webhook(qtbot, dialog, "hook", "http://127.0.0.1:9/hook")
    with qtbot.waitSignal(app.channel_service.failed, timeout=5_000) as blocker:
        dialog.save_button.click()
    assert blocker.args[0].startswith("channel 'hook' was not saved: ")
    assert path.read_bytes() == original
    assert dialog.save_button.isEnabled()


def test_each_type_has_a_form_from_its_model(channels_app: Application, qtbot: QtBot) -> None:
    dialog = open_dialog(channels_app, qtbot)
    dialog.add_actions["email"].trigger()
    form = dialog.form
    assert form is not None and form.type_name == "email"
    assert form.field("host").editor.toolTip() == "SMTP server"
    assert form.field("port").editor.value() == 587
    assert form.field("security").editor.currentData() == "starttls"
    assert form.field("smtp_password").editor.echoMode() == QLineEdit.EchoMode.Password
    assert form.field("smtp_password").editor.placeholderText() == "only with a user name"
    type_into(qtbot, form.field("username").editor, "alerts")
    assert form.field("smtp_password").editor.placeholderText() == ("required: none is stored yet")
    for kind, secret in (("slack", "slack_webhook"), ("pagerduty", "pagerduty_routing_key")):
        dialog.add_actions[kind].trigger()
        assert dialog.form is not None and dialog.form.type_name == kind
        assert dialog.form.field(secret).editor.echoMode() == QLineEdit.EchoMode.Password
    dialog.add_actions["log"].trigger()
    assert dialog.form is not None
    assert dialog.form.field("level").editor.count() == 4
    assert "timeout_s" not in dialog.form.fields  # no network: no timeout


def test_the_delivery_log_is_prefilled_from_the_dispatcher(
    channels_app: Application, qtbot: QtBot
) -> None:
    app = channels_app
    log = app.window.deliveries
    tabs = [app.window.bottom.tabText(i) for i in range(app.window.bottom.count())]
    assert tabs[app.window.deliveries_tab] == "Deli&veries"
    with qtbot.waitSignal(app.delivery_log.delivery, timeout=5_000):
        app.dispatcher.send_test("no-such-channel")  # recorded as failed at once
    qtbot.waitUntil(lambda: log.model.rowCount() == 1, timeout=5_000)
    log.model.clear()
    # The app asked for the history once at start-up; wait for the answer that holds
    # the attempt, not for that first (possibly late, empty) one.
    with qtbot.waitSignal(
        app.delivery_log.history, timeout=5_000, check_params_cb=lambda items: len(items) == 1
    ):
        app.delivery_log.load_history()
    [attempt] = log.model.attempts()
    assert attempt.outcome is AttemptOutcome.FAILED and attempt.channel_id == "no-such-channel"
    log.problems_only.setChecked(True)
    assert log.proxy.rowCount() == 1


def _attempt(
    delivery_id: int, n: int, at: float, outcome: AttemptOutcome = AttemptOutcome.DELIVERED
) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=delivery_id,
        channel_id="c",
        channel_name="c",
        channel_type="log",
        fingerprint=f"f{delivery_id}",
        event_kind=EventKind.FIRING,
        test=False,
        attempt=n,
        max_attempts=3,
        at=at,
        duration_s=0.01,
        outcome=outcome,
    )


def test_the_delivery_log_is_bounded_newest_first_and_without_duplicates(qtbot: QtBot) -> None:
    model = DeliveryLogModel(max_rows=3)
    for i in range(5):
        model.add_attempt(_attempt(i, 1, 100.0 + i), None)
    model.add_attempt(_attempt(4, 1, 104.0), None)  # a duplicate
    assert [a.delivery_id for a in model.attempts()] == [4, 3, 2]
    model.set_history([(_attempt(i, 1, 100.0 + i), None) for i in range(6)])
    assert [a.delivery_id for a in model.attempts()] == [5, 4, 3]
    model.add_attempt(_attempt(0, 2, 90.0), None)  # older than all kept
    assert model.rowCount() == 3


def test_screenshots(
    channels_app: Application, qtbot: QtBot, tmp_path: Path, receiver: Receiver
) -> None:
    """Render the dialog and the Deliveries tab (ETCDMON_SCREENSHOTS=dir keeps them)."""
    app = channels_app
    out = Path(os.environ.get("ETCDMON_SCREENSHOTS") or tmp_path)
    dialog = open_dialog(app, qtbot)
    add_webhook(qtbot, dialog, "ops webhook", receiver.url)
    save(app, qtbot, dialog)
    assert send_test(app, qtbot, dialog).status is DeliveryStatus.DELIVERED
    receiver.status = 503
    add_webhook(qtbot, dialog, "on-call webhook", receiver.url)
    assert send_test(app, qtbot, dialog).status is DeliveryStatus.FAILED
    type_into(qtbot, editor(dialog, "external_url"), "not a url")
    dialog.save_button.click()
    assert dialog.grab().save(str(out / "channels_dialog.png"))
    dialog.add_actions["email"].trigger()
    assert dialog.grab().save(str(out / "channels_dialog_email.png"))
    dialog.close()
    app.window.show_deliveries_tab()
    qtbot.waitUntil(lambda: app.window.deliveries.model.rowCount() == 4, timeout=5_000)
    assert app.window.grab().save(str(out / "deliveries_tab.png"))
