"""The settings form of one channel type, built from what its module declares.

Three groups: the channel (name, enabled), the type's own settings with its secrets,
and which alerts it takes (severity, resolved, timeout). Each row comes from the type's
settings model (``FieldRow.for_field``); a secret's row follows the setting it depends
on (``SecretField.only_with``), the others open the type's group. Fields the type
declares unused are left out. Validation is the model's own, so the form says exactly
what channels.yaml would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.notify.registry import ChannelKind
from etcdmon_gui.ui.field_row_widget import FieldRow
from etcdmon_gui.ui.palette import CHANNEL_TYPE_COLOURS, TEXT_ON_COLOUR, UNKNOWN_COLOUR

_GENERAL = ("name", "enabled")
_DELIVERY = ("min_severity", "send_resolved", "timeout_s")
_NOT_IN_FORM = ("id", "type")

_icon_cache: dict[tuple[str, str], QIcon] = {}


def type_icon(type_name: str, mark: str = "?") -> QIcon:
    """A small badge in the type's colour with its mark, readable on any palette."""
    icon = _icon_cache.get((type_name, mark))
    if icon is None:
        colour = CHANNEL_TYPE_COLOURS.get(type_name, UNKNOWN_COLOUR)
        pix = QPixmap(32, 32)
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(colour))
        painter.setPen(QColor(colour).darker(130))
        painter.drawRoundedRect(QRectF(1, 1, 30, 30), 7, 7)
        font = QFont(painter.font())
        font.setBold(True)
        font.setPixelSize(15 if len(mark) > 1 else 19)
        painter.setFont(font)
        painter.setPen(QColor(TEXT_ON_COLOUR))
        painter.drawText(QRectF(0, 0, 32, 32), Qt.AlignmentFlag.AlignCenter, mark)
        painter.end()
        icon = _icon_cache[(type_name, mark)] = QIcon(pix)
    return icon


class ChannelForm(QWidget):
    """The settings of one channel type: ``fields`` (settings) and ``secrets`` rows.

    Signals:
        changed(): the user edited a field (not emitted by ``set_config``).
    """

    changed = Signal()

    def __init__(self, kind: ChannelKind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.type_name = kind.name
        self.model: type[ChannelBase] = kind.settings
        self.fields: dict[str, FieldRow] = {}
        self.secrets: dict[str, FieldRow] = {}
        self._labels: list[QLabel] = []
        self._filling = False
        hidden = _NOT_IN_FORM + self.model.unused_settings
        names = [n for n in self.model.model_fields if n not in hidden]
        own = [n for n in names if n not in _GENERAL + _DELIVERY]
        rows: list[tuple[str, bool]] = [(n, False) for n in own]  # (name, is a secret)
        leading = 0
        for spec in kind.secret_fields:
            at = next((i + 1 for i, (n, _) in enumerate(rows) if n == spec.only_with), None)
            if at is None:
                rows.insert(leading, (spec.name, True))
                leading += 1
            else:
                rows.insert(at, (spec.name, True))

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._group("Channel", [(n, False) for n in _GENERAL if n in names]))
        lay.addWidget(self._group(f"{kind.title} settings", rows, note=kind.description))
        lay.addWidget(
            self._group("Which alerts, how", [(n, False) for n in _DELIVERY if n in names])
        )
        lay.addStretch(1)
        # One label column for all three groups, so the fields line up.
        width = max((label.sizeHint().width() for label in self._labels), default=0)
        for label in self._labels:
            label.setMinimumWidth(width)

    def _group(
        self, title: str, rows: Sequence[tuple[str, bool]], note: str | None = None
    ) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if note:
            label = QLabel(note)
            label.setWordWrap(True)
            label.setStyleSheet("color: palette(placeholder-text);")
            form.addRow(label)
        for name, secret in rows:
            if secret:
                row = FieldRow.for_secret(
                    self.model.secret_field(name), "channels.yaml", self._changed
                )
                self.secrets[name] = row
            else:
                row = FieldRow.for_field(self.model, name, self._changed)
                self.fields[name] = row
            label = QLabel("" if row.kind == "bool" else row.title)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if row.kind != "bool":
                label.setBuddy(row.editor)
                label.setToolTip(row.editor.toolTip())
            self._labels.append(label)
            form.addRow(label, row.widget)
        return box

    def _changed(self, *_: object) -> None:
        if not self._filling:
            self.changed.emit()

    # -- values ----------------------------------------------------------------------

    def set_config(self, config: ChannelBase | None) -> None:
        """Show ``config``'s values (None: the model's defaults); secrets stay blank."""
        self._filling = True
        try:
            for name, row in self.fields.items():
                if config is not None:
                    value = getattr(config, name)
                else:
                    info = self.model.model_fields[name]
                    value = (
                        None if info.is_required() else info.get_default(call_default_factory=True)
                    )
                row.set_value(value)
            for row in self.secrets.values():
                row.set_value("")
        finally:
            self._filling = False

    def values(self) -> dict[str, Any]:
        return {name: row.value() for name, row in self.fields.items()}

    def secret_values(self) -> dict[str, str]:
        """The secrets typed in (blank ones left out: they keep what is stored)."""
        out: dict[str, str] = {}
        for name, row in self.secrets.items():
            value = row.value()
            if value:
                out[name] = value
        return out

    def field(self, name: str) -> FieldRow:
        return self.fields.get(name) or self.secrets[name]

    def clear_errors(self) -> None:
        for row in (*self.fields.values(), *self.secrets.values()):
            row.set_error(None)
