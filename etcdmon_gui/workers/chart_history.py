"""Chart ranges beyond the live buffers, loaded from the history off the GUI thread.

A charts widget asks for a range (``historyRequested(request_id, start, end,
max_points)``); ``ChartHistoryLoader.request`` turns it into one job in the history's
reader thread (``HistoryHandle.submit``) that reads every chart signal of the cluster
(``HistoryBackend.series``, at the resolution the store picks from the span and
``max_points``) and the members' names, reporting progress after each signal. A newer
request of the same cluster cancels the older job (it stops at its next progress
report) and its answer, should it still come, is dropped here; the widget drops stale
answers too. Answers come back as signals in the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.model.history import MetricsQuery, Series
from etcdmon_gui.store.history.reader import HistoryBackend
from etcdmon_gui.workers.history_worker import HistoryHandle, Job, JobCancelled, Progress

__all__ = ["ChartHistory", "ChartHistoryLoader", "chart_history_job"]

_TAG = "charts"


@dataclass(frozen=True, slots=True)
class ChartHistory:
    """A range's series (members by id in hex) and the members' names by id in hex."""

    series: list[Series]
    names: dict[str, str] = field(default_factory=dict)


def chart_history_job(
    key: str, start: float, end: float, signals: Sequence[str], max_points: int
) -> Job:
    """The job reading ``signals`` of cluster ``key`` over ``start``..``end``, at most
    about ``max_points`` points per series; progress after each signal."""

    def job(backend: HistoryBackend, progress: Progress) -> ChartHistory:
        total = len(signals) + 1
        out: list[Series] = []
        for done, signal in enumerate(signals, start=1):
            q = MetricsQuery(key, start, end, signals=(signal,), step_s=None)
            out += backend.series(q, max_points)
            if not progress(done, total):
                raise JobCancelled()
        names = {m.member: m.name for m in backend.members(key) if m.name}
        progress(total, total)
        return ChartHistory(out, names)

    return job


class ChartHistoryLoader(QObject):
    """Requests of the charts (per cluster key) -> history jobs -> answers.

    Signals (GUI thread):
        loaded(str key, int request_id, ChartHistory)
        failed(str key, int request_id, str message)
        progress(str key, int request_id, int done, object total)
    """

    loaded = Signal(str, int, object)
    failed = Signal(str, int, str)
    progress = Signal(str, int, int, object)

    def __init__(
        self, history: HistoryHandle, signals: Sequence[str], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._history = history
        self._signals = tuple(signals)
        self._tags: dict[str, tuple[str, str, int]] = {}  # key -> the job waited for
        history.done.connect(self._done)
        history.failed.connect(self._failed)
        history.progress.connect(self._progress)

    def request(self, key: str, request_id: int, start: float, end: float, points: int) -> None:
        """Load ``start``..``end`` of ``key``; an older request of ``key`` is cancelled."""
        old = self._tags.get(key)
        if old is not None:
            self._history.cancel(old)
        tag = (_TAG, key, request_id)
        self._tags[key] = tag
        self._history.submit(chart_history_job(key, start, end, self._signals, points), tag)

    def forget(self, key: str) -> None:
        """The cluster's charts are gone: cancel its job, drop its answer."""
        tag = self._tags.pop(key, None)
        if tag is not None:
            self._history.cancel(tag)

    def _waited(self, tag: object) -> tuple[str, int] | None:
        if not (isinstance(tag, tuple) and len(tag) == 3 and tag[0] == _TAG):
            return None  # another view's job
        _, key, request_id = tag
        return (key, request_id) if self._tags.get(key) == tag else None

    @Slot(object, object)
    def _done(self, tag: object, result: object) -> None:
        waited = self._waited(tag)
        if waited is not None and isinstance(result, ChartHistory):
            del self._tags[waited[0]]
            self.loaded.emit(waited[0], waited[1], result)

    @Slot(object, str)
    def _failed(self, tag: object, message: str) -> None:
        waited = self._waited(tag)
        if waited is not None:
            del self._tags[waited[0]]
            self.failed.emit(waited[0], waited[1], message)

    @Slot(object, int, object)
    def _progress(self, tag: object, done: int, total: object) -> None:
        waited = self._waited(tag)
        if waited is not None:
            self.progress.emit(waited[0], waited[1], done, total)
