"""Guided maintenance in the app, offscreen: the dialog opened from the Maintenance menu
shows the plan (the leader last), runs it with each step's progress and the result, a
cancel stops between steps, a production profile needs its typed name, a benchmark and
a maintenance run never share a cluster, every run lands in the Maintenance log (and
the history); the header offers Recover… and Defragment… when the snapshot calls for
them, a member's context menu offers what names a member. Real 3-member sandboxes,
except where built snapshots or stand-in operations say all there is to say."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.bench import Phase
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.ops import (
    AuditRecord,
    OpKind,
    OpPlan,
    OpProgress,
    OpResult,
    PlannedStep,
    StepState,
)
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.model.snapshot import AlarmInfo, ClusterSnapshot
from etcdmon_gui.ops.audit import local_user
from etcdmon_gui.store.history.ops_log import OpsLog
from etcdmon_gui.ui.main_window import MainWindow
from etcdmon_gui.ui.maintenance_dialog import MaintenanceDialog
from etcdmon_gui.workers.ops_worker import OpsHandle, OpsRequest, OpsWorker
from tests.app_support import make_app
from tests.builders import member, snap

RUN_TIMEOUT_MS = 60_000
MB = 1_000_000


def grab(widget: QWidget) -> QPixmap:
    QApplication.processEvents()
    return widget.grab()


def watch_sandbox(app: Application, qtbot: QtBot, cluster: Sandbox) -> str:
    app.watch_config(ConnectionConfig(parse_endpoints(cluster.endpoints_arg)), "sandbox")
    key = app.window.current_key()
    assert key is not None

    def ready() -> bool:
        s = app.window.latest_snapshot(key)
        return s is not None and s.leader_id is not None and len(s.members) == 3

    qtbot.waitUntil(ready, timeout=15_000)
    return key


def open_from_menu(app: Application, qtbot: QtBot, key: str, entry: str) -> MaintenanceDialog:
    assert app.window.maintenance_actions[entry].isEnabled()
    app.window.maintenance_actions[entry].trigger()
    dialog = app.ops_dialogs[key]
    assert dialog.isVisible()
    qtbot.addWidget(dialog)
    return dialog


def plan(app: Application, qtbot: QtBot, dialog: MaintenanceDialog) -> OpPlan:
    with qtbot.waitSignal(app.ops.planned, timeout=15_000) as blocker:
        dialog.plan_button.click()
        assert not dialog.plan_button.isEnabled()  # planning: one request at a time
    shown: OpPlan = blocker.args[1]
    assert dialog.plan is shown
    return shown


def leader_name(app: Application, key: str) -> str:
    s = app.window.latest_snapshot(key)
    assert s is not None and s.leader is not None
    return s.leader.name


def wait_log_rows(app: Application, qtbot: QtBot, n: int) -> None:
    qtbot.waitUntil(lambda: app.window.maintenance_log.model.rowCount() == n, timeout=5_000)


class Gate:
    """Holds the worker's thread at the start of step ``index`` until released, so
    the test acts while that step is in progress (a direct connection: it runs in the
    worker's thread, before the step's code)."""

    def __init__(self, worker: OpsWorker, index: int = 0) -> None:
        self.index = index
        self.reached = threading.Event()
        self.open = threading.Event()
        self.worker = worker
        worker.progress.connect(self._hold, Qt.ConnectionType.DirectConnection)

    def _hold(self, _key: str, p: OpProgress) -> None:
        if p.index == self.index and p.outcome is None and not self.reached.is_set():
            self.reached.set()
            self.open.wait(30)

    def release(self) -> None:
        self.open.set()
        self.worker.progress.disconnect(self._hold)


# -- a real cluster -----------------------------------------------------------------------


def test_defragment_shows_the_plan_leader_last_progress_result_and_log(
    app: Application, qtbot: QtBot, cluster: Sandbox, tmp_path: Path
) -> None:
    key = watch_sandbox(app, qtbot, cluster)
    dialog = open_from_menu(app, qtbot, key, "defragment")
    assert dialog.kind() is OpKind.DEFRAG
    assert not dialog.run_button.isEnabled()  # nothing runs before a plan
    dialog.defrag_threshold.setValue(0)  # every member, however little it frees
    shown = plan(app, qtbot, dialog)

    leader = leader_name(app, key)
    assert shown.kind is OpKind.DEFRAG and shown.refusal is None
    assert [s.member for s in shown.steps][-1] == leader
    rows = dialog.step_rows()
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert "(follower)" in rows[0][1] and "(follower)" in rows[1][1]
    assert rows[2][1] == f"defragment {leader} (leader)"
    assert f"then {leader} (leader)" in dialog.summary.text()
    assert all(r[2] for r in rows)  # the expected time of each step
    assert dialog.run_button.isEnabled() and dialog.refusal.isHidden()
    assert grab(dialog).save("/tmp/maintenance_plan.png")

    reports: list[OpProgress] = []
    shots: list[bool] = []

    def seen(_key: str, p: OpProgress) -> None:
        reports.append(p)
        if p.outcome is not None and p.index == 0 and not shots:  # mid-run
            assert dialog.running and dialog.step_bar.isVisible()
            assert dialog.step_rows()[0][2].startswith("done")
            shots.append(grab(dialog).save("/tmp/maintenance_progress.png"))

    app.ops.progress.connect(seen)
    with qtbot.waitSignal(app.ops.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.run_button.click()
        assert dialog.running and not dialog.run_button.isEnabled()
        assert not dialog.plan_button.isEnabled() and not dialog.kinds.isEnabled()
    app.ops.progress.disconnect(seen)
    result: OpResult = blocker.args[1]
    assert shots == [True]

    assert result.ok, result.describe()
    assert [o.state for o in result.outcomes] == [StepState.DONE] * 3
    assert [o.data["member"] for o in result.outcomes][-1] == leader
    # Each step was announced, then ended, in order.
    assert [p.index for p in reports if p.outcome is not None] == [0, 1, 2]
    starts = [p.index for p in reports if p.outcome is None]
    assert sorted(set(starts)) == [0, 1, 2] and starts == sorted(starts)
    assert all(r[2].startswith("done") for r in dialog.step_rows())
    assert "freed" in dialog.step_rows()[2][3]
    assert "Done: 3 of 3 steps" in dialog.result_label.text()
    assert not dialog.running and dialog.plan_button.isEnabled()
    assert not dialog.run_button.isEnabled()  # a plan runs once
    assert grab(dialog).save("/tmp/maintenance_result.png")

    # The Maintenance log has the run, and so does the history file.
    wait_log_rows(app, qtbot, 1)
    log = app.window.maintenance_log
    rec = log.model.record(0)
    assert (rec.kind, rec.result, rec.user, rec.cluster) == (
        OpKind.DEFRAG,
        "ok",
        local_user(),
        key,
    )
    assert "Maintenance: Defragment on sandbox: ok" in app.window.statusBar().currentMessage()
    with OpsLog(tmp_path / "history.sqlite3") as stored:
        assert [(r.kind, r.result) for r in stored.records()] == [(OpKind.DEFRAG, "ok")]
    app.window.show_maintenance_tab()
    log.select_row(0)
    assert "3. defragment" in log.details.toPlainText()
    app.window.resize(1400, 900)
    assert grab(app.window.bottom).save("/tmp/maintenance_log.png")

    # A snapshot from a member chosen in the tree's context menu: the file, its progress.
    s = app.window.latest_snapshot(key)
    assert s is not None
    follower = next(m for m in s.members if m.id != s.leader_id)
    app.window.tree.maintenanceRequested.emit(key, OpKind.SNAPSHOT, follower.id_hex)
    assert dialog.kind() is OpKind.SNAPSHOT
    assert dialog.snapshot_member.chosen() == follower.id_hex
    target = tmp_path / "etcd.db"
    dialog.snapshot_path.setText(str(target))
    shown = plan(app, qtbot, dialog)
    assert follower.name in shown.summary and str(target) in shown.summary
    with qtbot.waitSignal(app.ops.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.run_button.click()
    assert blocker.args[1].ok and target.stat().st_size > 0
    assert "SHA-256" in dialog.step_rows()[0][3]
    wait_log_rows(app, qtbot, 2)
    assert log.model.record(0).kind is OpKind.SNAPSHOT


def test_cancel_stops_after_the_step_in_progress_and_says_what_was_done(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    key = watch_sandbox(app, qtbot, cluster)
    dialog = open_from_menu(app, qtbot, key, "defragment")
    dialog.defrag_threshold.setValue(0)
    plan(app, qtbot, dialog)
    worker = app.ops.worker(key)
    assert worker is not None
    gate = Gate(worker, index=0)
    try:
        with qtbot.waitSignal(app.ops.progress, timeout=15_000):
            dialog.run_button.click()
        assert gate.reached.wait(10)
        qtbot.waitUntil(lambda: dialog.step_rows()[0][2] == "running…", timeout=5_000)
        with qtbot.waitSignal(dialog.cancelRequested, timeout=1_000):
            dialog.cancel_button.click()
        assert "Cancelling" in dialog.status.text() and "step 1" in dialog.status.text()
        assert not dialog.cancel_button.isEnabled()
        with qtbot.waitSignal(app.ops.finished, timeout=RUN_TIMEOUT_MS) as blocker:
            gate.release()  # step 1 goes on to its end; step 2 never starts
    finally:
        gate.open.set()
    result: OpResult = blocker.args[1]
    assert result.cancelled and result.result == "cancelled"
    assert [o.state for o in result.outcomes] == [
        StepState.DONE,
        StepState.CANCELLED,
        StepState.CANCELLED,
    ]
    text = dialog.result_label.text()
    assert "Cancelled after 1 of 3 steps" in text and "not run: steps 2, 3" in text
    assert [r[2].split(" ")[0] for r in dialog.step_rows()] == ["done", "cancelled", "cancelled"]
    assert grab(dialog).save("/tmp/maintenance_cancelled.png")
    wait_log_rows(app, qtbot, 1)
    rec = app.window.maintenance_log.model.record(0)
    assert rec.result == "cancelled"
    assert "2. " in rec.detail and "cancelled" in rec.detail

    # Warnings in amber (compaction is cluster-wide), a refusal in red with Run disabled.
    dialog.select(OpKind.COMPACT)
    plan(app, qtbot, dialog)
    assert dialog.warnings.isVisible() and "cluster-wide" in dialog.warnings.text()
    assert dialog.run_button.isEnabled()
    assert grab(dialog).save("/tmp/maintenance_warning.png")
    dialog.select(OpKind.RECOVER)
    assert dialog.plan is None and not dialog.run_button.isEnabled()  # the compact plan went
    shown = plan(app, qtbot, dialog)
    assert shown.refusal is not None and "no NOSPACE alarm" in dialog.refusal.text()
    assert dialog.refusal.isVisible() and not dialog.run_button.isEnabled()
    assert grab(dialog).save("/tmp/maintenance_refused.png")


def test_a_production_profile_needs_its_typed_name(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    profile = Profile(name="prod-eu", endpoints=cluster.endpoints, tags=["production"])
    app.connect_profile(profile)
    key = profile.key
    qtbot.waitUntil(lambda: app.window.latest_snapshot(key) is not None, timeout=15_000)
    dialog = app.show_maintenance(kind=OpKind.COMPACT)
    assert dialog is not None and dialog.kind() is OpKind.COMPACT
    qtbot.addWidget(dialog)
    assert dialog.confirm_box.isVisible() and "tagged production" in dialog.confirm_label.text()
    plan(app, qtbot, dialog)
    assert "Type prod-eu" in dialog.status.text()
    for typed in ("", "prod", "PROD-EU"):
        dialog.confirm.setText(typed)
        assert not dialog.run_button.isEnabled(), typed
    dialog.confirm.setText("prod-eu")
    assert dialog.run_button.isEnabled()
    assert grab(dialog).save("/tmp/maintenance_production.png")

    # The worker is the guard: a wrong name that got past the dialog is refused and logged.
    with qtbot.waitSignal(app.ops.refused, timeout=10_000) as blocker:
        assert app.ops.confirm(key, "prod")
    assert "tagged production" in blocker.args[2] and "compact" in blocker.args[2]
    wait_log_rows(app, qtbot, 1)
    assert app.window.maintenance_log.model.record(0).result == "refused"
    assert "Not run" in dialog.result_label.text() and not dialog.run_button.isEnabled()

    plan(app, qtbot, dialog)
    with qtbot.waitSignal(app.ops.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.run_button.click()
    assert blocker.args[1].ok
    wait_log_rows(app, qtbot, 2)

    # Reading the cluster changes nothing: HashKV needs no typed name (as etcdmon ops).
    dialog.confirm.clear()
    dialog.select(OpKind.HASHKV)
    assert dialog.confirm_box.isHidden()
    plan(app, qtbot, dialog)
    assert dialog.run_button.isEnabled()
    with qtbot.waitSignal(app.ops.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.run_button.click()
    result: OpResult = blocker.args[1]
    assert result.ok and result.findings == ()
    assert "agree" in dialog.step_rows()[-1][3]
    wait_log_rows(app, qtbot, 3)


def test_a_benchmark_and_maintenance_never_share_a_cluster(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    key = watch_sandbox(app, qtbot, cluster)
    dialog = open_from_menu(app, qtbot, key, "defragment")
    dialog.defrag_threshold.setValue(0)
    plan(app, qtbot, dialog)
    worker = app.ops.worker(key)
    assert worker is not None
    bench = app.show_benchmark(key)
    assert bench is not None
    qtbot.addWidget(bench)

    # Maintenance running: the benchmark is refused, saying why.
    gate = Gate(worker)
    try:
        dialog.run_button.click()
        assert gate.reached.wait(10)
        assert app.ops.is_running(key)
        bench.start_button.click()
        assert "Maintenance (defragment) is running" in bench.status.text()
        assert not app.bench.busy and not bench.running
        # ... and a second operation on the cluster too.
        assert not app.ops.plan(
            OpsRequest(key, OpKind.HASHKV, {}, app.config_factories[key], "sandbox")
        )
        with qtbot.waitSignal(app.ops.finished, timeout=RUN_TIMEOUT_MS):
            gate.release()
    finally:
        gate.open.set()

    # A benchmark running: maintenance is refused, saying why.
    bench.form.limit_mode.setCurrentIndex(1)
    bench.form.duration.setValue(60)
    with qtbot.waitSignal(
        app.bench.progress, timeout=15_000, check_params_cb=lambda _k, p: p.phase is Phase.RUNNING
    ):
        bench.start_button.click()
    dialog.select(OpKind.HASHKV)
    dialog.plan_button.click()
    assert "A benchmark is running on this cluster" in dialog.status.text()
    assert not dialog.planning and dialog.plan_button.isEnabled() and dialog.plan is None
    with qtbot.waitSignal(app.bench.finished, timeout=10_000):
        bench.cancel_button.click()


# -- built snapshots: the header and the menus -------------------------------------------


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    w = MainWindow(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    return w


def shown(window: MainWindow, s: ClusterSnapshot) -> None:
    window.add_cluster(s.key, "built")
    window.show_snapshot(s)


def test_the_header_offers_recover_with_nospace_and_defragment_when_fragmented(
    window: MainWindow, qtbot: QtBot
) -> None:
    header = window.header
    assert not window.maintenance_actions["defragment"].isEnabled()  # no cluster yet
    healthy = snap(time.time(), [member(1), member(2), member(3)])
    shown(window, healthy)
    assert window.maintenance_actions["defragment"].isEnabled()
    assert header.recover_button.isHidden() and header.defrag_button.isHidden()

    nospace = dataclasses.replace(healthy, alarms=(AlarmInfo(1, "NOSPACE"),))
    window.show_snapshot(nospace)
    assert header.recover_button.isVisibleTo(header) and header.defrag_button.isHidden()
    with qtbot.waitSignal(window.maintenanceRequested, timeout=1_000) as blocker:
        header.recover_button.click()
    assert blocker.args == ["c1", OpKind.RECOVER, None]
    with qtbot.waitSignal(window.maintenanceRequested, timeout=1_000) as blocker:
        window.maintenance_actions["alarms"].trigger()
    assert blocker.args == ["c1", OpKind.RECOVER, None]

    # Fragmented: 300 MB of a 400 MB file free on m2 (over half, over 100 MB).
    m2 = dataclasses.replace(member(2), db_size=400 * MB, db_size_in_use=100 * MB)
    small = dataclasses.replace(member(3), db_size=150 * MB, db_size_in_use=10 * MB)
    window.show_snapshot(dataclasses.replace(healthy, members=(member(1), m2, small)))
    assert header.recover_button.isHidden() and header.defrag_button.isVisibleTo(header)
    assert "m2 300.0 MB of 400.0 MB free" in header.defrag_button.toolTip()
    assert "m3" in header.defrag_button.toolTip()  # 140 of 150 MB free
    with qtbot.waitSignal(window.maintenanceRequested, timeout=1_000) as blocker:
        header.defrag_button.click()
    assert blocker.args == ["c1", OpKind.DEFRAG, None]
    with qtbot.waitSignal(window.maintenanceRequested, timeout=1_000) as blocker:
        window.maintenance_actions["alarms"].trigger()
    assert blocker.args == ["c1", OpKind.ALARM_DISARM, None]  # no NOSPACE now

    # Under 100 MB free, or under half of the file: no offer.
    for db, used in ((150 * MB, 60 * MB), (90 * MB, 1 * MB)):
        m = dataclasses.replace(member(2), db_size=db, db_size_in_use=used)
        window.show_snapshot(dataclasses.replace(healthy, members=(member(1), m)))
        assert header.defrag_button.isHidden(), (db, used)
    window.resize(1200, 700)
    window.show_snapshot(dataclasses.replace(nospace, members=(member(1), m2, small)))
    assert grab(window.header).save("/tmp/maintenance_header.png")


def test_a_members_context_menu_offers_what_names_it(window: MainWindow, qtbot: QtBot) -> None:
    learner = dataclasses.replace(member(4), is_learner=True)
    shown(window, snap(time.time(), [member(1), member(2), learner]))

    def actions(member_id: int) -> dict[str, bool]:
        menu = window.tree.context_menu("c1", member_id)
        return {a.text(): a.isEnabled() for a in menu.actions() if a.text()}

    leader = actions(1)
    assert leader["Move &leader here…"] is False and "Pro&mote…" not in leader
    assert leader["Remo&ve…"] and leader["&Snapshot from this member…"]
    assert "Sweep &now" in leader  # the cluster's actions stay
    assert actions(2)["Move &leader here…"] is True
    as_learner = actions(4)
    assert as_learner["Pro&mote…"] and not as_learner["Move &leader here…"]

    menu = window.tree.context_menu("c1", 4)
    promote = next(a for a in menu.actions() if a.text() == "Pro&mote…")
    with qtbot.waitSignal(window.maintenanceRequested, timeout=1_000) as blocker:
        promote.trigger()
    assert blocker.args == ["c1", OpKind.MEMBER_PROMOTE, "4"]
    cluster_only = window.tree.context_menu("c1")
    assert "Remo&ve…" not in [a.text() for a in cluster_only.actions()]


def test_the_dialog_preselects_and_checks_its_parameters(qtbot: QtBot) -> None:
    dialog = MaintenanceDialog("c1", "built")
    qtbot.addWidget(dialog)
    learner = dataclasses.replace(member(4), is_learner=True, name="m4")
    dialog.set_snapshot(snap(time.time(), [member(1), member(2), learner]))
    dialog.select(OpKind.MEMBER_PROMOTE, "4")
    assert dialog.kind() is OpKind.MEMBER_PROMOTE and dialog.params() == {"member": "4"}
    dialog.select(OpKind.MOVE_LEADER)
    assert dialog.params() == {"to": "2"}  # the leader (m1) is no choice
    dialog.select(OpKind.COMPACT)
    assert dialog.params() == {"revision": None, "keep": None, "physical": False}
    dialog.keep_revisions.setValue(50)
    assert dialog.params()["keep"] == 50
    dialog.compact_revision.setText("1234")
    dialog.compact_revision.textEdited.emit("1234")
    dialog.physical.setChecked(True)
    assert dialog.params() == {"revision": 1234, "keep": None, "physical": True}
    dialog.select(OpKind.MEMBER_ADD)
    dialog.add_urls.setText("http://10.0.0.4:2380, http://10.0.0.5:2380")
    assert dialog.params() == {
        "peer_urls": ["http://10.0.0.4:2380", "http://10.0.0.5:2380"],
        "learner": True,
        "name": None,
    }
    dialog.select(OpKind.SNAPSHOT)
    with qtbot.assertNotEmitted(dialog.planRequested):
        dialog.plan_button.click()
    assert "Choose the file" in dialog.status.text()


# -- stand-in operations: the handle without a cluster -----------------------------------


class _Session:
    def __init__(self) -> None:
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()


class _Op:
    """Steps that wait for ``release`` (or the session's close: shutdown)."""

    def __init__(self, session: _Session, key: str, steps: int = 3) -> None:
        self.session = session
        self.release = threading.Event()
        self.plan = OpPlan(
            OpKind.HASHKV,
            key,
            "stand-in",
            "check",
            tuple(PlannedStep(f"step {i + 1}") for i in range(steps)),
        )

    def run_step(self, index: int, report: Any) -> tuple[StepState, str, dict[str, object]]:
        while not self.release.wait(0.01):
            if self.session.closed.is_set():
                raise EtcdError("the connection was closed")
        return StepState.DONE, f"did {index + 1}", {}

    def findings(self) -> tuple[str, ...]:
        return ()


@pytest.fixture
def stand_in(qtbot: QtBot) -> Iterator[tuple[OpsHandle, list[_Op], list[Any]]]:
    made: list[_Op] = []
    audited: list[Any] = []

    def build(session: _Session, kind: OpKind, params: Mapping[str, Any]) -> _Op:
        made.append(_Op(session, "k"))
        return made[-1]

    handle = OpsHandle(
        make_worker=lambda key: OpsWorker(
            key, audit=audited.append, open_session=lambda c, n: _Session(), build=build
        )
    )
    yield handle, made, audited
    handle.shutdown()


def request(key: str = "k") -> OpsRequest:
    return OpsRequest(key, OpKind.HASHKV, {}, lambda: ConnectionConfig(parse_endpoints("x:1")))


def test_one_operation_per_cluster_and_a_bounded_shutdown(
    qtbot: QtBot, stand_in: tuple[OpsHandle, list[_Op], list[Any]]
) -> None:
    handle, made, audited = stand_in
    assert not handle.confirm("k")  # nothing planned
    with qtbot.waitSignal(handle.planned, timeout=5_000):
        assert handle.plan(request())
    with qtbot.waitSignal(handle.progress, timeout=5_000):  # step 1 is in progress
        assert handle.confirm("k")
    assert handle.is_running("k")
    assert not handle.plan(request())  # a second operation on the cluster: refused
    assert not handle.confirm("k")
    t0 = time.monotonic()
    assert handle.shutdown(timeout_s=5)
    assert time.monotonic() - t0 < 3
    assert handle.shutdown()  # twice is fine
    assert made[0].session.closed.is_set()
    # The run that shutdown cut is kept: step 1 broke off, the others never ran.
    assert [r.result for r in audited] == ["failed"]
    assert "the connection was closed" in audited[0].detail
    assert "not run" in audited[0].detail


def test_the_log_lists_earlier_sessions_runs(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    earlier = AuditRecord(
        at=time.time() - 86_400,
        user="alice",
        cluster="profile:p1",
        cluster_name="prod-eu",
        kind=OpKind.MEMBER_REMOVE,
        summary="remove m3 (follower)",
        result="refused",
        detail="removing m3 would leave 1 of 3 voters: quorum lost",
    )
    with OpsLog(tmp_path / "history.sqlite3") as stored:
        stored.record(earlier)
    app = make_app(qapp, qtbot, tmp_path)
    try:
        log = app.window.maintenance_log
        qtbot.waitUntil(lambda: log.model.rowCount() == 1, timeout=5_000)
        assert log.model.record(0) == earlier
        log.select_row(0)
        assert "quorum lost" in log.details.toPlainText()
        assert "by alice" in log.details.toPlainText()
        assert "1 maintenance run" in log.summary.text() and "1 not ok" in log.summary.text()
        # A run of this session that the history also answers with is listed once.
        log.set_records([earlier])
        log.add_record(earlier)
        assert log.model.rowCount() == 1
        # Asked without a cluster shown, the dialog is refused, saying why.
        assert not app.window.maintenance_actions["defragment"].isEnabled()
        assert app.show_maintenance() is None and app.ops_dialogs == {}
        assert "No cluster is shown" in app.window.statusBar().currentMessage()
    finally:
        app.shutdown()
