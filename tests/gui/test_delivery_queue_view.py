"""The Deliveries tab shows the notifications that wait for their next try: fed by the
log's records, and, after a restart, by the durable queue in the history file (the
whole application offscreen, a real webhook receiver on loopback answering 503)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
    QueuedDelivery,
)
from etcdmon_gui.notify.channels.webhook import WebhookChannelConfig
from etcdmon_gui.store.channels import ChannelStore
from etcdmon_gui.store.history import DeliveryQueueStore
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.ui.delivery_log_widget import (
    COL_ATTEMPT,
    Q_NEXT,
    Q_TRIES,
    DeliveryLogWidget,
)

TOKEN = "qu3ueS3cretPath"


def resolved_event(at: float) -> AlertEvent:
    alert = Alert(
        fingerprint="9a3e6c1f00b2d4e7",
        rule="etcdMembersDown",
        severity=Severity.WARNING,
        cluster="profile:p1",
        cluster_name="prod",
        member="m2",
        state=AlertState.RESOLVED,
        value=0.0,
        summary="member m2 is back",
        since=at,
        fired_at=at - 600,
        resolved_at=at,
    )
    return AlertEvent(EventKind.RESOLVED, alert, at)


def record(status: DeliveryStatus, attempts: int, next_at: float | None) -> DeliveryRecord:
    return DeliveryRecord(
        delivery_id=7,
        channel_id="hook",
        channel_name="ops hook",
        channel_type="webhook",
        fingerprint="9a3e6c1f00b2d4e7",
        rule="etcdMembersDown",
        cluster_name="prod",
        member="m2",
        event_kind=EventKind.RESOLVED,
        test=False,
        status=status,
        attempts=attempts,
        created_at=time.time() - 60,
        error="answered 503",
        next_attempt_at=next_at,
    )


def attempt(n: int, outcome: AttemptOutcome, next_at: float | None = None) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=7,
        channel_id="hook",
        channel_name="ops hook",
        channel_type="webhook",
        fingerprint="9a3e6c1f00b2d4e7",
        event_kind=EventKind.RESOLVED,
        test=False,
        attempt=n,
        max_attempts=None,
        at=time.time(),
        duration_s=0.01,
        outcome=outcome,
        next_attempt_at=next_at,
    )


def test_a_waiting_delivery_is_listed_until_it_is_delivered(qtbot: QtBot) -> None:
    view = DeliveryLogWidget()
    qtbot.addWidget(view)
    view.show()
    assert view.queue_table.isHidden()
    later = time.time() + 300
    view.add_attempt(
        attempt(3, AttemptOutcome.RETRYING, later), record(DeliveryStatus.PENDING, 3, later)
    )
    q = view.queue_model
    assert q.rowCount() == 1 and view.queue_table.isVisible()
    assert q.data(q.index(0, Q_TRIES)) == "3"
    assert q.data(q.index(0, Q_NEXT)) == time.strftime("%H:%M:%S", time.localtime(later))
    assert view.queue_label.text() == "1 notification waiting for its next attempt"
    # An alert's delivery has no "of N": it is bounded by time.
    assert view.model.data(view.model.index(0, COL_ATTEMPT)) == "3"
    view.add_attempt(
        attempt(4, AttemptOutcome.DELIVERED), record(DeliveryStatus.DELIVERED, 4, None)
    )
    assert q.rowCount() == 0 and view.queue_table.isHidden()


class Refusing:
    """A webhook receiver on loopback that answers 503 to every POST."""

    def __init__(self) -> None:
        self.posts = 0
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.cond:
                    receiver.posts += 1
                    receiver.cond.notify_all()
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{TOKEN}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def refusing() -> Iterator[Refusing]:
    r = Refusing()
    yield r
    r.close()


def test_after_a_restart_the_queued_delivery_is_shown_tried_and_kept(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    secrets: SecretStore,
    refusing: Refusing,
) -> None:
    """A RESOLVED the last run could not deliver: the app takes it back from the history
    file, tries it at once, lists it with its tries and next attempt, and keeps it."""
    ChannelStore(tmp_path / "channels.yaml").save(
        [WebhookChannelConfig(id="hook", name="ops hook")]
    )
    secrets.set("hook", "webhook_url", refusing.url)
    history = tmp_path / "history.sqlite3"
    earlier = time.time() - 600
    last_run = DeliveryQueueStore(history, owner="app")
    last_run.save(QueuedDelivery("q1", "hook", resolved_event(earlier), earlier, 4, earlier, "503"))
    last_run.close()

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    app = Application(
        qapp, settings, interval_s=1, profiles=store, secrets=secrets, data_dir=tmp_path
    )
    try:
        qtbot.addWidget(app.window)
        app.window.show()
        view = app.window.deliveries
        q = view.queue_model
        qtbot.waitUntil(lambda: q.rowCount() == 1 and q.records()[0].attempts == 5, timeout=10_000)
        (waiting,) = q.records()
        assert waiting.next_attempt_at is not None and waiting.next_attempt_at > time.time()
        assert q.data(q.index(0, Q_TRIES)) == "5"
        assert view.queue_label.text() == "1 notification waiting for its next attempt"
        assert refusing.posts == 1
        texts = [q.data(q.index(0, c)) for c in range(q.columnCount())]
        assert not [t for t in texts if TOKEN in str(t)]
    finally:
        app.shutdown()
    db = sqlite3.connect(history)
    try:
        rows = db.execute("SELECT id, kind, attempts FROM delivery_queue").fetchall()
    finally:
        db.close()
    assert rows == [("q1", "resolved", 5)]  # still there for the next start
