"""The notification dispatcher's delivery log, relayed as Qt signals.

The dispatcher calls its subscribers on its notification threads; ``DeliveryRelay``
turns each new entry into a ``delivery`` signal, which Qt queues to receivers in the
GUI thread (the Deliveries tab, the channels dialog's test progress). The log so far is
an in-memory copy, read on request (``load_history``), together with the deliveries
that wait for their next try (``queue``: those a restart took back from the durable
queue included, which have no attempt in this run's log yet).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from etcdmon_gui.model.delivery import DeliveryAttempt, DeliveryRecord, DeliveryStatus
from etcdmon_gui.notify.dispatcher import NotificationDispatcher

log = logging.getLogger(__name__)


class DeliveryRelay(QObject):
    """Relays one dispatcher's delivery log between ``attach`` and ``detach``.

    Signals:
        delivery(DeliveryAttempt, DeliveryRecord): one new entry of the log; emitted on
            a notification thread.
        history(list[tuple[DeliveryAttempt, DeliveryRecord | None]]): the log so far,
            oldest first (``load_history``).
        queue(list[DeliveryRecord]): the deliveries waiting for their next try
            (``load_history``), PENDING records.
    """

    delivery = Signal(object, object)
    history = Signal(object)
    queue = Signal(object)

    def __init__(self, dispatcher: NotificationDispatcher, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dispatcher = dispatcher
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._detached = False

    def attach(self) -> None:
        """Start relaying the dispatcher's delivery log as ``delivery`` signals."""
        with self._lock:
            if self._unsubscribe is None and not self._detached:
                self._unsubscribe = self.dispatcher.subscribe(self._relay)

    def detach(self) -> None:
        """Stop relaying, for good: no signal leaves after this returns (shutdown)."""
        with self._lock:
            self._detached = True
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def _relay(self, attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        if not self._detached:
            self.delivery.emit(attempt, record)

    def load_history(self) -> None:
        """Emit ``history`` and ``queue``: copies of the dispatcher's log and of what
        waits, which only take its lock."""
        attempts = self.dispatcher.attempts()
        records = {r.delivery_id: r for r in self.dispatcher.records()}
        self.history.emit([(a, records.get(a.delivery_id)) for a in attempts])
        self.queue.emit([r for r in records.values() if r.status is DeliveryStatus.PENDING])
