"""The benchmark dialog's form: a workload or check perf preset and its parameters.

It turns the fields into a ``BenchSpec`` (``spec()``) and shows only the fields the
chosen workload uses. Check perf presets arrive ready-made from the composition root
(the dialog does not import the bench package): ``name -> (CheckPerfPreset, BenchSpec)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.bench import BenchSpec, CheckPerfPreset, Workload
from etcdmon_gui.ui.palette import FAIL_COLOUR

__all__ = ["COMPACT_TIP", "BenchForm", "CheckPerfChoices"]

CheckPerfChoices = Mapping[str, tuple[CheckPerfPreset, BenchSpec]]

COMPACT_TIP = (
    "After deleting the benchmark's keys, also compact the cluster's history at that "
    "revision. Off by default, as in etcd's own tools: compaction is cluster-wide, so it "
    "ends other clients' watches that are behind that revision and drops history they "
    "may still read. Use it on a cluster of your own to keep its database from growing."
)

_WORKLOAD_TIPS = {
    Workload.PUT: "puts of random or sequential keys (etcd tools/benchmark put)",
    Workload.RANGE: "range reads over the prefix (tools/benchmark range)",
    Workload.TXN_PUT: "transactions of several puts (tools/benchmark txn-put)",
    Workload.TXN_MIXED: "a mix of txn range reads and txn puts (tools/benchmark txn-mixed)",
    Workload.WATCH_LATENCY: "delay from a put to its watch event (tools/benchmark watch-latency)",
}


class BenchForm(QGroupBox):
    """The "Workload" box: preset, parameters, the production confirmation, a note."""

    def __init__(
        self,
        check_perf: CheckPerfChoices,
        production_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Workload", parent)
        self._check_perf = dict(check_perf)
        self._production_name = production_name
        self._preset: CheckPerfPreset | None = None
        self.preset = QComboBox()
        for w in Workload:
            self.preset.addItem(w.value, ("workload", w))
            self.preset.setItemData(
                self.preset.count() - 1, _WORKLOAD_TIPS[w], Qt.ItemDataRole.ToolTipRole
            )
        self.preset.insertSeparator(self.preset.count())
        for name, (p, _) in self._check_perf.items():
            self.preset.addItem(
                f"check perf {name} ({p.limit}/s, {p.clients} clients)", ("check", name)
            )
        self.preset.currentIndexChanged.connect(self._apply_choice)

        def spin(lo: int, hi: int, value: int, suffix: str = "") -> QSpinBox:
            s = QSpinBox()
            s.setRange(lo, hi)
            s.setValue(value)
            s.setGroupSeparatorShown(True)
            s.setSuffix(suffix)
            return s

        self.clients = spin(1, 10_000, 50)
        self.clients.setToolTip("requests in flight at once")
        self.conns = spin(1, 1_000, 10)
        self.conns.setToolTip("gRPC connections (TCP) the clients share")
        self.limit_mode = QComboBox()
        self.limit_mode.addItems(["Total requests", "Duration"])
        self.total = spin(1, 100_000_000, 10_000)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.5, 24 * 3600)
        self.duration.setValue(10)
        self.duration.setSuffix(" s")
        self.limit_mode.currentIndexChanged.connect(self._sync_fields)
        stop_row = QHBoxLayout()
        stop_row.setContentsMargins(0, 0, 0, 0)
        stop_row.addWidget(self.limit_mode)
        stop_row.addWidget(self.total, 1)
        stop_row.addWidget(self.duration, 1)
        stop_widget = QWidget()
        stop_widget.setLayout(stop_row)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0, 10_000_000)
        self.rate.setDecimals(0)
        self.rate.setSuffix(" /s")
        self.rate.setSpecialValueText("unlimited")
        self.key_size = spin(1, 65_536, 8, " B")
        self.val_size = spin(0, 1_500_000, 256, " B")
        self.key_space = spin(1, 100_000_000, 10_000)
        self.sequential = QCheckBox("Sequential keys")
        self.consistency = QComboBox()
        self.consistency.addItems(["linearizable", "serializable"])
        self.range_limit = spin(0, 1_000_000, 0)
        self.range_limit.setSpecialValueText("none")
        self.txn_ops = spin(1, 128, 1)
        self.rw_ratio = QDoubleSpinBox()
        self.rw_ratio.setRange(0, 1000)
        self.rw_ratio.setValue(1.0)
        self.rw_ratio.setToolTip("reads per write")
        self.put_rate = QDoubleSpinBox()
        self.put_rate.setRange(1, 100_000)
        self.put_rate.setValue(100)
        self.put_rate.setSuffix(" /s")
        self.compact = QCheckBox("Compact the history afterwards")
        self.compact.setToolTip(COMPACT_TIP)
        self.confirm = QLineEdit()
        self.confirm.setPlaceholderText(
            f"type {self._production_name!r} to confirm" if self._production_name else ""
        )

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Preset", self.preset)
        form.addRow("Clients", self.clients)
        form.addRow("Connections", self.conns)
        form.addRow("Stop after", stop_widget)
        form.addRow("Rate limit", self.rate)
        form.addRow("Key size", self.key_size)
        form.addRow("Value size", self.val_size)
        form.addRow("Key space", self.key_space)
        form.addRow("", self.sequential)
        form.addRow("Range reads", self.consistency)
        form.addRow("Range limit", self.range_limit)
        form.addRow("Ops per txn", self.txn_ops)
        form.addRow("Read/write ratio", self.rw_ratio)
        form.addRow("Watch puts", self.put_rate)
        form.addRow("Cleanup", self.compact)
        self._form = form
        outer = QVBoxLayout(self)
        outer.addLayout(form)
        if self._production_name:
            warn = QLabel(
                f"<b>{self._production_name}</b> is tagged <b>production</b>: a "
                "benchmark loads it and may slow it down for its users. Type the "
                "profile's name to go ahead."
            )
            warn.setWordWrap(True)
            warn.setStyleSheet(f"color: {FAIL_COLOUR};")
            outer.addWidget(warn)
            outer.addWidget(self.confirm)
        outer.addStretch(1)
        note = QLabel(
            "Keys are written under a dedicated prefix that must be empty. They "
            "are deleted when the run ends, also after Cancel; the history is "
            "compacted only when you ask for it. One benchmark runs at a time."
        )
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        outer.addWidget(note)
        self.setFixedWidth(360)
        self._apply_choice()

    def _set_row_visible(self, field: QWidget, visible: bool) -> None:
        self._form.setRowVisible(field, visible)

    @Slot()
    def _apply_choice(self) -> None:
        kind, value = self.preset.currentData() or ("workload", Workload.PUT)
        if kind == "check":
            preset, spec = self._check_perf[str(value)]
            self._preset = preset
        else:
            self._preset = None
            spec = self._default_spec(value)
        self._load_spec(spec)
        self._sync_fields()

    @staticmethod
    def _default_spec(w: Workload) -> BenchSpec:
        spec = BenchSpec(
            workload=w, clients=50, conns=10, total=10_000, val_size=256, key_space_size=10_000
        )
        if w is Workload.TXN_PUT:
            spec = dataclasses.replace(spec, txn_ops=4)
        if w is Workload.WATCH_LATENCY:
            spec = dataclasses.replace(spec, clients=10, conns=1, total=1_000)
        return spec

    def _load_spec(self, s: BenchSpec) -> None:
        self.clients.setValue(s.clients)
        self.conns.setValue(s.conns)
        self.limit_mode.setCurrentIndex(1 if s.duration_s else 0)
        self.total.setValue(s.total)
        self.duration.setValue(s.duration_s or 10)
        self.rate.setValue(s.rate)
        self.key_size.setValue(s.key_size)
        self.val_size.setValue(s.val_size)
        self.key_space.setValue(s.key_space_size)
        self.sequential.setChecked(s.sequential_keys)
        self.consistency.setCurrentIndex(0 if s.linearizable else 1)
        self.range_limit.setValue(s.limit)
        self.txn_ops.setValue(s.txn_ops)
        self.rw_ratio.setValue(s.rw_ratio)
        self.put_rate.setValue(s.put_rate)
        self.compact.setChecked(s.compact)

    @Slot()
    def _sync_fields(self) -> None:
        w = self.workload
        check = self._preset is not None
        by_duration = self.limit_mode.currentIndex() == 1
        self.total.setVisible(not by_duration)
        self.duration.setVisible(by_duration)
        writes_keys = w in (Workload.PUT, Workload.TXN_PUT, Workload.TXN_MIXED)
        self._set_row_visible(self.key_space, not check and writes_keys)
        self._set_row_visible(self.sequential, not check and w is Workload.PUT)
        reads = w in (Workload.RANGE, Workload.TXN_MIXED)
        self._set_row_visible(self.consistency, reads)
        self._set_row_visible(self.range_limit, reads)
        self._set_row_visible(self.txn_ops, w is Workload.TXN_PUT)
        self._set_row_visible(self.rw_ratio, w is Workload.TXN_MIXED)
        self._set_row_visible(self.put_rate, w is Workload.WATCH_LATENCY)
        self._set_row_visible(self.rate, w is not Workload.WATCH_LATENCY)
        self._set_row_visible(self.compact, w.writes)

    @property
    def check_perf_preset(self) -> CheckPerfPreset | None:
        """The check perf preset chosen, or ``None`` for a plain workload."""
        return self._preset

    @property
    def workload(self) -> Workload:
        if self._preset is not None:
            return Workload.PUT
        _, value = self.preset.currentData() or ("workload", Workload.PUT)
        assert isinstance(value, Workload)
        return value

    def select(self, choice: str) -> None:
        """Choose a preset by name: a workload (``put``) or ``check perf s``..."""
        for i in range(self.preset.count()):
            data = self.preset.itemData(i)
            if data and (
                (data[0] == "workload" and data[1].value == choice)
                or (data[0] == "check" and f"check perf {data[1]}" == choice)
            ):
                self.preset.setCurrentIndex(i)
                return
        raise ValueError(f"no preset {choice!r}")

    def spec(self) -> BenchSpec:
        """The run the form describes."""
        if self._preset is not None:
            base = self._check_perf[self._preset.name][1]
        else:
            base = BenchSpec(workload=self.workload)
        by_duration = self.limit_mode.currentIndex() == 1
        return dataclasses.replace(
            base,
            clients=self.clients.value(),
            conns=self.conns.value(),
            total=self.total.value(),
            duration_s=self.duration.value() if by_duration else None,
            rate=self.rate.value(),
            key_size=self.key_size.value(),
            val_size=self.val_size.value(),
            key_space_size=base.key_space_size if self._preset else self.key_space.value(),
            sequential_keys=self.sequential.isChecked() and self._preset is None,
            linearizable=self.consistency.currentIndex() == 0,
            limit=self.range_limit.value(),
            txn_ops=self.txn_ops.value(),
            rw_ratio=self.rw_ratio.value(),
            put_rate=self.put_rate.value(),
            compact=self.compact.isChecked() and self.workload.writes,
        )
