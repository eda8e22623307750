"""The alerts' History tab, offscreen: stored transitions read from a real history file
through the whole application (newest first, filters narrowing the rows, the empty
text, a file that cannot be read), and the view's own rules: answers to older questions
dropped, new transitions coalesced into one question, none while hidden."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.model.history import AlertQuery
from etcdmon_gui.store.history import AlertHistory
from etcdmon_gui.ui.alert_history_widget import (
    COL_CLUSTER,
    COL_EVENT,
    COL_RULE,
    COL_SEVERITY,
    COL_TIME,
    EMPTY_TEXT,
    LOADING_TEXT,
    AlertHistoryWidget,
)
from etcdmon_gui.ui.alert_table_widget import AlertTableWidget
from tests.app_support import make_app

NOW = time.time()
HOUR = 3600.0
DAY = 86_400.0


def event(
    rule: str,
    ago: float,
    *,
    kind: EventKind = EventKind.FIRING,
    cluster: str = "prod-key",
    cluster_name: str = "prod",
    severity: Severity = Severity.CRITICAL,
    member: str | None = "etcd-1",
    value: float | None = 1.0,
    now: float = NOW,
) -> AlertEvent:
    state = AlertState.RESOLVED if kind == EventKind.RESOLVED else AlertState.FIRING
    alert = Alert(
        f"{rule}/{cluster}/{member}",
        rule,
        severity,
        cluster,
        cluster_name,
        member,
        state,
        value,
        f"{rule} on {member or cluster_name}",
        since=now - ago,
    )
    return AlertEvent(kind, alert, now - ago)


def stored_events() -> list[AlertEvent]:
    """Two clusters, three rules, every severity, and one event a few days old."""
    return [
        event("etcdNoLeader", 3 * DAY, member="etcd-2"),
        event("etcdNoLeader", 5 * HOUR, member="etcd-2"),
        event("etcdNoLeader", 4 * HOUR, kind=EventKind.RESOLVED, member="etcd-2", value=0.0),
        event("etcdHighFsyncDurations", 3 * HOUR, severity=Severity.WARNING, value=0.73),
        event("etcdHighFsyncDurations", 2 * HOUR, kind=EventKind.REPEAT, severity=Severity.WARNING),
        event(
            "etcdDatabaseQuotaLowSpace",
            30 * 60,
            cluster="stage-key",
            cluster_name="staging",
            severity=Severity.INFO,
            member=None,
            value=0.81,
        ),
    ]


def record(path: Path, events: list[AlertEvent]) -> None:
    history = AlertHistory(path)
    try:
        history.record(events)
    finally:
        history.close()


@pytest.fixture
def history_app(qapp: QApplication, qtbot: QtBot, tmp_path: Path) -> Iterator[Application]:
    """The application over a history file an earlier session filled."""
    record(tmp_path / "history.sqlite3", stored_events())
    app = make_app(qapp, qtbot, tmp_path)
    yield app
    app.shutdown()


def rows(view: AlertHistoryWidget, *columns: int) -> list[tuple[str, ...]]:
    """What the table shows, top to bottom."""
    proxy = view.proxy
    return [
        tuple(str(proxy.index(r, c).data(Qt.ItemDataRole.DisplayRole)) for c in columns)
        for r in range(proxy.rowCount())
    ]


def choose(qtbot: QtBot, view: AlertHistoryWidget, combo_name: str, data: object) -> None:
    """Pick a filter value and wait for the answer to the question it asks."""
    combo = getattr(view, combo_name)
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not offered by {combo_name}"
    with qtbot.waitSignal(view.historyRequested, timeout=5000):
        combo.setCurrentIndex(index)
    qtbot.waitUntil(lambda: view.pending_query() is None, timeout=5000)


def test_the_history_tab_lists_stored_transitions_and_filters_narrow_them(
    history_app: Application, qtbot: QtBot
) -> None:
    window = history_app.window
    window.show_alerts_tab()
    alerts = window.alerts
    view = alerts.history_view
    assert not view.isVisible()
    with qtbot.waitSignal(alerts.historyRequested, timeout=5000) as asked:
        alerts.tabs.setCurrentIndex(alerts.history_tab)
    query: AlertQuery = asked.args[0]
    assert query.since == pytest.approx(time.time() - DAY, abs=60) and query.until is None
    qtbot.waitUntil(lambda: view.pending_query() is None, timeout=5000)

    # The last 24 h by default, the newest first; the 3-day-old event is not listed.
    assert view.state_text() == ""
    assert rows(view, COL_EVENT, COL_RULE, COL_CLUSTER, COL_SEVERITY) == [
        ("firing", "etcdDatabaseQuotaLowSpace", "staging", "info"),
        ("still firing", "etcdHighFsyncDurations", "prod", "warning"),
        ("firing", "etcdHighFsyncDurations", "prod", "warning"),
        ("resolved", "etcdNoLeader", "prod", "critical"),
        ("firing", "etcdNoLeader", "prod", "critical"),
    ]
    assert view.status.text() == "5 events"
    # The filters offer the clusters and rules the history has.
    clusters = [view.cluster_filter.itemText(i) for i in range(view.cluster_filter.count())]
    assert clusters == ["All clusters", "prod", "staging"]
    assert view.rule_filter.findData("etcdNoLeader") > 0

    choose(qtbot, view, "severity_filter", Severity.WARNING)
    assert rows(view, COL_EVENT, COL_RULE) == [
        ("still firing", "etcdHighFsyncDurations"),
        ("firing", "etcdHighFsyncDurations"),
    ]
    choose(qtbot, view, "severity_filter", None)
    choose(qtbot, view, "cluster_filter", "stage-key")
    assert rows(view, COL_RULE) == [("etcdDatabaseQuotaLowSpace",)]
    choose(qtbot, view, "cluster_filter", None)
    choose(qtbot, view, "rule_filter", "etcdNoLeader")
    assert rows(view, COL_EVENT) == [("resolved",), ("firing",)]

    # A wider range reaches the older event.
    choose(qtbot, view, "range_filter", 7 * DAY)
    assert rows(view, COL_EVENT) == [("resolved",), ("firing",), ("firing",)]

    # Nothing in the last hour for this rule: the table says so.
    choose(qtbot, view, "range_filter", HOUR)
    assert rows(view, COL_EVENT) == []
    assert view.state_text() == EMPTY_TEXT and view.message.isVisible()

    # A custom range: from/to shown, only what lies between them.
    choose(qtbot, view, "range_filter", None)
    assert view.from_edit.isVisible() and view.to_edit.isVisible()
    with qtbot.waitSignal(view.historyRequested, timeout=5000) as asked:
        view.from_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(NOW - 4 * DAY)))
        view.to_edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(NOW - 2 * DAY)))
    qtbot.waitUntil(lambda: view.pending_query() is None, timeout=5000)
    assert rows(view, COL_EVENT) == [("firing",)]
    custom: AlertQuery = asked.args[0]
    assert custom.until is not None and custom.rule == "etcdNoLeader"


def test_new_transitions_refresh_the_visible_tab(
    history_app: Application, qtbot: QtBot, tmp_path: Path
) -> None:
    window = history_app.window
    window.show_alerts_tab()
    alerts = window.alerts
    view = alerts.history_view
    with qtbot.waitSignal(alerts.historyRequested, timeout=5000):
        alerts.tabs.setCurrentIndex(alerts.history_tab)
    qtbot.waitUntil(lambda: view.pending_query() is None, timeout=5000)
    assert len(rows(view, COL_TIME)) == 5

    # An evaluation writes a transition, then tells the views (as the alert worker does).
    fresh = event("etcdMembersDown", 5, member="etcd-3", now=time.time())
    record(tmp_path / "history.sqlite3", [fresh])
    with qtbot.waitSignal(alerts.historyRequested, timeout=5000):
        history_app.alert_handle.alertEvents.emit([fresh])
    qtbot.waitUntil(lambda: len(rows(view, COL_TIME)) == 6, timeout=5000)
    assert rows(view, COL_RULE)[0] == ("etcdMembersDown",)


def test_a_history_file_that_cannot_be_read_says_why(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    (tmp_path / "history.sqlite3").write_bytes(b"this is not a database, " * 100)
    app = make_app(qapp, qtbot, tmp_path)
    try:
        app.window.show_alerts_tab()
        alerts = app.window.alerts
        view = alerts.history_view
        alerts.tabs.setCurrentIndex(alerts.history_tab)
        qtbot.waitUntil(
            lambda: view.state_text().startswith("The alert history cannot be read:"),
            timeout=5000,
        )
        assert "history.sqlite3" in view.state_text()
        assert view.status.text() == "Not available"
        assert rows(view, COL_TIME) == []
    finally:
        app.shutdown()


# -- the view on its own -----------------------------------------------------------------


@pytest.fixture
def table(qtbot: QtBot) -> AlertTableWidget:
    widget = AlertTableWidget(clock=lambda: NOW)
    qtbot.addWidget(widget)
    widget.resize(1100, 400)
    widget.show()
    return widget


def open_history(qtbot: QtBot, table: AlertTableWidget) -> AlertQuery:
    with qtbot.waitSignal(table.historyRequested, timeout=5000) as asked:
        table.tabs.setCurrentIndex(table.history_tab)
    query: AlertQuery = asked.args[0]
    return query


def test_only_the_last_question_is_answered(qtbot: QtBot, table: AlertTableWidget) -> None:
    view = table.history_view
    first = open_history(qtbot, table)
    assert view.state_text() == LOADING_TEXT
    index = view.severity_filter.findData(Severity.CRITICAL)
    with qtbot.waitSignal(table.historyRequested, timeout=5000) as asked:
        view.severity_filter.setCurrentIndex(index)
    second: AlertQuery = asked.args[0]
    assert second.severity == Severity.CRITICAL and first.severity is None

    table.show_history(first, stored_events(), [])  # the older answer is dropped
    assert view.state_text() == LOADING_TEXT and view.proxy.rowCount() == 0
    critical = [e for e in stored_events() if e.alert.severity == Severity.CRITICAL]
    table.show_history(second, critical, [])
    assert view.state_text() == "" and view.proxy.rowCount() == len(critical)
    table.show_history_failed(first, "late failure")  # also dropped
    assert view.state_text() == ""


def test_transitions_are_coalesced_and_wait_while_hidden(
    qtbot: QtBot, table: AlertTableWidget
) -> None:
    asked: list[AlertQuery] = []
    table.historyRequested.connect(asked.append)
    table.show_history(open_history(qtbot, table), stored_events(), [])
    asked.clear()

    # A burst of transitions asks once.
    for i in range(5):
        table.note_alert_events([event("etcdNoLeader", i)])
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=5000)
    # More while that question is out: one more question once it is answered.
    table.note_alert_events([event("etcdNoLeader", 1)])
    table.note_alert_events([event("etcdNoLeader", 2)])
    with qtbot.assertNotEmitted(table.historyRequested, wait=1500):
        pass
    table.show_history(asked[0], stored_events(), [])
    qtbot.waitUntil(lambda: len(asked) == 2, timeout=5000)
    table.show_history(asked[1], stored_events(), [])

    # Hidden (another tab): nothing is asked until it shows again.
    table.tabs.setCurrentIndex(table.alerts_tab)
    table.note_alert_events([event("etcdNoLeader", 3)])
    with qtbot.assertNotEmitted(table.historyRequested, wait=1500):
        pass
    with qtbot.waitSignal(table.historyRequested, timeout=5000):
        table.tabs.setCurrentIndex(table.history_tab)
    assert len(asked) == 3


def test_a_custom_range_that_ends_before_it_starts_asks_nothing(
    qtbot: QtBot, table: AlertTableWidget
) -> None:
    view = table.history_view
    table.show_history(open_history(qtbot, table), stored_events(), [])
    view.range_filter.setCurrentIndex(view.range_filter.findData(None))
    qtbot.waitUntil(lambda: view.pending_query() is not None, timeout=5000)
    view.to_edit.setDateTime(view.from_edit.dateTime().addDays(-1))
    qtbot.waitUntil(lambda: "ends before it starts" in view.state_text(), timeout=5000)
    assert view.pending_query() is None


def test_renders_the_history_tab_to_a_png(qtbot: QtBot, table: AlertTableWidget) -> None:
    table.show_history(open_history(qtbot, table), stored_events(), [])
    QApplication.processEvents()
    assert table.grab().save("/tmp/alert_history.png")
