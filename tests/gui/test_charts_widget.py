"""ChartsWidget offscreen: samples reach the curves, gaps stay gaps, the time window and
follow-live behave, the legend names members, and the widget renders something."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QImage, QPalette, QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QToolButton
from pytestqt.qtbot import QtBot

from etcdmon_gui.model.metrics import Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.ui.chart_grid import NO_DATA_TEXT
from etcdmon_gui.ui.charts_widget import DEFAULT_WINDOW_S, PLOT_KEYS, ChartsWidget
from tests.builders import CHART_IDS
from tests.builders import chart_member as member
from tests.builders import chart_snapshot as snapshot

# The offscreen platform cannot pass a top-level window's size constraints on; Qt says
# so at WARNING level whenever a widget with a layout is shown.

T0 = 1_700_000_000.0
IDS = CHART_IDS


@pytest.fixture
def charts(qtbot: QtBot) -> ChartsWidget:
    widget = ChartsWidget()
    qtbot.addWidget(widget)  # closed and deleted at teardown
    widget.resize(1200, 800)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def feed(qtbot: QtBot, charts: ChartsWidget, snaps: Iterable[ClusterSnapshot]) -> None:
    """Add the snapshots and wait for the redraw they cause."""
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        for snap in snaps:
            charts.add_snapshot(snap)


def curve_data(charts: ChartsWidget, index: int, key: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = charts.curve(IDS[index], key).getData()
    assert x is not None and y is not None
    return x, y


def x_range(charts: ChartsWidget) -> tuple[float, float]:
    x0, x1 = charts.plot("wal").getViewBox().viewRange()[0]
    return float(x0), float(x1)


def test_samples_reach_every_curve_after_a_redraw(qtbot: QtBot, charts: ChartsWidget) -> None:
    feed(qtbot, charts, (snapshot(T0 + i, value=2.0 + i) for i in range(5)))
    assert charts.point_count() == 15
    expected = 2.0 + np.arange(5)
    for index in range(3):
        x, y = curve_data(charts, index, "wal")
        np.testing.assert_allclose(x, T0 + np.arange(5))
        np.testing.assert_allclose(y, expected)  # seconds became milliseconds
        np.testing.assert_allclose(curve_data(charts, index, "probe")[1], 3 * expected)  # P99
        for key in ("backend", "peer", "proposals", "grpc"):
            np.testing.assert_allclose(curve_data(charts, index, key)[1], expected)
        np.testing.assert_allclose(curve_data(charts, index, "db")[1], expected * 1e6)
        np.testing.assert_allclose(curve_data(charts, index, "quota")[1], 1e9)


def test_add_snapshot_only_appends_and_redraws_once_per_tick(
    qtbot: QtBot, charts: ChartsWidget
) -> None:
    charts.add_snapshot(snapshot(T0))
    assert charts.curve(IDS[0], "wal").getData() == (None, None)  # not drawn yet
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        for i in range(1, 50):
            charts.add_snapshot(snapshot(T0 + i))
    assert len(curve_data(charts, 0, "wal")[0]) == 50
    with qtbot.assertNotEmitted(charts.redrawn, wait=300):
        pass  # nothing new: no redraw


def test_an_unreachable_member_is_a_gap_not_a_zero(qtbot: QtBot, charts: ChartsWidget) -> None:
    snaps = [snapshot(T0 + i) for i in range(3)]
    snaps.append(snapshot(T0 + 3, [member(0), member(1), member(2, reachable=False)]))
    snaps.append(snapshot(T0 + 4, [member(0), member(1)]))  # member 3 missing altogether
    snaps.append(snapshot(T0 + 5))
    feed(qtbot, charts, snaps)
    for key in PLOT_KEYS:
        _, down = curve_data(charts, 2, key)
        assert np.isnan(down[3:5]).all(), key
        assert np.isfinite(down[[0, 1, 2, 5]]).all(), key
        assert np.isfinite(curve_data(charts, 0, key)[1]).all(), key
    assert charts.point_count() == 3 * 5 + 2


def test_a_value_the_member_did_not_report_is_a_gap(qtbot: QtBot, charts: ChartsWidget) -> None:
    feed(qtbot, charts, [snapshot(T0, [member(0, metrics=False)], n=1)])
    assert np.isnan(curve_data(charts, 0, "wal")[1]).all()
    assert np.isnan(curve_data(charts, 0, "quota")[1]).all()
    np.testing.assert_allclose(curve_data(charts, 0, "probe")[1], [3.0])  # from Status
    np.testing.assert_allclose(curve_data(charts, 0, "db")[1], [1e6])


def test_time_window_sets_the_x_range(qtbot: QtBot, charts: ChartsWidget) -> None:
    last = T0 + 7200
    feed(qtbot, charts, (snapshot(T0 + 10 * i) for i in range(721)))
    assert x_range(charts) == pytest.approx((last - DEFAULT_WINDOW_S, last))
    for seconds in (300, 3600, 6 * 3600):
        with qtbot.waitSignal(charts.redrawn, timeout=2000):
            charts.set_time_window(seconds)
        assert charts.time_window() == seconds
        x0, x1 = x_range(charts)
        assert x1 == pytest.approx(last)
        assert x1 - x0 == pytest.approx(seconds)
    one_hour = charts.findChild(QToolButton, "window3600s")
    assert one_hour is not None
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        qtbot.mouseClick(one_hour, Qt.MouseButton.LeftButton)
    assert one_hour.isChecked()
    assert x_range(charts) == pytest.approx((last - 3600, last))
    # Every plot shares the x range.
    for key in PLOT_KEYS:
        assert charts.plot(key).getViewBox().viewRange()[0] == pytest.approx([last - 3600, last])


def wheel(charts: ChartsWidget, key: str, steps: int) -> None:
    """Turn the mouse wheel over the middle of plot ``key``.

    Events are processed first, as for a user who sees the latest frame before scrolling:
    pyqtgraph's ViewBox maps the wheel position with the transform of its last paint.
    """
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


def test_manual_zoom_pauses_follow_and_the_button_resumes(
    qtbot: QtBot, charts: ChartsWidget
) -> None:
    feed(qtbot, charts, (snapshot(T0 + i) for i in range(600)))
    button = charts.findChild(QToolButton, "followLive")
    assert button is not None and button.isChecked() and charts.is_following()

    with qtbot.waitSignal(charts.follow_changed, timeout=2000) as paused:
        wheel(charts, "backend", steps=3)  # zoom in
    assert paused.args == [False]
    assert not charts.is_following() and not button.isChecked()
    zoomed = x_range(charts)
    assert zoomed[1] - zoomed[0] < DEFAULT_WINDOW_S
    assert zoomed[1] < T0 + 599

    feed(qtbot, charts, (snapshot(T0 + 600 + i) for i in range(30)))
    assert x_range(charts) == pytest.approx(zoomed)  # new data does not move the view

    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert charts.is_following() and button.isChecked()
    assert x_range(charts) == pytest.approx((T0 + 629 - DEFAULT_WINDOW_S, T0 + 629))


def test_panning_back_while_paused_shows_older_data(qtbot: QtBot, charts: ChartsWidget) -> None:
    feed(qtbot, charts, (snapshot(T0 + i, value=float(i)) for i in range(3600)))
    charts.set_follow(False)
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        charts.plot("wal").setXRange(T0 + 100, T0 + 200, padding=0)
    x, y = curve_data(charts, 0, "wal")
    visible = (x >= T0 + 100) & (x <= T0 + 200)
    np.testing.assert_allclose(y[visible], x[visible] - T0)
    assert visible.sum() == 101


def test_legend_names_members_and_colours_stay(qtbot: QtBot, charts: ChartsWidget) -> None:
    feed(qtbot, charts, [snapshot(T0, [member(2), member(0), member(1)])])
    assert charts.legend_names() == ["etcd-1", "etcd-2", "etcd-3", "quota"]
    colours = {i: charts.member_color(IDS[i]).name() for i in range(3)}
    assert len(set(colours.values())) == 3
    assert charts.curve(IDS[1], "wal").opts["pen"].color().name() == colours[1]

    # A member joins (nameless until it starts), another leaves; the others keep colours.
    feed(qtbot, charts, [snapshot(T0 + 1, [member(0), member(1), member(3, name="")])])
    assert charts.legend_names() == ["etcd-1", "etcd-2", "etcd-3", f"{IDS[3]:x}", "quota"]
    assert {i: charts.member_color(IDS[i]).name() for i in range(3)} == colours
    assert charts.member_color(IDS[3]).name() not in colours.values()

    feed(qtbot, charts, [snapshot(T0 + 2, [member(3, name="etcd-4")])])
    assert charts.legend_names()[3] == "etcd-4"


def test_probe_selector_switches_the_statistic(qtbot: QtBot, charts: ChartsWidget) -> None:
    feed(qtbot, charts, [snapshot(T0, value=2.0)])
    combo = charts.findChild(QComboBox, "probeStatistic")
    assert combo is not None and combo.currentText() == "P99"
    expected = {"Latest": 2.0, "P50": 2.0, "P95": 4.0, "P99": 6.0}
    for text, value in expected.items():
        with qtbot.waitSignal(charts.redrawn, timeout=2000):
            combo.setCurrentText(text)
        np.testing.assert_allclose(curve_data(charts, 0, "probe")[1], [value])
        assert text in charts.plot("probe").titleLabel.text


def test_crosshair_reads_values_under_the_mouse(qtbot: QtBot, charts: ChartsWidget) -> None:
    snaps = [snapshot(T0 + i, value=1.5) for i in range(300)]
    snaps[-1] = snapshot(T0 + 299, [member(0, 1.5), member(1, 1.5), member(2, reachable=False)])
    feed(qtbot, charts, snaps)
    assert charts.readout_text() == ""
    plot = charts.plot("wal")
    view = plot.scene().views()[0]
    right_edge = plot.getViewBox().sceneBoundingRect()
    pos = view.mapFromScene(QPointF(right_edge.right() - 1, right_edge.center().y()))
    qtbot.mouseMove(view.viewport(), pos)
    qtbot.waitUntil(lambda: charts.readout_text() != "", timeout=2000)
    text = charts.readout_text()
    assert "WAL fsync P99" in text
    assert "etcd-1 1.50 ms" in text and "etcd-2 1.50 ms" in text
    assert "etcd-3 —" in text  # unreachable at the newest sample
    lines = [line for line in plot.items if line.__class__.__name__ == "InfiniteLine"]
    assert lines and all(line.isVisible() for line in lines)


def test_hiding_a_member_from_the_legend(qtbot: QtBot, charts: ChartsWidget) -> None:
    feed(qtbot, charts, [snapshot(T0 + i) for i in range(10)])
    legend_sample = charts._grid.legend.items[1][0]  # etcd-2
    view = charts.plot("wal").scene().views()[0]
    pos = view.mapFromScene(legend_sample.sceneBoundingRect().center())
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    for key in PLOT_KEYS:
        assert not charts.curve(IDS[1], key).isVisible()
        assert charts.curve(IDS[0], key).isVisible()


def test_other_clusters_are_ignored_until_clear(qtbot: QtBot, charts: ChartsWidget) -> None:
    feed(qtbot, charts, [snapshot(T0)])
    charts.add_snapshot(snapshot(T0 + 1, key="cluster-b", n=1))
    assert charts.point_count() == 3
    charts.clear()
    assert charts.point_count() == 0 and charts.legend_names() == ["quota"]
    feed(qtbot, charts, [snapshot(T0 + 2, key="cluster-b", n=1)])
    assert charts.legend_names() == ["etcd-1", "quota"]
    np.testing.assert_allclose(curve_data(charts, 0, "wal")[0], [T0 + 2])


def test_clock_going_back_restarts_history(
    qtbot: QtBot, charts: ChartsWidget, caplog: pytest.LogCaptureFixture
) -> None:
    feed(qtbot, charts, (snapshot(T0 + i) for i in range(10)))
    feed(qtbot, charts, [snapshot(T0 - 3600)])
    assert "clock went back" in caplog.text
    np.testing.assert_allclose(curve_data(charts, 0, "wal")[0], [T0 - 3600])
    assert x_range(charts)[1] == pytest.approx(T0 - 3600)


def test_no_redraw_while_hidden(qtbot: QtBot, charts: ChartsWidget) -> None:
    charts.hide()
    with qtbot.assertNotEmitted(charts.redrawn, wait=300):
        charts.add_snapshot(snapshot(T0))
    with qtbot.waitSignal(charts.redrawn, timeout=2000):
        charts.show()
    assert len(curve_data(charts, 0, "wal")[0]) == 1


def test_follows_the_palette(qtbot: QtBot, charts: ChartsWidget) -> None:
    from pyqtgraph import GraphicsLayoutWidget

    view = charts.findChild(GraphicsLayoutWidget, "chartsView")
    assert view is not None
    assert view.backgroundBrush().color() == charts.palette().window().color()
    dark = QPalette(charts.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e8eaed"))
    charts.setPalette(dark)
    assert view.backgroundBrush().color() == QColor("#202124")
    assert charts.plot("wal").getAxis("left").textPen().color() == QColor("#e8eaed")


def image_array(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.sizeInBytes())
    return raw.reshape(height, image.bytesPerLine())[:, : width * 4].reshape(height, width, 4)


def test_renders_to_a_png_that_is_not_blank(
    qtbot: QtBot, charts: ChartsWidget, tmp_path: Path
) -> None:
    snaps = []
    for i in range(900):
        ms = [member(k, 2.0 + k + math.sin(i / 40 + k)) for k in range(3)]
        snaps.append(snapshot(T0 + i, ms))
    feed(qtbot, charts, snaps)
    path = tmp_path / "charts.png"
    assert charts.grab().save(str(path))
    image = QImage(str(path))
    assert not image.isNull() and image.width() == 1200
    pixels = image_array(image)[:, :, :3].astype(float)
    assert pixels.var() > 100.0
    # Each member's colour is actually on screen.
    for index in range(3):
        colour = charts.member_color(IDS[index])
        rgb = np.array([colour.blue(), colour.green(), colour.red()])  # RGB32 is BGRA
        assert (pixels == rgb).all(axis=2).sum() > 200, colour.name()


def without_peer_rtt(index: int) -> MemberStatus:
    """Member ``index`` whose peer RTT window held no observation: quantiles unknown."""
    m = member(index)
    assert m.metrics is not None
    return replace(m, metrics=replace(m.metrics, peer_rtt=Quantiles(None, None, None)))


def no_data_rect(charts: ChartsWidget, key: str) -> QRect:
    """Where plot ``key``'s "no data" text is, in the widget's pixels."""
    item = charts._grid.no_data_item(key)
    view = charts.plot(key).scene().views()[0]
    rect = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    return QRect(view.viewport().mapTo(charts, rect.topLeft()), rect.size())


def ink(image: QImage, rect: QRect, background: QColor) -> int:
    """Pixels inside ``rect`` that clearly differ from ``background``."""
    pixels = image_array(image)[rect.top() : rect.bottom(), rect.left() : rect.right(), :3]
    bg = np.array([background.blue(), background.green(), background.red()], dtype=float)
    return int((np.abs(pixels.astype(float) - bg).sum(axis=2) > 120).sum())


def test_a_chart_without_values_says_no_data_until_they_come(
    qtbot: QtBot, charts: ChartsWidget, tmp_path: Path
) -> None:
    assert all(charts.shows_no_data(key) for key in PLOT_KEYS)  # nothing received yet
    feed(qtbot, charts, (snapshot(T0 + i, map(without_peer_rtt, range(3))) for i in range(60)))
    assert charts.shows_no_data("peer")
    assert not any(charts.shows_no_data(key) for key in PLOT_KEYS if key != "peer")

    item = charts._grid.no_data_item("peer")
    assert item.textItem.toPlainText() == NO_DATA_TEXT
    box = charts.plot("peer").getViewBox().sceneBoundingRect()
    label = item.sceneBoundingRect()
    assert box.contains(label)
    assert label.center().x() == pytest.approx(box.center().x(), abs=1.5)
    assert label.center().y() == pytest.approx(box.center().y(), abs=1.5)
    path = tmp_path / "no-data.png"
    assert charts.grab().save(str(path))
    background = charts.palette().window().color()
    where = no_data_rect(charts, "peer")
    assert ink(QImage(str(path)), where, background) > 30  # the text is painted
    assert ink(QImage(str(path)), no_data_rect(charts, "wal"), background) < 5  # hidden

    # One member reports a P99: the text goes at the next redraw.
    feed(qtbot, charts, [snapshot(T0 + 60, [member(0), without_peer_rtt(1), without_peer_rtt(2)])])
    assert not charts.shows_no_data("peer")
    assert charts.grab().save(str(path))
    assert ink(QImage(str(path)), where, background) < 5

    # That value scrolls out of the time window: the chart has no data again.
    later = T0 + 60 + DEFAULT_WINDOW_S + 5
    feed(qtbot, charts, [snapshot(later, map(without_peer_rtt, range(3)))])
    assert charts.shows_no_data("peer")
    assert not charts.shows_no_data("wal")
