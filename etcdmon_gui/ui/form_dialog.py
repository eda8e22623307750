"""What the dialogs driven by pydantic models and backed by a service thread share."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.secrets import BackendInfo
from etcdmon_gui.ui.palette import ERROR_COLOUR, WARNING_COLOUR


def field_text(model: type[BaseModel], name: str) -> tuple[str, str]:
    """A field's title and description (the description falls back to the title)."""
    info = model.model_fields[name]
    title = info.title or name.replace("_", " ").capitalize()
    return title, info.description or title


def split_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: how list fields are typed in one line."""
    return [part.strip() for part in text.split(",") if part.strip()]


def backend_text(info: BackendInfo) -> str:
    """Where secrets are kept, as rich text; a warning when they do not persist."""
    text = f"Secrets are kept in <b>{html.escape(info.name)}</b>."
    if not info.persistent:
        why = info.problem or "They are forgotten when etcdmon-gui exits."
        text += f' <span style="color: {WARNING_COLOUR};">{html.escape(why)}</span>'
    return text


def _label(name: str, text: str = "") -> QLabel:
    """A wrapping plain-text label with object name ``name``."""
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _button_row(row: QHBoxLayout, buttons: tuple[QPushButton, ...]) -> QHBoxLayout:
    for b in buttons:
        b.setAutoDefault(False)  # Enter in a field does not press them
        row.addWidget(b)
    return row


class ServiceDialog(QDialog):
    """What the dialogs backed by a service thread (profiles, channels) share: they ask
    for the data each time they open, know which secrets are stored, and show errors,
    a status line, a test summary and the secret backend.

    The layout: a list of what is saved on the left (``_list_column``), the form of the
    one selected on the right (``heading``, the form, ``errors``, the buttons after the
    ``status`` line, the test box), the secret ``backend`` and Close at the bottom
    (``_lay_out``). Subclasses create ``list`` and call ``_make_labels`` before the
    other helpers.

    What is saved (profiles, channels) has an ``id`` and a ``name``; the list finds it
    by its attribute ``_list_key``. The form shows ``_editing`` (None: something new),
    ``_dirty`` once edited; ``_testing`` says what the test in flight is about.
    Subclasses provide ``_rebuild_list``, ``_fill``, ``_show_first``, ``form_result``,
    ``_start_test``, ``_update_placeholders`` and ``_update_buttons``.

    Signals: loadRequested().
    """

    loadRequested = Signal()
    _list_key = "id"
    list: QAbstractItemView
    heading: QLabel
    errors: QLabel
    status: QLabel
    test_summary: QLabel
    backend: QLabel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._present: dict[str, list[str]] = {}
        self._backend: BackendInfo | None = None
        self._editing: Any = None  # the saved item in the form, if any
        self._dirty = False
        self._saving = False
        self._testing: Any = None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous():  # opened (again): read the file as it is now
            self.loadRequested.emit()

    def show_present(self, present: Mapping[str, Sequence[str]]) -> None:
        """Which secrets are really stored, per owner id (emitted before loaded)."""
        self._present = {k: list(v) for k, v in present.items()}

    def show_saved(self, item: Any) -> None:
        """Select what was saved (the service reloads the list just before)."""
        self._saving = False
        self._rebuild_list(getattr(item, self._list_key))
        self._fill(item)
        self._set_status(f"Saved “{item.name}”.")

    def show_failed(self, message: str) -> None:
        self._saving = False
        self._show_errors([message])
        self._set_status("")
        self._update_buttons()

    def test(self) -> None:
        """Test what the form describes, saved or not; one test at a time."""
        if self._testing is not None:
            return
        result = self.form_result()
        if result is not None:
            self._start_test(result)

    # -- building the layout -----------------------------------------------------------

    def _make_labels(self, heading_scale: float = 1.0) -> None:
        """The form's bold ``heading``, its ``errors`` (red, hidden while there are
        none) and its ``status`` line."""
        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        font = QFont(self.heading.font())
        font.setBold(True)
        if heading_scale != 1.0:
            font.setPointSizeF(font.pointSizeF() * heading_scale)
        self.heading.setFont(font)
        self.errors = _label("errors")
        self.errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.errors.hide()
        self.status = _label("status")

    def _list_column(self, title: str, *buttons: QPushButton, stretch: bool = False) -> QVBoxLayout:
        """``title`` in bold over ``list``, with ``buttons`` under it (left-aligned when
        ``stretch``, else sharing the width)."""
        row = _button_row(QHBoxLayout(), buttons)
        if stretch:
            row.addStretch(1)
        column = QVBoxLayout()
        column.addWidget(QLabel(f"<b>{title}</b>"))
        column.addWidget(self.list, 1)
        column.addLayout(row)
        return column

    def _form_buttons(self, *buttons: QPushButton) -> QHBoxLayout:
        """The status line, then ``buttons`` on the right."""
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        return _button_row(row, buttons)

    def _test_box(self, title: str, idle: str, *below: QWidget, min_lines: int = 0) -> QGroupBox:
        """A box titled ``title`` with ``test_summary`` (saying ``idle`` until a test,
        ``min_lines`` high at least) and the widgets ``below`` it."""
        self.test_summary = _label("testSummary", idle)
        self.test_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        if min_lines:
            # Room for a long failure: a wrapped label is not given its height by the layout.
            spacing = self.test_summary.fontMetrics().lineSpacing()
            self.test_summary.setMinimumHeight(spacing * min_lines)
            self.test_summary.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        box = QGroupBox(title)
        lay = QVBoxLayout(box)
        for widget in (self.test_summary, *below):
            lay.addWidget(widget)
        return box

    def _lay_out(
        self,
        left: QLayout,
        form: QWidget,
        buttons: QLayout,
        test_box: QWidget,
        *,
        left_stretch: int,
        test_grows: bool = False,
        above: QWidget | None = None,
    ) -> None:
        """``left`` and the form column side by side, the secret ``backend`` and Close
        under them, ``above`` (if any) over everything. The form or, with
        ``test_grows``, the test box takes the height to spare."""
        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(form, 0 if test_grows else 1)
        right.addWidget(self.errors)
        right.addLayout(buttons)
        right.addWidget(test_box, 1 if test_grows else 0)
        columns = QHBoxLayout()
        columns.addLayout(left, left_stretch)
        columns.addSpacing(8)
        columns.addLayout(right, 3)

        self.backend = QLabel("Secrets: …")
        self.backend.setObjectName("backend")
        self.backend.setWordWrap(True)
        self.backend.setTextFormat(Qt.TextFormat.RichText)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.backend, 1)
        bottom.addWidget(close)

        outer = QVBoxLayout(self)
        if above is not None:
            outer.addWidget(above)
        outer.addLayout(columns, 1)
        outer.addLayout(bottom)

    # -- the list and the form, kept in step ---------------------------------------------

    def _reselect(self, items: Sequence[Any]) -> None:
        """Show the list of ``items`` just read. The one in the form stays selected
        (found by id: it may have been renamed) and keeps the user's edits; when it is
        gone, or the form is untouched, the form shows the first item or none."""
        target = None
        if self._editing is not None:
            target = next((i for i in items if i.id == self._editing.id), None)
        self._rebuild_list(getattr(target, self._list_key) if target is not None else None)
        if target is not None:
            if self._dirty:
                self._editing = target  # keep the user's edits, track the new original
            else:
                self._fill(target)
        elif self._editing is not None or not self._dirty:
            self._show_first()

    def _rebuild_list(self, select: str | None) -> None:
        """One row per item; selects the one keyed ``select`` quietly."""
        raise NotImplementedError

    def _fill(self, item: Any) -> None:
        """Show ``item`` in the form."""
        raise NotImplementedError

    def _show_first(self) -> None:
        """Select the first item, or show an empty form when there is none."""
        raise NotImplementedError

    def form_result(self) -> Any:
        """What the form describes, or None with the problems shown."""
        raise NotImplementedError

    def _start_test(self, result: Any) -> None:
        """Ask for a test of ``result`` (from ``form_result``)."""
        raise NotImplementedError

    def _changed(self) -> None:
        """The user edited the form."""
        self._dirty = True
        self._update_placeholders()
        self._update_buttons()

    def _update_placeholders(self) -> None:
        raise NotImplementedError

    def _update_buttons(self) -> None:
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------

    def _stored_for(self, owner: str | None, field: str) -> bool:
        return owner is not None and field in self._present.get(owner, [])

    def _secrets_place(self) -> str:
        """Where secrets are kept, for placeholders and messages."""
        return self._backend.name if self._backend else "the keyring"

    def _show_backend(self, info: BackendInfo) -> None:
        self._backend = info
        self.backend.setText(backend_text(info))

    def _deselect(self) -> None:
        """No row of ``list`` current or selected, quietly."""
        self.list.blockSignals(True)
        self.list.setCurrentIndex(QModelIndex())
        self.list.clearSelection()
        self.list.blockSignals(False)

    def _confirm_delete(self, title: str, question: str, name: str) -> bool:
        """Ask ``question``; on Yes, say in the status line that ``name`` is deleted."""
        answer = QMessageBox.question(
            self,
            title,
            question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self._set_status(f"Deleting “{name}”…")
        return True

    def _show_errors(self, lines: Sequence[str]) -> None:
        self.errors.setText("\n".join(lines))
        self.errors.setVisible(bool(lines))

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _summary(self, text: str, colour: str | None) -> None:
        self.test_summary.setText(text)
        self.test_summary.setStyleSheet(f"color: {colour};" if colour else "")
