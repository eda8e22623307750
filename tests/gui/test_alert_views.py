"""Alert views offscreen: the table's rows, in-place updates, filters, sorting, details,
copy, silence, un-silence and acknowledge, pending alerts' fire times, the Silences tab
and its dialog; the tray's colour, throttled popups, mute, and the in-window fallback
with its banner."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage
from PySide6.QtWidgets import QDialogButtonBox, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from etcdmon_gui.formatting import fmt_time
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity, Silence
from etcdmon_gui.ui.alert_table_model import (
    ALERT_ROLE,
    COL_CLUSTER,
    COL_MEMBER,
    COL_NOTIFIED,
    COL_RULE,
    COL_SEVERITY,
    COL_SINCE,
    COL_STATE,
    COL_VALUE,
    COLUMNS,
    HISTORY_LEN,
)
from etcdmon_gui.ui.alert_table_widget import AlertTableWidget
from etcdmon_gui.ui.notification_banner import NotificationBanner
from etcdmon_gui.ui.palette import HEALTHY_COLOUR, SEVERITY_COLOURS
from etcdmon_gui.ui.tray import AlertTray

T0 = 1_700_000_000.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def alert(
    rule: str = "etcdNoLeader",
    *,
    member: str | None = "etcd-1",
    cluster: str = "prod-key",
    cluster_name: str = "prod",
    severity: Severity = Severity.CRITICAL,
    state: AlertState = AlertState.FIRING,
    value: float | None = 1.0,
    since: float = T0 - 600,
    **extra: object,
) -> Alert:
    fields: dict[str, object] = {
        "summary": f"{rule} on {member or cluster_name}",
        "active_at": since - 60,
        "fired_at": since if state in (AlertState.FIRING, AlertState.RESOLVED) else None,
        "last_notified": since if state == AlertState.FIRING else None,
        "labels": {
            "alertname": rule,
            "severity": severity.name.lower(),
            "cluster": cluster_name,
            "member": member or "",
        },
    }
    fields.update(extra)
    return Alert(
        f"{rule}/{cluster}/{member}",
        rule,
        severity,
        cluster,
        cluster_name,
        member,
        state,
        value,
        since=since,
        **fields,
    )  # type: ignore[arg-type]


def event(a: Alert, kind: EventKind | None = None) -> AlertEvent:
    if kind is None:
        kind = EventKind.RESOLVED if a.state == AlertState.RESOLVED else EventKind.FIRING
    return AlertEvent(kind, a, a.since)


def mixed_alerts() -> list[Alert]:
    """Six alerts of every state, two clusters, silenced and acknowledged ones."""
    return [
        alert("etcdNoLeader", member="etcd-2", value=1.0),
        alert(
            "etcdHighFsyncDurations",
            member="etcd-1",
            severity=Severity.WARNING,
            value=0.7312,
            acknowledged=True,
            since=T0 - 3 * 3600,
        ),
        alert(
            "etcdMembersDown",
            member="etcd-3",
            severity=Severity.WARNING,
            value=1.0,
            silenced_until=math.inf,
        ),
        alert(
            "etcdDatabaseQuotaLowSpace",
            member="infra-0",
            cluster="infra-key",
            cluster_name="infra",
            state=AlertState.PENDING,
            value=96.4,
            since=T0 - 45,
            fired_at=None,
            fires_at=T0 + 135,
        ),
        alert(
            "etcdHighNumberOfLeaderChanges",
            member=None,
            severity=Severity.WARNING,
            state=AlertState.RESOLVED,
            value=2.0,
            since=T0 - 120,
            resolved_at=T0 - 120,
            fired_at=T0 - 1500,
        ),
        alert(
            "etcdCertificateExpiry",
            member="infra-1",
            cluster="infra-key",
            cluster_name="infra",
            severity=Severity.INFO,
            value=12.0,
            since=T0 - 86_400 * 2,
        ),
    ]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def table(qtbot: QtBot, clock: FakeClock) -> AlertTableWidget:
    widget = AlertTableWidget(clock=clock)
    qtbot.addWidget(widget)
    widget.resize(1280, 520)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def shown(table: AlertTableWidget, column: int = COL_RULE) -> list[str]:
    """The texts of one column, in the order the table shows them."""
    proxy = table.proxy
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def row_of(table: AlertTableWidget, rule: str) -> int:
    return shown(table).index(rule)


def select(table: AlertTableWidget, *rules: str) -> None:
    selection = table.table.selectionModel()
    selection.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for rule in rules:
        selection.select(table.proxy.index(row_of(table, rule), 0), flags)
    if rules:
        selection.setCurrentIndex(
            table.proxy.index(row_of(table, rules[0]), 0),
            QItemSelectionModel.SelectionFlag.NoUpdate,
        )


# -- the table --------------------------------------------------------------------------


def test_rows_show_every_column(table: AlertTableWidget, clock: FakeClock) -> None:
    table.set_alerts(mixed_alerts())
    assert [table.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(8)] == list(COLUMNS)
    assert table.proxy.rowCount() == 6
    r = row_of(table, "etcdHighFsyncDurations")
    cells = [table.proxy.index(r, c).data() for c in range(len(COLUMNS))]
    assert cells == [
        "firing · acked",
        "warning",
        "etcdHighFsyncDurations",
        "prod",
        "etcd-1",
        "0.7312",
        fmt_time(T0 - 3 * 3600, clock.now),
        fmt_time(T0 - 3 * 3600, clock.now),
    ]
    icon = table.proxy.index(r, COL_SEVERITY).data(Qt.ItemDataRole.DecorationRole)
    assert icon.pixmap(14).toImage().pixelColor(7, 7) == QColor(SEVERITY_COLOURS[Severity.WARNING])

    silenced = row_of(table, "etcdMembersDown")
    assert table.proxy.index(silenced, COL_STATE).data() == "firing · silenced"
    assert table.proxy.index(silenced, COL_RULE).data(Qt.ItemDataRole.FontRole).italic()
    cluster_wide = row_of(table, "etcdHighNumberOfLeaderChanges")
    assert table.proxy.index(cluster_wide, COL_MEMBER).data() == "—"
    assert table.proxy.index(cluster_wide, COL_STATE).data() == "resolved"
    pending = row_of(table, "etcdDatabaseQuotaLowSpace")
    assert table.proxy.index(pending, COL_CLUSTER).data() == "infra"
    assert table.proxy.index(pending, COL_NOTIFIED).data() == "-"
    old = row_of(table, "etcdCertificateExpiry")
    assert table.proxy.index(old, COL_SINCE).data() == fmt_time(T0 - 2 * 86_400, clock.now)
    assert fmt_time(T0 - 2 * 86_400, clock.now) != fmt_time(T0, clock.now)[:8]  # has the date


def test_default_order_is_firing_first_then_worst(table: AlertTableWidget) -> None:
    table.set_alerts(mixed_alerts())
    assert shown(table, COL_STATE)[0] == "firing"
    assert shown(table)[0] == "etcdNoLeader"  # the only critical firing
    assert shown(table)[-1] == "etcdHighNumberOfLeaderChanges"  # resolved last


def test_updates_in_place_keep_the_selection(
    qtbot: QtBot, table: AlertTableWidget, clock: FakeClock
) -> None:
    alerts = mixed_alerts()
    table.set_alerts(alerts)
    table.select_fingerprint(alerts[1].fingerprint)
    assert [a.rule for a in table.selected_alerts()] == ["etcdHighFsyncDurations"]

    clock.now += 5
    changed = dataclasses.replace(alerts[1], value=0.9)
    newcomer = alert("etcdHighCommitDurations", member="etcd-2", severity=Severity.WARNING)
    with qtbot.assertNotEmitted(table.model.modelReset):
        table.set_alerts([alerts[0], changed, *alerts[3:], newcomer])  # one gone, one new
    assert table.proxy.rowCount() == 6
    assert "etcdMembersDown" not in shown(table)
    assert table.selected_alerts() == [changed]
    assert table.current_alert() == changed
    assert "0.9" in table.details.text.toPlainText()
    assert [v for _, v in table.model.value_history(changed.fingerprint)] == [0.7312, 0.9]


def test_details_pane_shows_rule_timeline_labels_and_history(
    table: AlertTableWidget, clock: FakeClock
) -> None:
    base = alert("etcdHighFsyncDurations", severity=Severity.WARNING, value=0.0)
    for i in range(HISTORY_LEN + 10):
        clock.now = T0 + i
        table.set_alerts([dataclasses.replace(base, value=float(i))])
    table.select_fingerprint(base.fingerprint)
    text = table.details.text.toPlainText()
    for expected in (
        "etcdHighFsyncDurations",
        base.summary,
        "firing",
        "Timeline",
        "condition true (pending)",
        "last notified",
        "alertname=",
        "prod",
        "etcd-1",
        base.fingerprint,
    ):
        assert expected in text, expected
    values = table.details.sparkline.values()
    assert len(values) == HISTORY_LEN
    assert values[0] == 10.0 and values[-1] == HISTORY_LEN + 9.0
    assert "last 50" in table.details.history_caption.text()
    table.table.clearSelection()
    assert "Select an alert" in table.details.text.toPlainText()


def test_filters_by_state_severity_cluster_and_text(table: AlertTableWidget) -> None:
    table.set_alerts(mixed_alerts())
    clusters = [table.cluster_filter.itemText(i) for i in range(table.cluster_filter.count())]
    assert clusters == ["All clusters", "infra", "prod"]

    table.state_filter.setCurrentText("Firing")
    assert set(shown(table, COL_STATE)) == {"firing", "firing · acked", "firing · silenced"}
    assert len(shown(table)) == 4
    table.state_filter.setCurrentText("Active (firing + pending)")
    assert len(shown(table)) == 5
    table.severity_filter.setCurrentText("Warning")
    assert sorted(shown(table)) == ["etcdHighFsyncDurations", "etcdMembersDown"]
    table.severity_filter.setCurrentIndex(0)
    table.cluster_filter.setCurrentText("infra")
    assert sorted(shown(table)) == ["etcdCertificateExpiry", "etcdDatabaseQuotaLowSpace"]
    table.text_filter.setText("QUOTA")
    assert shown(table) == ["etcdDatabaseQuotaLowSpace"]

    # The chosen cluster stays offered (and applied) while it has no alerts.
    table.set_alerts(mixed_alerts()[:3])
    assert table.cluster_filter.currentText() == "infra"
    assert shown(table) == []
    for combo in (table.state_filter, table.cluster_filter):
        combo.setCurrentIndex(0)
    table.text_filter.clear()
    assert len(shown(table)) == 3


def test_sorting_by_any_column(qtbot: QtBot, table: AlertTableWidget) -> None:
    table.set_alerts(mixed_alerts())
    header = table.table.horizontalHeader()
    value_x = header.sectionViewportPosition(COL_VALUE) + 5
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(value_x, 5))
    values = [
        table.proxy.index(r, COL_VALUE).data(ALERT_ROLE).value
        for r in range(table.proxy.rowCount())
    ]
    assert values == sorted(values)
    table.table.sortByColumn(COL_VALUE, Qt.SortOrder.DescendingOrder)
    assert shown(table, COL_VALUE)[0] == "96.4"
    table.table.sortByColumn(COL_SEVERITY, Qt.SortOrder.DescendingOrder)
    assert shown(table)[0] == "etcdNoLeader"
    assert shown(table, COL_SEVERITY)[-1] == "info"
    table.table.sortByColumn(COL_SINCE, Qt.SortOrder.AscendingOrder)
    assert shown(table)[0] == "etcdCertificateExpiry"
    table.table.sortByColumn(COL_RULE, Qt.SortOrder.AscendingOrder)
    assert shown(table) == sorted(shown(table), key=str.lower)

    # A value change re-sorts the row and it stays selected.
    select(table, "etcdNoLeader")
    table.table.sortByColumn(COL_VALUE, Qt.SortOrder.DescendingOrder)
    alerts = mixed_alerts()
    alerts[0] = dataclasses.replace(alerts[0], value=500.0)
    table.set_alerts(alerts)
    assert shown(table)[0] == "etcdNoLeader"
    assert [a.rule for a in table.selected_alerts()] == ["etcdNoLeader"]


def test_silence_asks_with_the_chosen_until_and_reason(
    qtbot: QtBot, table: AlertTableWidget, clock: FakeClock
) -> None:
    table.set_alerts(mixed_alerts())
    select(table, "etcdNoLeader", "etcdDatabaseQuotaLowSpace", "etcdHighNumberOfLeaderChanges")
    assert not table.silence_button.isEnabled()  # no reason yet
    qtbot.keyClicks(table.silence_reason, "maintenance window")
    assert table.silence_button.isEnabled()
    table.silence_for.setCurrentText("1 h")
    requests: list[tuple[str, float, str]] = []
    table.silenceRequested.connect(lambda *args: requests.append(args))
    qtbot.mouseClick(table.silence_button, Qt.MouseButton.LeftButton)
    requested = sorted(requests)
    fps = sorted(a.fingerprint for a in table.selected_alerts() if a.state != AlertState.RESOLVED)
    assert requested == [(fp, T0 + 3600, "maintenance window") for fp in fps]
    assert table.silence_reason.text() == ""  # used up

    table.silence_for.setCurrentText("until resolved")
    qtbot.keyClicks(table.silence_reason, "known issue")
    select(table, "etcdNoLeader")
    with qtbot.waitSignal(table.silenceRequested, timeout=1000) as blocker:
        qtbot.keyClick(table.silence_reason, Qt.Key.Key_Return)
    assert blocker.args == [mixed_alerts()[0].fingerprint, math.inf, "known issue"]

    table.silence_for.setCurrentText("24 h")
    qtbot.keyClicks(table.silence_reason, "x")
    select(table, "etcdHighNumberOfLeaderChanges")  # resolved: nothing to silence
    assert not table.silence_button.isEnabled()
    with qtbot.assertNotEmitted(table.silenceRequested):
        table.silence_selected()


def test_acknowledge_asks_for_unacknowledged_firing_alerts(
    qtbot: QtBot, table: AlertTableWidget
) -> None:
    alerts = mixed_alerts()
    table.set_alerts(alerts)
    select(table, "etcdHighFsyncDurations")  # already acknowledged
    assert not table.ack_button.isEnabled()
    select(table, "etcdNoLeader", "etcdHighFsyncDurations", "etcdDatabaseQuotaLowSpace")
    assert table.ack_button.isEnabled()
    with qtbot.waitSignal(table.acknowledgeRequested, timeout=1000) as blocker:
        qtbot.mouseClick(table.ack_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [alerts[0].fingerprint]


def test_copy_puts_the_selected_alerts_on_the_clipboard(
    qtbot: QtBot, table: AlertTableWidget
) -> None:
    table.set_alerts(mixed_alerts())
    select(table)  # nothing
    assert not table.copy_button.isEnabled()
    select(table, "etcdNoLeader", "etcdMembersDown")
    QGuiApplication.clipboard().clear()
    qtbot.mouseClick(table.copy_button, Qt.MouseButton.LeftButton)
    text = QGuiApplication.clipboard().text()
    blocks = text.split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].startswith("[FIRING] critical etcdNoLeader — prod / etcd-2")
    assert "etcdNoLeader on etcd-2" in blocks[0]
    assert "silenced until resolved" in blocks[1]
    assert "labels: alertname=etcdMembersDown" in blocks[1]

    QGuiApplication.clipboard().clear()
    table.table.setFocus()
    select(table, "etcdDatabaseQuotaLowSpace")
    qtbot.keySequence(table.table, "Ctrl+C")
    assert QGuiApplication.clipboard().text().startswith("[PENDING] critical")


def test_firing_count_follows_firing_unsilenced_alerts(
    qtbot: QtBot, table: AlertTableWidget, clock: FakeClock
) -> None:
    assert table.firing_count() == 0 and table.property("firingCount") == 0
    assert table.badge.text() == "nothing firing"
    alerts = mixed_alerts()
    with qtbot.waitSignal(table.firingCountChanged, timeout=1000) as blocker:
        table.set_alerts(alerts)
    assert blocker.args == [3]  # the silenced one does not count
    assert table.firing_count() == 3 and table.property("firingCount") == 3
    assert table.badge.text() == "3 firing"
    with qtbot.assertNotEmitted(table.firingCountChanged):
        table.set_alerts(alerts)
    timed = dataclasses.replace(alerts[0], silenced_until=T0 + 60)
    with qtbot.waitSignal(table.firingCountChanged, timeout=1000) as blocker:
        table.set_alerts([timed, *alerts[1:]])
    assert blocker.args == [2]
    clock.now = T0 + 61  # the silence ran out
    with qtbot.waitSignal(table.firingCountChanged, timeout=1000) as blocker:
        table.set_alerts([timed, *alerts[1:]])
    assert blocker.args == [3]
    with qtbot.waitSignal(table.firingCountChanged, timeout=1000) as blocker:
        table.set_alerts([])
    assert blocker.args == [0]


def image_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return raw.reshape(height, image.bytesPerLine())[:, : width * 4].reshape(height, width, 4)


def test_renders_mixed_alerts_to_a_png(table: AlertTableWidget, tmp_path: Path) -> None:
    table.set_alerts(mixed_alerts())
    select(table, "etcdHighFsyncDurations")
    path = tmp_path / "alerts.png"
    assert table.grab().save(str(path))
    pixels = image_array(QImage(str(path)))[:, :, :3].astype(int)
    assert pixels.var() > 100.0
    red = QColor(SEVERITY_COLOURS[Severity.CRITICAL])
    bgr = np.array([red.blue(), red.green(), red.red()])
    assert (pixels == bgr).all(axis=2).sum() > 50  # the badge and the critical dots


# -- the tray ---------------------------------------------------------------------------


def make_tray(
    qtbot: QtBot, clock: FakeClock, *, available: bool = True, gather_ms: int = 0
) -> tuple[AlertTray, list[tuple[str, str]]]:
    tray = AlertTray(clock=clock, tray_available=lambda: available, gather_ms=gather_ms)
    popups: list[tuple[str, str]] = []
    tray.popupShown.connect(lambda title, message: popups.append((title, message)))
    return tray, popups


def icon_centre_colour(tray: AlertTray) -> QColor:
    image = tray.tray_icon.icon().pixmap(16).toImage()  # 16 px: no count drawn
    return image.pixelColor(8, 8)


def test_tray_colour_follows_the_worst_firing_severity(qtbot: QtBot, clock: FakeClock) -> None:
    tray, _ = make_tray(qtbot, clock)
    assert tray.worst_severity() is None and tray.icon_colour() == HEALTHY_COLOUR
    assert icon_centre_colour(tray) == QColor(HEALTHY_COLOUR)
    alerts = mixed_alerts()
    tray.set_alerts(alerts)
    assert tray.worst_severity() == Severity.CRITICAL
    assert icon_centre_colour(tray) == QColor(SEVERITY_COLOURS[Severity.CRITICAL])
    assert "3 alerts firing (worst: critical)" in tray.tray_icon.toolTip()
    tray.set_alerts(alerts[1:])  # the critical one gone; the silenced warning does not count
    assert tray.worst_severity() == Severity.WARNING
    assert icon_centre_colour(tray) == QColor(SEVERITY_COLOURS[Severity.WARNING])
    tray.set_alerts([a for a in alerts if a.state != AlertState.FIRING])  # pending critical
    assert tray.worst_severity() is None
    assert icon_centre_colour(tray) == QColor(HEALTHY_COLOUR)
    assert "no alerts firing" in tray.tray_icon.toolTip()


def burst(n_firing: int, n_resolved: int) -> list[AlertEvent]:
    firing = [event(alert(f"rule{i}")) for i in range(n_firing)]
    resolved = [event(alert(f"old{i}", state=AlertState.RESOLVED)) for i in range(n_resolved)]
    return firing + resolved


def test_a_burst_becomes_one_summary_popup(qtbot: QtBot, clock: FakeClock) -> None:
    tray, popups = make_tray(qtbot, clock)
    with qtbot.assertNotEmitted(tray.inWindowNotification):
        tray.notify(burst(3, 2))
    assert len(popups) == 1
    title, message = popups[0]
    assert title == "5 alerts changed: 3 firing, 2 resolved"
    assert message.splitlines()[0].startswith("firing: rule")
    assert message.splitlines()[-1] == "…and 2 more"


def test_few_events_pop_up_one_by_one_then_the_rest_is_summarised(
    qtbot: QtBot, clock: FakeClock
) -> None:
    tray, popups = make_tray(qtbot, clock)
    one = alert("etcdNoLeader", member="etcd-2")
    tray.notify([event(one)])
    assert popups == [
        ("Critical alert firing: etcdNoLeader", "etcdNoLeader on etcd-2\nprod / etcd-2")
    ]
    gone = dataclasses.replace(one, state=AlertState.RESOLVED)
    tray.notify([event(gone, EventKind.RESOLVED), event(alert("etcdMembersDown"))])
    assert popups[1][0] == "Resolved: etcdNoLeader"
    assert len(popups) == 3
    # The window's budget is spent: the next ones wait, then go out as one summary.
    clock.now += 2
    tray.notify(burst(1, 0))
    tray.notify(burst(0, 1))
    assert len(popups) == 3 and tray.pending() == 2
    clock.now += 10
    tray.flush()
    assert len(popups) == 4 and tray.pending() == 0
    assert popups[3][0] == "2 alerts changed: 1 firing, 1 resolved"


def test_events_close_together_are_gathered(qtbot: QtBot, clock: FakeClock) -> None:
    tray, popups = make_tray(qtbot, clock, gather_ms=20)
    tray.notify(burst(2, 0))
    tray.notify(burst(0, 2))
    assert popups == []
    with qtbot.waitSignal(tray.popupShown, timeout=2000) as blocker:
        pass
    assert blocker.args[0] == "4 alerts changed: 2 firing, 2 resolved"
    assert len(popups) == 1


def test_repeats_never_pop_up(qtbot: QtBot, clock: FakeClock) -> None:
    tray, popups = make_tray(qtbot, clock)
    tray.notify([event(alert(f"r{i}"), EventKind.REPEAT) for i in range(5)])
    assert popups == [] and tray.pending() == 0


def test_mute_suppresses_popups_for_an_hour(qtbot: QtBot, clock: FakeClock) -> None:
    tray, popups = make_tray(qtbot, clock)
    assert tray.mute_action.text() == "Mute notifications for 1 h"
    with qtbot.waitSignal(tray.mutedChanged, timeout=1000) as blocker:
        tray.mute_action.trigger()
    assert blocker.args == [True]
    assert tray.is_muted() and tray.muted_until == T0 + 3600
    assert tray.mute_action.text().startswith("Unmute notifications")
    assert "muted until" in tray.tray_icon.toolTip()
    tray.notify(burst(2, 1))
    assert popups == [] and tray.pending() == 0

    clock.now = T0 + 3600
    with qtbot.waitSignal(tray.mutedChanged, timeout=1000) as blocker:
        assert not tray.is_muted()
    assert blocker.args == [False]
    tray.notify(burst(1, 0))
    assert len(popups) == 1

    tray.mute_action.trigger()
    tray.mute_action.trigger()  # unmute by hand
    assert not tray.is_muted() and tray.muted_until is None


def test_menu_asks_to_show_the_window_and_to_quit(qtbot: QtBot, clock: FakeClock) -> None:
    tray, _ = make_tray(qtbot, clock)
    assert [a.text() for a in tray.menu.actions() if not a.isSeparator()] == [
        "Show window",
        "Mute notifications for 1 h",
        "Quit",
    ]
    with qtbot.waitSignal(tray.showRequested, timeout=1000):
        tray.show_action.trigger()
    with qtbot.waitSignal(tray.quitRequested, timeout=1000):
        tray.quit_action.trigger()


def test_without_a_tray_notifications_show_in_the_window(qtbot: QtBot, clock: FakeClock) -> None:
    tray, popups = make_tray(qtbot, clock, available=False)
    assert not tray.show()
    window = QWidget()
    qtbot.addWidget(window)
    banner = NotificationBanner(window, timeout_ms=10_000)
    QVBoxLayout(window).addWidget(banner)
    window.resize(600, 120)
    window.show()
    qtbot.waitExposed(window)
    tray.inWindowNotification.connect(banner.show_notification)
    assert banner.isHidden()

    with qtbot.waitSignal(tray.inWindowNotification, timeout=1000) as blocker:
        tray.notify([event(alert("etcdMembersDown", severity=Severity.WARNING))])
    assert blocker.args == [
        "Warning alert firing: etcdMembersDown",
        "etcdMembersDown on etcd-1\nprod / etcd-1",
        Severity.WARNING,
    ]
    assert len(popups) == 1
    assert banner.isVisible()
    assert banner.title.text() == "Warning alert firing: etcdMembersDown"
    assert banner.severity() == Severity.WARNING

    tray.notify(burst(0, 1))
    assert banner.title.text().startswith("Resolved: old0")
    assert banner.more.text() == "+1 earlier"
    with qtbot.waitSignal(banner.clicked, timeout=1000):
        qtbot.mouseClick(banner, Qt.MouseButton.LeftButton)
    assert banner.isHidden()


def test_the_banner_hides_itself_after_a_while(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    banner = NotificationBanner(window, timeout_ms=30)
    window.show()
    banner.show_notification("No leader", "prod", Severity.CRITICAL)
    assert banner.isVisible()
    qtbot.waitUntil(banner.isHidden, timeout=2000)


# -- pending alerts, un-silence and the Silences tab --------------------------------------


def test_a_pending_alert_says_when_it_fires(table: AlertTableWidget, clock: FakeClock) -> None:
    waiting = alert(
        "etcdDatabaseQuotaLowSpace",
        state=AlertState.PENDING,
        since=T0 - 45,
        fired_at=None,
        active_at=T0 - 45,
        fires_at=T0 + 180,
    )
    table.set_alerts([waiting])
    assert shown(table, COL_STATE) == ["pending — fires in 3 min"]
    table.select_fingerprint(waiting.fingerprint)
    details = table.details.text.toPlainText()
    assert "pending for 45 s — fires in 3 min" in details
    assert "fires if the condition still holds" in details
    clock.now = T0 + 120
    table.set_alerts([waiting])
    assert shown(table, COL_STATE) == ["pending — fires in 1 min"]
    assert "fires in 1 min" in table.copy_selected()
    clock.now = T0 + 181  # overdue: it fires when the next sweep confirms it
    table.set_alerts([dataclasses.replace(waiting, silenced_until=math.inf)])
    assert shown(table, COL_STATE) == ["pending — fires at the next check · silenced"]


def active_silence(**kw: object) -> Silence:
    fields: dict[str, object] = {
        "id": "s1",
        "rule": "etcdMembersDown",
        "cluster": "prod-key",
        "member": None,
        "starts": T0 - 600,
        "ends": T0 + 3600,
        "reason": "rolling restart",
        "created_at": T0 - 600,
        "cluster_name": "prod",
    }
    fields.update(kw)
    return Silence(**fields)  # type: ignore[arg-type]


def test_unsilence_asks_for_alerts_with_their_own_silence(
    qtbot: QtBot, table: AlertTableWidget
) -> None:
    alerts = mixed_alerts()
    by_matcher = alert("etcdMembersDown", member="etcd-9", silenced_by=active_silence())
    table.set_alerts([*alerts, by_matcher])
    select(table, "etcdNoLeader")
    assert not table.unsilence_button.isEnabled()
    select(table, "etcdMembersDown")  # silenced until resolved, by itself
    table.select_fingerprint(alerts[2].fingerprint)
    assert table.unsilence_button.isEnabled()
    with qtbot.waitSignal(table.unsilenceRequested, timeout=1000) as blocker:
        qtbot.mouseClick(table.unsilence_button, Qt.MouseButton.LeftButton)
    assert blocker.args == [alerts[2].fingerprint]
    table.select_fingerprint(by_matcher.fingerprint)
    assert not table.unsilence_button.isEnabled()
    assert "Silences tab" in table.unsilence_button.toolTip()


def test_a_matcher_silence_mutes_an_alert_until_it_ends(
    qtbot: QtBot, table: AlertTableWidget, clock: FakeClock
) -> None:
    muted = alert("etcdNoLeader", member="etcd-2", silenced_by=active_silence(ends=T0 + 60))
    table.set_alerts([muted])
    assert shown(table, COL_STATE) == ["firing · silenced"]
    assert table.firing_count() == 0
    table.select_fingerprint(muted.fingerprint)
    details = table.details.text.toPlainText()
    assert "by silence s1 [rule=etcdMembersDown, cluster=prod] (rolling restart)" in details
    clock.now = T0 + 60
    with qtbot.waitSignal(table.firingCountChanged, timeout=1000) as blocker:
        table.set_alerts([muted])
    assert blocker.args == [1]
    assert shown(table, COL_STATE) == ["firing"]


def silences_shown(table: AlertTableWidget, column: int) -> list[str]:
    proxy = table.silences.proxy
    return [proxy.index(r, column).data() for r in range(proxy.rowCount())]


def some_silences() -> list[Silence]:
    return [
        active_silence(id="old", ends=T0 - 60, reason="last week's upgrade", created_at=T0 - 1e5),
        active_silence(),
        active_silence(
            id="later",
            rule=None,
            cluster=None,
            member="infra-1",
            starts=T0 + 600,
            ends=T0 + 7200,
            reason="disk swap tonight",
            created_at=T0 - 10,
            cluster_name=None,
        ),
    ]


def test_the_silences_tab_lists_active_pending_and_expired_silences(
    qtbot: QtBot, table: AlertTableWidget, clock: FakeClock
) -> None:
    table.set_alerts(mixed_alerts())
    assert table.tabs.tabText(table.silences_tab) == "Silences"
    assert table.silences.empty_hint.isVisibleTo(table.silences)
    table.set_silences(some_silences())
    assert table.tabs.tabText(table.silences_tab) == "Silences (1 active)"
    assert not table.silences.empty_hint.isVisibleTo(table.silences)
    assert [table.silences.proxy.headerData(c, Qt.Orientation.Horizontal) for c in range(7)] == [
        "State",
        "Matchers",
        "Reason",
        "Mutes",
        "Starts",
        "Ends",
        "Created",
    ]
    assert silences_shown(table, 0) == ["active", "pending", "expired"]
    assert silences_shown(table, 1) == [
        "rule=etcdMembersDown, cluster=prod",
        "member=infra-1",
        "rule=etcdMembersDown, cluster=prod",
    ]
    assert silences_shown(table, 3) == ["1", "—", "—"]  # mutes etcdMembersDown on prod
    assert silences_shown(table, 5)[0] == f"{fmt_time(T0 + 3600, T0)} (in 1 h)"

    view = table.silences
    flags = (
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    view.table.selectionModel().select(view.proxy.index(2, 0), flags)  # the expired one
    assert not view.expire_button.isEnabled()
    view.table.selectionModel().select(view.proxy.index(0, 0), flags)
    assert view.expire_button.isEnabled()
    with qtbot.waitSignal(table.silenceExpireRequested, timeout=1000) as blocker:
        qtbot.mouseClick(view.expire_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["s1"]

    # Time passes: the pending one starts, the active one ends (re-read on each update).
    clock.now = T0 + 3600
    table.set_alerts(mixed_alerts())
    assert silences_shown(table, 0) == ["active", "expired", "expired"]
    assert table.tabs.tabText(table.silences_tab) == "Silences (1 active)"
    assert silences_shown(table, 3)[0] == "1"  # infra-1's certificate alert


def test_new_silence_is_prefilled_from_the_selected_alert(
    qtbot: QtBot, table: AlertTableWidget
) -> None:
    table.set_alerts(mixed_alerts())
    select(table, "etcdNoLeader")
    table.tabs.setCurrentIndex(table.silences_tab)
    qtbot.mouseClick(table.silences.new_button, Qt.MouseButton.LeftButton)
    dialog = table.silences.dialog
    assert dialog is not None and dialog.isVisible()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.matchers() == ("etcdNoLeader", "prod-key", "etcd-2")
    assert dialog.cluster.currentText() == "prod"
    assert dialog.summary.text() == (
        "Matches rule=etcdNoLeader, cluster=prod, member=etcd-2: 1 current alert (1 firing)."
    )
    assert not ok.isEnabled()  # no reason yet
    dialog.member_check.setChecked(False)
    dialog.rule_check.setChecked(False)
    assert dialog.summary.text() == "Matches cluster=prod: 3 current alerts (3 firing)."
    dialog.rule_check.setChecked(True)
    dialog.duration.setCurrentText("4 h")
    qtbot.keyClicks(dialog.reason, "leader election storm, INC-42")
    assert ok.isEnabled()
    with qtbot.waitSignal(table.silenceCreated, timeout=1000) as blocker:
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    (made,) = blocker.args
    assert made == Silence(
        made.id,
        "etcdNoLeader",
        "prod-key",
        None,
        T0,
        T0 + 4 * 3600,
        "leader election storm, INC-42",
        T0,
        "prod",
    )
    assert made.id

    # Without a selected alert nothing is ticked, and nothing can be made.
    table.table.clearSelection()
    dialog = table.silences.new_silence()
    qtbot.keyClicks(dialog.reason, "x")
    assert dialog.matchers() == (None, None, None)
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.reject()


def test_renders_the_silences_tab_to_a_png(table: AlertTableWidget, tmp_path: Path) -> None:
    table.set_alerts(mixed_alerts())
    table.set_silences(some_silences())
    table.tabs.setCurrentIndex(table.silences_tab)
    path = tmp_path / "silences.png"
    assert table.grab().save(str(path))
    pixels = image_array(QImage(str(path)))[:, :, :3].astype(int)
    assert pixels.var() > 100.0
    table.tabs.setCurrentIndex(table.alerts_tab)
    alerts = image_array(table.grab().toImage())[:, :, :3].astype(int)
    assert (alerts != pixels).any(axis=2).mean() > 0.05  # another page, not the table
    state = table.silences.proxy.index(0, 0)
    assert state.data() == "active"
    assert state.data(Qt.ItemDataRole.ForegroundRole).color() == QColor(HEALTHY_COLOUR)
