"""Chart ranges beyond the live buffers, and the quota forecast, offscreen.

The charts ask for what their buffers do not hold (``historyRequested``) and draw the
answer; a stale answer is dropped; an empty range says "no data"; zooming asks again;
"Custom…" validates its range; the DB chart draws a dashed forecast; the header and
the details say when the quota fills."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QDateTime, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from etcdmon_gui.model.forecast import DAY_S, QuotaForecast, WindowFit
from etcdmon_gui.model.history import Resolution, Series
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.ui.chart_definitions import HISTORY_SIGNALS
from etcdmon_gui.ui.chart_grid import LOADING_TEXT, NO_DATA_TEXT
from etcdmon_gui.ui.charts_widget import PLOT_KEYS, ChartsWidget
from etcdmon_gui.ui.header_widget import HeaderWidget
from etcdmon_gui.ui.member_detail_widget import cluster_rows
from etcdmon_gui.ui.palette import WARNING_COLOUR
from etcdmon_gui.ui.time_range_dialog import TimeRangeDialog, validate_range
from tests.builders import CHART_IDS, chart_member, chart_snapshot

T0 = 1_700_000_000.0
DAY = 86_400.0
IDS = CHART_IDS[:3]
HEX = tuple(f"{i:x}" for i in IDS)
QUOTA = 2e9


def member(index: int, value: float = 1.0) -> MemberStatus:
    return chart_member(index, value, quota=QUOTA)


def snapshot(t: float, *, n: int = 2, forecast: QuotaForecast | None = None) -> ClusterSnapshot:
    return chart_snapshot(t, [member(i) for i in range(n)], forecast=forecast)


def series(
    hex_id: str, signal: str, ts: Sequence[float], values: Sequence[float], step: float = 600.0
) -> Series:
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    return Series("cluster-a", hex_id, signal, Resolution.MINUTE, step, t, v, v, v, v)


def week_of(hex_ids: Iterable[str], start: float, end: float) -> list[Series]:
    """Every chart signal of these members, one point every 10 minutes: 2.0 (ms, /s,
    MB for the DB size), the quota at 2 GB."""
    ts = np.arange(start, end, 600.0)
    out = []
    for hex_id in hex_ids:
        for signal in HISTORY_SIGNALS:
            value = {"db_size_bytes": 2e6, "quota_bytes": QUOTA}.get(signal, 2.0)
            out.append(series(hex_id, signal, ts, np.full(len(ts), value)))
    return out


@pytest.fixture
def charts(qtbot: QtBot) -> ChartsWidget:
    widget = ChartsWidget()
    qtbot.addWidget(widget)
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_history_available(True)
    return widget


def feed(qtbot: QtBot, charts: ChartsWidget, snaps: Iterable[ClusterSnapshot]) -> None:
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        for snap in snaps:
            charts.add_snapshot(snap)


def answer(
    qtbot: QtBot,
    charts: ChartsWidget,
    request_id: int,
    found: list[Series],
    names: dict[str, str] | None = None,
) -> bool:
    """Hand an answer back and wait for the redraw it causes (when taken)."""
    with qtbot.waitSignal(charts.redrawn, timeout=2000, raising=False) as drawn:
        taken = charts.show_history(request_id, found, names)
    assert drawn.signal_triggered == taken
    return taken


def live(qtbot: QtBot, charts: ChartsWidget, last: float = T0) -> float:
    """Ten minutes of live snapshots ending at ``last``; the first one asks the history
    for the 5 minutes before it, answered with nothing. Returns ``last``."""
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as first:
        feed(qtbot, charts, (snapshot(last - 600 + i) for i in range(0, 601, 5)))
    request_id, start, end, _ = first.args
    assert (start, end) == pytest.approx((last - 900, last - 600))
    answer(qtbot, charts, request_id, [])
    return last


def history_xy(charts: ChartsWidget, index: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    curve = charts.history_curve(IDS[index], key)
    assert curve is not None
    x, y = curve.getData()
    assert x is not None and y is not None
    return x, y


# -- the window picker and the request ------------------------------------------------------


def test_the_window_picker_offers_7_days_30_days_and_custom(charts: ChartsWidget) -> None:
    for name, text in (("window604800s", "7 d"), ("window2592000s", "30 d")):
        button = charts.findChild(QToolButton, name)
        assert button is not None and button.text() == text
    custom = charts.findChild(QToolButton, "customRange")
    assert custom is not None and custom.text() == "Custom…"


def test_7_days_asks_for_the_week_and_shows_the_answer(qtbot: QtBot, charts: ChartsWidget) -> None:
    last = live(qtbot, charts)
    assert not charts.is_loading()
    button = charts.findChild(QToolButton, "window604800s")
    assert button is not None
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as asked:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    request_id, start, end, points = asked.args
    assert (start, end) == pytest.approx((last - 7 * DAY, last))
    width = charts.plot("wal").getViewBox().width()
    assert points == pytest.approx(width, rel=0.2) and 200 <= points <= 4000  # the plot's px
    assert charts.is_loading() and charts.time_window() == 7 * DAY and charts.is_following()
    bar = charts.history_status().progress
    assert bar.isVisible()

    found = week_of(HEX[:2], last - 7 * DAY, last - 600)
    found[0] = series(HEX[0], found[0].signal, found[0].ts, np.arange(len(found[0])))
    assert answer(qtbot, charts, request_id, found)
    assert not charts.is_loading() and not bar.isVisible()
    # Each member's average, at its points' middles, up to where the live data starts.
    x, y = history_xy(charts, 0, "wal")
    expected = np.arange(last - 7 * DAY, last - 600, 600.0) + 300
    np.testing.assert_allclose(x, expected[expected < T0 - 600])
    np.testing.assert_allclose(y, 2.0)
    assert found[0].signal == HISTORY_SIGNALS[0] == "probe_ms"  # the "Latest" reading
    x, y = history_xy(charts, 1, "db")
    np.testing.assert_allclose(y, 2e6)
    _, qy = charts.history_curve(IDS[1], "quota").getData()
    np.testing.assert_allclose(qy, QUOTA)
    # The live curves still end at the right edge, and nothing says "no data".
    assert charts.curve(IDS[0], "wal").xData[-1] == pytest.approx(last)
    assert not any(charts.shows_no_data(key) for key in PLOT_KEYS)
    # The picker switches to another reading without loading again.
    with (
        qtbot.assertNotEmitted(charts.historyRequested),
        qtbot.waitSignal(charts.redrawn, timeout=2000),
    ):
        charts._toolbar.readingChosen.emit("probe", 0)  # Latest
    np.testing.assert_allclose(history_xy(charts, 0, "probe")[1][:3], [0, 1, 2])


def test_a_newer_request_supersedes_an_older_one(qtbot: QtBot, charts: ChartsWidget) -> None:
    last = live(qtbot, charts)
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as week:
        charts.set_time_window(int(7 * DAY))
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as month:
        charts.set_time_window(int(30 * DAY))
    assert month.args[0] > week.args[0]
    assert month.args[1] == pytest.approx(last - 30 * DAY)
    # The week's answer comes late: dropped, the charts still wait for the month.
    assert not charts.show_history(week.args[0], week_of(HEX[:2], last - 7 * DAY, last))
    assert charts.is_loading()
    assert charts.history_curve(IDS[0], "wal") is None
    assert answer(qtbot, charts, month.args[0], week_of(HEX[:1], last - 30 * DAY, last))
    assert len(history_xy(charts, 0, "wal")[0]) > 0
    assert charts.history_curve(IDS[1], "wal") is None  # nothing of it in the history
    # Once answered, an old id is never taken.
    assert not charts.show_history(week.args[0], [])


def test_a_range_with_nothing_says_no_data(qtbot: QtBot, charts: ChartsWidget) -> None:
    last = live(qtbot, charts)
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as asked:
        charts.set_time_range(last - 3 * DAY, last - 2 * DAY)
    request_id, start, end, _ = asked.args
    assert (start, end) == (last - 3 * DAY, last - 2 * DAY)  # no margin for a chosen range
    assert not charts.is_following() and charts.custom_range() == (start, end)
    assert charts._toolbar.custom_checked()
    # While loading, the empty plots say so.
    qtbot.waitUntil(lambda: charts.shows_no_data("wal"), timeout=2000)
    assert charts._grid.no_data_item("wal").textItem.toPlainText() == LOADING_TEXT
    assert answer(qtbot, charts, request_id, [])
    assert all(charts.shows_no_data(key) for key in PLOT_KEYS)
    assert charts._grid.no_data_item("wal").textItem.toPlainText() == NO_DATA_TEXT

    # A range with some charts' data: the others still say "no data".
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as asked:
        charts.set_time_range(last - 5 * DAY, last - 4 * DAY)
    ts = np.arange(last - 5 * DAY, last - 4 * DAY, 600.0)
    only_wal = [series(HEX[0], "wal_fsync_p99_ms", ts, np.full(len(ts), 4.0))]
    assert answer(qtbot, charts, asked.args[0], only_wal)
    assert not charts.shows_no_data("wal")
    assert charts.shows_no_data("backend") and charts.shows_no_data("db")
    # The y range fits the history; the crosshair reads it.
    top = charts.plot("wal").getViewBox().viewRange()[1][1]
    assert top == pytest.approx(4.0 * 1.15)


def test_a_failed_load_says_why_and_keeps_the_charts(qtbot: QtBot, charts: ChartsWidget) -> None:
    live(qtbot, charts)
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as asked:
        charts.set_time_window(int(7 * DAY))
    charts.history_failed(asked.args[0] + 1, "not mine")  # another request's: ignored
    assert charts.is_loading()
    charts.history_failed(asked.args[0], "history.sqlite3 is damaged")
    assert not charts.is_loading()
    note = charts.history_status().note
    assert note.isVisible() and "damaged" in note.toolTip()


def test_members_only_in_the_history_are_named_and_coloured(
    qtbot: QtBot, charts: ChartsWidget
) -> None:
    last = live(qtbot, charts)
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as asked:
        charts.set_time_window(int(7 * DAY))
    gone = "abc123"  # a member that left before this run
    found = week_of([HEX[0], gone], last - 7 * DAY, last - DAY)
    assert answer(qtbot, charts, asked.args[0], found, {gone: "old-member"})
    assert charts.legend_names() == ["etcd-1", "etcd-2", "old-member", "quota"]
    assert len(history_xy(charts, 0, "db")[0]) > 0
    x, _ = charts.history_curve(0xABC123, "wal").getData()
    assert x is not None and len(x) > 0
    assert charts.member_color(0xABC123).name() not in {
        charts.member_color(i).name() for i in IDS[:2]
    }
    # The crosshair reads the history where the buffers have nothing.
    plot = charts.plot("wal")
    view = plot.scene().views()[0]
    box = plot.getViewBox().sceneBoundingRect()
    pos = view.mapFromScene(QPointF(box.left() + box.width() / 2, box.center().y()))
    qtbot.mouseMove(view.viewport(), pos)
    qtbot.waitUntil(lambda: charts.readout_text() != "", timeout=2000)
    text = charts.readout_text()
    assert "etcd-1 2.00 ms" in text and "old-member 2.00 ms" in text
    assert "etcd-2 —" in text  # nothing of it in the history


def wheel(charts: ChartsWidget, key: str, steps: int) -> None:
    QApplication.processEvents()
    view = charts.plot(key).getViewBox()
    plot_view = charts.plot(key).scene().views()[0]
    pos = plot_view.mapFromScene(view.sceneBoundingRect().center())
    viewport = plot_view.viewport()
    event = QWheelEvent(
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def test_zooming_into_the_history_asks_for_the_visible_range(
    qtbot: QtBot, charts: ChartsWidget
) -> None:
    last = live(qtbot, charts)
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as asked:
        charts.set_time_window(int(30 * DAY))
    assert answer(qtbot, charts, asked.args[0], week_of(HEX[:2], last - 30 * DAY, last))
    loaded = charts.loaded_range()
    assert loaded is not None
    # Zoom in far (about 30x) over the middle of the month: finer points are wanted.
    with qtbot.waitSignal(charts.historyRequested, timeout=3000) as zoomed:
        for _ in range(3):
            wheel(charts, "wal", steps=10)
    request_id, start, end, points = zoomed.args
    assert not charts.is_following()
    x0, x1 = charts.plot("wal").getViewBox().viewRange()[0]
    assert start <= x0 and (end >= x1 or end == pytest.approx(last))
    assert end - start < loaded.end - loaded.start
    assert (end - start) / points < loaded.step / 2  # a finer resolution
    # A small pan within what the answer covers asks for nothing more.
    assert answer(qtbot, charts, request_id, week_of(HEX[:2], start, end))
    with qtbot.assertNotEmitted(charts.historyRequested, wait=600):
        span = x1 - x0
        charts.plot("wal").setXRange(x0 + span / 10, x1 + span / 10, padding=0)
        charts._on_manual_range()


# -- "Custom…" ------------------------------------------------------------------------------


def test_custom_range_dialog_validates_and_applies(qtbot: QtBot, charts: ChartsWidget) -> None:
    live(qtbot, charts, QDateTime.currentSecsSinceEpoch())
    button = charts.findChild(QToolButton, "customRange")
    assert button is not None
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = charts.findChild(TimeRangeDialog, "timeRangeDialog")
    assert dialog is not None and dialog.isVisible()
    assert not button.isChecked()  # checked once a range is shown
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    now = QDateTime.currentDateTime()
    # "To" before "From": refused, with the reason.
    dialog.from_edit.setDateTime(now.addDays(-2))
    dialog.to_edit.setDateTime(now.addDays(-3))
    assert not ok.isEnabled() and "before" in dialog.error.text()
    # In the future: refused.
    dialog.to_edit.setDateTime(now.addSecs(3 * 3600))
    assert not ok.isEnabled() and "future" in dialog.error.text()
    # A day, two days ago: shown, loaded exactly.
    dialog.from_edit.setDateTime(now.addDays(-3))
    dialog.to_edit.setDateTime(now.addDays(-2))
    assert ok.isEnabled() and dialog.error.isHidden()
    start, end = dialog.values()
    with qtbot.waitSignal(charts.historyRequested, timeout=2000) as asked:
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert asked.args[1:3] == pytest.approx([start, end])
    assert button.isChecked() and not charts.is_following()
    assert charts.plot("wal").getViewBox().viewRange()[0] == pytest.approx([start, end])
    # "Follow live" goes back to the window.
    follow = charts.findChild(QToolButton, "followLive")
    assert follow is not None
    qtbot.mouseClick(follow, Qt.MouseButton.LeftButton)
    assert charts.is_following() and not button.isChecked() and charts.custom_range() is None


def test_a_custom_range_that_ends_now_follows_live(qtbot: QtBot, charts: ChartsWidget) -> None:
    live(qtbot, charts, QDateTime.currentSecsSinceEpoch())
    now = QDateTime.currentSecsSinceEpoch()
    charts.set_time_range(now - 2 * 3600, now)
    assert charts.is_following() and charts.time_window() == 2 * 3600
    assert charts.custom_range() is None


def test_validate_range() -> None:
    now = 1_800_000_000.0
    assert validate_range(now - 60, now, now) is None
    assert validate_range(now - 60, now + 30, now) is None  # the current minute
    assert "before" in (validate_range(now, now - 60, now) or "")
    assert "future" in (validate_range(now - 60, now + 3600, now) or "")
    assert "year" in (validate_range(now - 400 * DAY, now, now) or "")


# -- the quota forecast ---------------------------------------------------------------------


def view_of(charts: ChartsWidget) -> QWidget:
    return charts.plot("db").scene().views()[0].viewport()


def legend_pos(charts: ChartsWidget, sample: object) -> QPoint:
    view = charts.plot("db").scene().views()[0]
    return view.mapFromScene(sample.sceneBoundingRect().center())  # type: ignore[attr-defined]


def forecast(days_left: float | None, *, now: float = T0, size: float = 1.5e9) -> QuotaForecast:
    slope = (QUOTA - size) / (days_left * DAY_S) if days_left else -10.0
    fit = WindowFit(6 * 3600.0, 300, 6 * 3600.0, slope, size, days_left)
    return QuotaForecast(QUOTA, now, (fit,), days_left)


def test_the_db_chart_draws_a_dashed_forecast_only_with_one(
    qtbot: QtBot, charts: ChartsWidget
) -> None:
    charts.set_history_available(False)
    feed(qtbot, charts, [snapshot(T0 - 60 + i) for i in range(60)])
    assert not charts.shows_forecast()
    charts.set_time_window(6 * 3600)
    fc = forecast(3.0)
    feed(qtbot, charts, [snapshot(T0, forecast=fc)])
    assert charts.shows_forecast()
    x, y = charts.forecast_line().getData()
    # From now, along the fitted slope, to the view's right edge (room kept for it).
    x1 = charts.plot("db").getViewBox().viewRange()[0][1]
    assert x[0] == pytest.approx(T0) and x[1] == pytest.approx(x1)
    assert x1 == pytest.approx(T0 + 0.1 * 6 * 3600)
    slope = fc.windows[0].slope_bytes_per_s
    assert y[0] == pytest.approx(1.5e9) and y[1] == pytest.approx(1.5e9 + slope * (x1 - T0))
    line = charts.forecast_line()
    assert line.opts["pen"].style() == Qt.PenStyle.DashLine
    assert line.opts["pen"].color().name() == WARNING_COLOUR  # under 4 days
    assert charts.legend_names()[-1] == "full in ~3.0 days"
    # The y range takes the line in; the title's share of the quota is the data's.
    assert charts.plot("db").getViewBox().viewRange()[1][1] == pytest.approx(y[1] * 1.15)
    assert "0.050 % of 2.0 GB quota" in charts.plot("db").titleLabel.text
    # Its legend entry hides it, and shows it again.
    sample = next(s for s, label in charts._grid.legend.items if "full in" in label.text)
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        qtbot.mouseClick(view_of(charts), Qt.MouseButton.LeftButton, pos=legend_pos(charts, sample))
    assert not charts.shows_forecast()
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        qtbot.mouseClick(view_of(charts), Qt.MouseButton.LeftButton, pos=legend_pos(charts, sample))
    assert charts.shows_forecast()
    # A quota reached within the view: the line ends at the quota.
    feed(qtbot, charts, [snapshot(T0 + 1, forecast=forecast(0.01, now=T0 + 1))])
    x, y = charts.forecast_line().getData()
    assert x[1] < x1 and y[1] == pytest.approx(QUOTA)
    assert charts.forecast_line().opts["pen"].color().name() == WARNING_COLOUR
    # A distant forecast: drawn in the muted colour.
    feed(qtbot, charts, [snapshot(T0 + 2, forecast=forecast(60.0, now=T0 + 2))])
    assert charts.shows_forecast()
    assert charts.forecast_line().opts["pen"].color().name() != WARNING_COLOUR
    # Not growing, or no forecast: no line, no room kept, no legend entry.
    feed(qtbot, charts, [snapshot(T0 + 3, forecast=forecast(None, now=T0 + 3))])
    assert not charts.shows_forecast()
    assert charts.legend_names() == ["etcd-1", "etcd-2", "quota"]
    assert charts.plot("db").getViewBox().viewRange()[0][1] == pytest.approx(T0 + 3)
    feed(qtbot, charts, [snapshot(T0 + 4)])
    assert not charts.shows_forecast()


def test_header_and_details_say_when_the_quota_fills(qtbot: QtBot) -> None:
    header = HeaderWidget()
    qtbot.addWidget(header)
    header.show_snapshot(snapshot(T0), 5)
    assert header.quota.text() == "no forecast yet"
    assert "No forecast yet" in header.quota.toolTip()
    header.show_snapshot(snapshot(T0, forecast=forecast(3.24)), 5)
    assert header.quota.text() == "full in ~3.2 days"
    assert WARNING_COLOUR in header.quota.styleSheet()
    tip = header.quota.toolTip()
    assert "MB/day" in tip and "last 6 h" in tip and "(the forecast)" in tip
    header.show_snapshot(snapshot(T0, forecast=forecast(12.0)), 5)
    assert header.quota.text() == "full in ~12 days"
    assert WARNING_COLOUR not in header.quota.styleSheet()
    header.show_snapshot(snapshot(T0, forecast=forecast(None)), 5)
    assert header.quota.text() == "not growing"
    header.clear()
    assert header.quota.text() == "-"  # no cluster shown

    rows = dict(cluster_rows(snapshot(T0, forecast=forecast(3.24))))
    assert rows["DB quota forecast"].startswith("full in ~3.2 days (+")
    assert "/day over the last 6 h" in rows["DB quota forecast"]
    assert dict(cluster_rows(snapshot(T0)))["DB quota forecast"] == "no forecast yet"
