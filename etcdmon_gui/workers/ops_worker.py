"""Maintenance operations off the GUI thread: a plan first, a run once confirmed.

One ``OpsWorker`` per cluster, in a thread of its own (``OpsRunner``), so a long
defragmentation of one cluster never holds up a plan for another; ``OpsHandle`` owns
them from the GUI thread and says which cluster is busy. A request goes:

1. ``plan(OpsRequest)``: in the worker's thread the cluster's ``ConnectionConfig`` is
   built (the composition root's factory), an ``ops.OpsSession`` sweeps the cluster
   once and the operation is built from it (``build_operation``: kind + parameters ->
   ``ops.maintenance`` / ``ops.members`` / ``ops.snapshot``); ``planned(key, OpPlan)``
   shows the plan before anything runs. The session stays open, waiting.
2. ``confirm(key, typed)`` runs it (``ops.run``), or ``discard(key)`` drops it. On a
   profile tagged production an operation that changes the cluster runs only when
   ``typed`` is its exact name (``model.safety``; HashKV and a snapshot only read:
   ``OpKind.changes_cluster``); a refused plan never runs. Each step's news is
   ``progress(key, OpProgress)``; the end is ``finished(key, OpResult)``.
3. ``cancel(key)`` (any thread: a ``threading.Event``) stops the run after the step in
   progress; the result says which steps ran and which did not.

Every confirmed run, refused or not, is recorded: the worker hands an ``AuditRecord``
(``ops.audit``) to the ``audit`` callable it was given (the history's ops log), in its
own thread, so a run that ends during shutdown is still kept, then emits
``recorded(key, AuditRecord, note)`` for the Maintenance log (``note``: why the history
did not keep it, else ""). A plan that was only looked at (refused or not) is not a run
and is not recorded, like ``etcdmon ops --dry-run``.

One operation per cluster: ``OpsHandle.plan`` refuses while a run of that cluster is in
progress (``running``), and ``ops.run`` claims the cluster in ``etcd.busy``, which the
benchmark engine claims too, so a benchmark and a maintenance run never overlap, even
through two profiles of one cluster.

Shutdown (idempotent, bounded): each worker's cancel is set and its session closed from
the GUI thread (a call in flight ends with an error, the runner stops after that step,
the result is recorded), then each thread is ended and waited for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui import ops
from etcdmon_gui.bugs import report_bug
from etcdmon_gui.model.connection import ConnectionConfig
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.model.ops import AuditRecord, OpKind, OpPlan, OpProgress, OpResult
from etcdmon_gui.model.safety import (
    ConfirmationRequiredError,
    needs_confirmation,
    require_confirmation,
)
from etcdmon_gui.ops.audit import audit_record
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

ConfigFactory = Callable[[], ConnectionConfig]


def needs_typed_name(kind: OpKind, tags: Sequence[str]) -> bool:
    """Whether ``kind`` on a cluster with these profile tags needs its name typed."""
    return kind.changes_cluster and needs_confirmation(tags)


CLOSING = "etcdmon-gui is closing; the operation did not start"


class Session(Protocol):
    """What the worker needs of an ``ops.OpsSession`` (tests hand in a stand-in)."""

    def close(self) -> None: ...


OpenSession = Callable[[ConnectionConfig, str], Any]
Build = Callable[[Any, OpKind, Mapping[str, Any]], ops.Operation]
Audit = Callable[[AuditRecord], None]


def _member(params: Mapping[str, Any], name: str = "member") -> str:
    value = params.get(name)
    if not value:
        raise ValueError("choose a member first")
    return str(value)


def _urls(params: Mapping[str, Any]) -> list[str]:
    urls = [str(u).strip() for u in params.get("peer_urls") or () if str(u).strip()]
    if not urls:
        raise ValueError("give at least one peer URL (http://host:2380)")
    return urls


def build_operation(
    session: ops.OpsSession, kind: OpKind, params: Mapping[str, Any]
) -> ops.Operation:
    """The operation ``kind`` with the dialog's (or a caller's) parameters:

    - DEFRAG: ``threshold_bytes``; COMPACT: ``revision`` or ``keep``, ``physical``;
    - SNAPSHOT: ``path``, ``member`` (None: the leader);
    - MOVE_LEADER: ``to``; MEMBER_ADD: ``peer_urls``, ``learner``, ``name``;
    - MEMBER_PROMOTE / MEMBER_REMOVE: ``member``; MEMBER_UPDATE: ``member``, ``peer_urls``;
    - ALARM_DISARM, RECOVER, HASHKV: none.

    Members are named by name or id in hex. A missing parameter is a ``ValueError``
    that says what to give."""
    if kind is OpKind.DEFRAG:
        threshold = params.get("threshold_bytes")
        return ops.defrag(
            session, ops.DEFAULT_DEFRAG_THRESHOLD if threshold is None else int(threshold)
        )
    if kind is OpKind.COMPACT:
        revision, keep = params.get("revision"), params.get("keep")
        return ops.compact(
            session,
            None if revision is None else int(revision),
            keep=None if keep is None else int(keep),
            physical=bool(params.get("physical", False)),
        )
    if kind is OpKind.SNAPSHOT:
        path = str(params.get("path") or "").strip()
        if not path:
            raise ValueError("choose the file to save the snapshot to")
        member = params.get("member")
        return ops.snapshot(session, path, str(member) if member else None)
    if kind is OpKind.ALARM_DISARM:
        return ops.disarm(session)
    if kind is OpKind.RECOVER:
        return ops.recover(session)
    if kind is OpKind.MOVE_LEADER:
        return ops.move_leader(session, _member(params, "to"))
    if kind is OpKind.MEMBER_ADD:
        name = params.get("name")
        return ops.member_add(
            session, _urls(params), bool(params.get("learner", True)), str(name) if name else None
        )
    if kind is OpKind.MEMBER_PROMOTE:
        return ops.member_promote(session, _member(params))
    if kind is OpKind.MEMBER_REMOVE:
        return ops.member_remove(session, _member(params))
    if kind is OpKind.MEMBER_UPDATE:
        return ops.member_update(session, _member(params), _urls(params))
    if kind is OpKind.HASHKV:
        return ops.hashkv(session)
    raise ValueError(f"no operation {kind!r}")


def open_session(config: ConnectionConfig, name: str) -> ops.OpsSession:
    return ops.OpsSession.open(config, name)


@dataclass(frozen=True, slots=True)
class OpsRequest:
    """A plan asked for by the GUI: which cluster, how to reach it, what to do.

    ``profile_name``/``tags`` feed the production guard at ``confirm``."""

    key: str
    kind: OpKind
    params: Mapping[str, Any]
    make_config: ConfigFactory
    cluster_name: str = ""
    profile_name: str = ""
    tags: Sequence[str] = field(default_factory=tuple)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EtcdError | ValueError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return f"unexpected {type(exc).__name__}: {exc}"


class OpsWorker(QObject):
    """Plans and runs one cluster's operations, one at a time, in its thread.

    Signals (each with the cluster key first):
        planned(str, OpPlan): the plan, before anything runs (a refused plan too: its
            ``refusal`` says why it must not run).
        started(str, OpPlan): a confirmed run begins.
        progress(str, OpProgress): a step started, reported or ended.
        finished(str, OpResult): the run ended: ok, failed or cancelled.
        refused(str, OpPlan, str reason): a confirmed run did not start (the plan's
            refusal, the production guard, another operation or a benchmark); the
            plan is dropped, a new one is made from the cluster as it is then.
        failed(str, str message, OpPlan | None): no plan could be made (plan None:
            nothing ran), or a run broke off without a result (plan set).
        recorded(str, AuditRecord, str note): the run's record, kept in the history
            unless ``note`` says why not.
    """

    planned = Signal(str, object)
    started = Signal(str, object)
    progress = Signal(str, object)
    finished = Signal(str, object)
    refused = Signal(str, object, str)
    failed = Signal(str, str, object)
    recorded = Signal(str, object, str)

    def __init__(
        self,
        key: str,
        *,
        audit: Audit | None = None,
        open_session: OpenSession = open_session,
        build: Build = build_operation,
    ) -> None:
        super().__init__()
        self.key = key
        self._audit = audit
        self._open = open_session
        self._build = build
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._aborted = False
        self._session: Session | None = None  # open from a plan until run or discard
        self._pending: tuple[OpsRequest, ops.Operation] | None = None

    # -- slots, in the worker's thread ------------------------------------------------

    @Slot(object)
    def plan(self, request: OpsRequest) -> None:
        self._drop()
        try:
            if self._aborted:
                raise EtcdError(CLOSING)
            config = request.make_config()
            session = self._open(config, request.cluster_name)
            with self._lock:
                self._session = session
                if self._aborted:
                    raise EtcdError(CLOSING)
            op = self._build(session, request.kind, request.params)
        except Exception as exc:
            log.info("no plan for %s on %s: %s", request.kind.value, self.key, exc)
            if not isinstance(exc, EtcdError | ValueError | OSError):
                report_bug(exc, f"planning {request.kind.value} on {self.key}")
            self._drop()
            self.failed.emit(self.key, _reason(exc), None)
            return
        self._pending = (request, op)
        self.planned.emit(self.key, op.plan)

    @Slot(str)
    def run(self, typed: str) -> None:
        pending = self._pending
        if pending is None:
            self.failed.emit(self.key, "nothing is planned: make a plan first", None)
            return
        request, op = pending
        plan = op.plan
        try:
            if self._aborted:
                raise EtcdError(CLOSING)
            if plan.refusal is not None:
                raise ops.OpRefusedError(plan.refusal)
            if needs_typed_name(plan.kind, request.tags):
                require_confirmation(
                    request.profile_name, request.tags, typed or None, risk=plan.kind.risk
                )
        except (ConfirmationRequiredError, EtcdError) as exc:
            self._drop()
            self._refuse(plan, str(exc))
            return
        self._pending = None
        self._cancel.clear()
        if self._aborted:  # abort() came between the check and the clear
            self._cancel.set()
        self.started.emit(self.key, plan)
        try:
            result = ops.run(
                op, on_progress=lambda p: self.progress.emit(self.key, p), cancel=self._cancel
            )
        except ops.OpRefusedError as exc:
            self._refuse(plan, str(exc))
            return
        except Exception as exc:
            log.warning("%s on %s broke off: %s", plan.kind.value, self.key, exc)
            if not isinstance(exc, EtcdError):
                report_bug(exc, f"{plan.kind.value} on {self.key}")
            reason = _reason(exc)
            self._record(audit_record(None, plan, error=reason))
            self.failed.emit(self.key, reason, plan)
            return
        finally:
            self._drop()
        self._record(audit_record(result, plan))
        self.finished.emit(self.key, result)

    @Slot()
    def discard(self) -> None:
        """Drop the plan waiting for confirmation and close its session."""
        self._drop()

    @Slot()
    def stop(self) -> None:
        self._drop()
        thread = self.thread()
        if thread is not None:
            thread.quit()

    def _refuse(self, plan: OpPlan, reason: str) -> None:
        self._record(audit_record(None, plan, refused=reason))
        self.refused.emit(self.key, plan, reason)

    def _record(self, rec: AuditRecord) -> None:
        note = ""
        if self._audit is not None:
            try:
                self._audit(rec)
            except (HistoryError, OSError) as exc:
                note = f"not kept in the history: {exc}"
                log.warning("maintenance run on %s %s", self.key, note)
            except Exception as exc:  # the record must not take the thread down
                note = f"not kept in the history: {type(exc).__name__}: {exc}"
                log.exception("maintenance run on %s not recorded", self.key)
        self.recorded.emit(self.key, rec, note)

    def _drop(self) -> None:
        self._pending = None
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:  # closing must never fail a plan or a run
                log.debug("closing the session of %s", self.key, exc_info=True)

    # -- safe from any thread ---------------------------------------------------------

    def cancel(self) -> None:
        """Stop the run after the step in progress."""
        self._cancel.set()

    def abort(self) -> None:
        """Shutdown: cancel, refuse what is still queued, and close the session so a
        call in flight ends now (the runner then stops after that step)."""
        with self._lock:
            self._aborted = True
            session = self._session
        self._cancel.set()
        if session is not None:
            try:
                session.close()
            except Exception:
                log.debug("closing the session of %s at shutdown", self.key, exc_info=True)


class OpsRunner(ThreadOwner):
    """One cluster's ``OpsWorker`` with its thread; the worker's signals relayed into
    the GUI thread, the requests queued into the worker's."""

    planned = Signal(str, object)
    started = Signal(str, object)
    progress = Signal(str, object)
    finished = Signal(str, object)
    refused = Signal(str, object, str)
    failed = Signal(str, str, object)
    recorded = Signal(str, object, str)
    requestPlan = Signal(object)
    requestRun = Signal(str)
    requestDiscard = Signal()
    requestStop = Signal()

    NAMES = ("planned", "started", "progress", "finished", "refused", "failed", "recorded")

    def __init__(self, worker: OpsWorker, parent: QObject | None = None) -> None:
        super().__init__(worker, f"ops:{worker.key}", parent)
        self.worker = worker
        self.relay(*self.NAMES)
        self.requestPlan.connect(worker.plan)
        self.requestRun.connect(worker.run)
        self.requestDiscard.connect(worker.discard)
        self.requestStop.connect(worker.stop)

    def _interrupt(self) -> None:
        self.worker.abort()

    def _end_thread(self) -> None:
        if self.qthread.isRunning():
            self.requestStop.emit()


WorkerFactory = Callable[[str], OpsWorker]


class OpsHandle(QObject):
    """Every cluster's maintenance, owned by the GUI thread.

    ``running`` maps a cluster key to the plan being run (from ``confirm`` until its
    ``finished``, ``refused`` or ``failed``); ``planning`` holds the keys waiting for a
    plan. Signals: those of ``OpsWorker``, from every cluster, in the GUI thread.
    """

    planned = Signal(str, object)
    started = Signal(str, object)
    progress = Signal(str, object)
    finished = Signal(str, object)
    refused = Signal(str, object, str)
    failed = Signal(str, str, object)
    recorded = Signal(str, object, str)

    def __init__(
        self,
        audit: Audit | None = None,
        parent: QObject | None = None,
        *,
        make_worker: WorkerFactory | None = None,
    ) -> None:
        super().__init__(parent)
        self._make_worker = make_worker or (lambda key: OpsWorker(key, audit=audit))
        self.runners: dict[str, OpsRunner] = {}
        self.plans: dict[str, OpPlan] = {}  # the plan each cluster's dialog shows
        self.running: dict[str, OpPlan] = {}
        self.planning: set[str] = set()
        self._down = False
        # Bookkeeping first: the views connected later see the state already updated.
        self.planned.connect(self._planned)
        for name in ("finished", "refused", "failed"):
            getattr(self, name).connect(self._ended)

    def _runner(self, key: str) -> OpsRunner:
        runner = self.runners.get(key)
        if runner is None:
            runner = OpsRunner(self._make_worker(key), self)
            for name in OpsRunner.NAMES:
                getattr(runner, name).connect(getattr(self, name))
            self.runners[key] = runner
            runner.start()
        return runner

    def worker(self, key: str) -> OpsWorker | None:
        runner = self.runners.get(key)
        return None if runner is None else runner.worker

    def is_running(self, key: str) -> bool:
        return key in self.running

    def plan(self, request: OpsRequest) -> bool:
        """Queue a plan; False (nothing queued) while an operation runs on the cluster
        or at shutdown."""
        if self._down or request.key in self.running:
            return False
        self.planning.add(request.key)
        self.plans.pop(request.key, None)
        self._runner(request.key).requestPlan.emit(request)
        return True

    def confirm(self, key: str, typed: str = "") -> bool:
        """Run the plan shown for ``key``; False when there is none (or one runs)."""
        plan = self.plans.get(key)
        if self._down or plan is None or key in self.running or key in self.planning:
            return False
        self.running[key] = plan
        self._runner(key).requestRun.emit(typed)
        return True

    def discard(self, key: str) -> None:
        """Drop the plan waiting for confirmation (the dialog closed or chose again)."""
        self.plans.pop(key, None)
        runner = self.runners.get(key)
        if runner is not None and not self._down:
            runner.requestDiscard.emit()

    def cancel(self, key: str) -> None:
        """Stop ``key``'s run after the step in progress (thread-safe underneath)."""
        runner = self.runners.get(key)
        if runner is not None:
            runner.worker.cancel()

    def forget(self, key: str) -> None:
        """The cluster is no longer watched: drop its plan; an idle worker's thread
        ends (a run in progress finishes, is recorded, and its thread stays until
        shutdown)."""
        self.discard(key)
        runner = self.runners.get(key)
        if runner is not None and key not in self.running and key not in self.planning:
            del self.runners[key]
            runner.shutdown()
            runner.deleteLater()

    def _planned(self, key: str, plan: OpPlan) -> None:
        self.planning.discard(key)
        self.plans[key] = plan

    def _ended(self, key: str, *_: object) -> None:
        """A run ended, was refused, or no plan came: nothing waits any more (a plan
        runs once; the next one is made from the cluster as it is then)."""
        self.planning.discard(key)
        self.running.pop(key, None)
        self.plans.pop(key, None)

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel every run and close its session, then end every thread. Safe twice."""
        if self._down:
            return True
        self._down = True
        for runner in self.runners.values():
            runner.worker.abort()
        ok = True
        for runner in self.runners.values():
            ok = runner.shutdown(timeout_s) and ok
        return ok


__all__ = [
    "OpProgress",
    "OpResult",
    "OpsHandle",
    "OpsRequest",
    "OpsRunner",
    "OpsWorker",
    "build_operation",
    "needs_typed_name",
]
