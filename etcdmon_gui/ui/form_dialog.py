"""What the dialogs driven by pydantic models and backed by a service thread share,
including where secrets are kept: the backend line, "Move secrets…", the question
before a secret is saved for this session only, and the flags of items whose secrets
are missing."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel
from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QIcon, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMessageBox,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.secrets import BackendInfo, MoveTarget
from etcdmon_gui.ui.palette import ERROR_COLOUR, WARNING_COLOUR
from etcdmon_gui.ui.secret_backend_dialog import SecretBackendDialog

MOVE_TEXT = "Move secrets…"


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
        why = why[:1].upper() + why[1:]
        keep = f"To keep them, choose {MOVE_TEXT}"
        text += f' <span style="color: {WARNING_COLOUR};">{html.escape(why)} {keep}</span>'
    return text


def move_choices(info: BackendInfo) -> tuple[str | None, bool]:
    """Where "Move secrets…" may take the secrets from ``info``: the OS keyring's name
    (None: not offered) and whether the encrypted file is offered."""
    keyring = info.os_keyring if info.kind != "keyring" else None
    return keyring, info.kind != "encrypted-file"


def warning_icon(widget: QWidget) -> QIcon:
    """The style's warning sign: what flags an item whose secrets are missing."""
    return widget.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)


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


class SecretMoves:
    """Where secrets are kept and "Move secrets…", for any dialog that shows them (the
    profile and channel dialogs, the settings dialog).

    The host is a ``QWidget`` with a ``moveRequested(MoveTarget)`` signal and a
    ``_set_status(text)`` method. It calls ``_init_secret_moves()`` in its constructor,
    ``_make_backend_widgets()`` to create ``backend`` (the rich-text line) and
    ``move_button`` (which it lays out), ``_show_backend(info)`` when told where the
    secrets are, and ``_move_finished(info)`` when a move ended (``info``: where they
    are now, None when the move failed). ``move_button`` opens a ``SecretBackendDialog``
    (``move_dialog`` while it is open) and emits ``moveRequested`` with the choice.
    """

    moveRequested: Any
    backend: QLabel
    move_button: QPushButton
    _backend: BackendInfo | None
    _moving: bool
    move_dialog: SecretBackendDialog | None

    def _set_status(self, text: str) -> None:
        raise NotImplementedError

    def _init_secret_moves(self) -> None:
        self._backend = None
        self._moving = False
        self.move_dialog = None

    def _make_backend_widgets(self) -> None:
        self.backend = QLabel("Secrets: …")
        self.backend.setObjectName("backend")
        self.backend.setWordWrap(True)
        self.backend.setTextFormat(Qt.TextFormat.RichText)
        self.move_button = QPushButton(MOVE_TEXT)
        self.move_button.setObjectName("moveSecrets")
        self.move_button.setAutoDefault(False)
        self.move_button.clicked.connect(self.move_secrets)
        self._update_move_button()

    def _move_finished(self, info: BackendInfo | None) -> None:
        """A move ended: the secrets are in ``info`` now, or (None) stayed put."""
        self._moving = False
        if info is not None:
            self._show_backend(info)
        else:
            self._update_move_button()

    def move_secrets(self) -> None:
        """Ask where every secret should go (a window-modal ``SecretBackendDialog``,
        ``move_dialog``), then ask the service to move them there."""
        info = self._backend
        if info is None or self._moving:
            return
        keyring, file_ok = move_choices(info)
        if keyring is None and not file_ok:
            return
        intro = (
            f"Every password, key and URL of every profile and notification channel is "
            f"kept in {info.name} now. Move them all to:"
        )
        note = (
            "They are copied and read back first; etcdmon-gui then uses the new place and "
            f"removes them from {info.name}. If anything fails, they all stay where they are."
        )
        if file_ok:
            note += (
                " Without an OS keyring, etcdmon-gui asks for the file's master password "
                "at the next start."
            )
        dialog = SecretBackendDialog(
            intro,
            file_only=True,
            keyring=keyring,
            confirm=True,
            allow_file=file_ok,
            cancellable=True,
            title="Move secrets",
            note=note,
            parent=cast(QWidget, self),
        )
        dialog.setObjectName("moveDialog")
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Move")
        dialog.accepted.connect(lambda: self._move_chosen(dialog))
        dialog.finished.connect(lambda _code: self._move_dialog_closed(dialog))
        self.move_dialog = dialog
        dialog.open()

    def _move_chosen(self, dialog: SecretBackendDialog) -> None:
        choice = dialog.choice()
        if choice == "memory":
            return
        target = MoveTarget(choice, dialog.master_password() if choice != "keyring" else "")
        dialog.password.clear()
        dialog.repeat.clear()
        self._moving = True
        self._update_move_button()
        where = "the OS keyring" if choice == "keyring" else "the encrypted file"
        self._set_status(f"Moving the secrets to {where}…")
        self.moveRequested.emit(target)

    def _move_dialog_closed(self, dialog: SecretBackendDialog) -> None:
        if self.move_dialog is dialog:
            self.move_dialog = None
        dialog.deleteLater()

    def _secrets_place(self) -> str:
        """Where secrets are kept, for placeholders and messages."""
        return self._backend.name if self._backend else "the keyring"

    def _show_backend(self, info: BackendInfo) -> None:
        self._backend = info
        self.backend.setText(backend_text(info))
        self._update_move_button()

    def _update_move_button(self) -> None:
        info = self._backend
        keyring, file_ok = move_choices(info) if info is not None else (None, False)
        places = ([f"the OS keyring ({keyring})"] if keyring else []) + (
            ["an encrypted file protected by a master password"] if file_ok else []
        )
        self.move_button.setEnabled(bool(places) and not self._moving)
        if self._moving:
            tip = "Moving the secrets…"
        elif places:
            tip = "Move every secret of every profile and channel to " + " or ".join(places)
        elif info is not None:
            tip = f"Secrets are in {info.name}; no OS keyring works to move them to"
        else:
            tip = ""
        self.move_button.setToolTip(tip)


class ServiceDialog(SecretMoves, QDialog):
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

    Secrets: the service says which are stored (``show_present``) and which an item
    needs but lacks (``show_missing``); a save that would put a secret into session-only
    memory asks first (``_save_after_asking``; the box is ``session_only_box`` while it
    is open); ``move_button`` opens a ``SecretBackendDialog`` (``move_dialog``) and asks
    the service to move every secret where the user chose.

    Signals: loadRequested(), moveRequested(MoveTarget).
    """

    loadRequested = Signal()
    moveRequested = Signal(object)
    _list_key = "id"
    list: QAbstractItemView
    heading: QLabel
    errors: QLabel
    status: QLabel
    test_summary: QLabel
    backend: QLabel
    move_button: QPushButton

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._present: dict[str, list[str]] = {}
        self._missing: dict[str, list[str]] = {}
        self._init_secret_moves()
        self._session_only_ok = False  # "don't ask again" was ticked
        self._missing_notice = ""  # the status line's note of missing secrets, if shown
        self.session_only_box: QMessageBox | None = None
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

    def show_missing(self, missing: Mapping[str, Sequence[str]]) -> None:
        """The secrets each item's settings need but the store lacks, per owner id
        (emitted before loaded, which flags them in the list)."""
        self._missing = {k: list(v) for k, v in missing.items() if v}

    def show_moved(self, info: BackendInfo, summary: str) -> None:
        """Every secret now lives in ``info`` (the service reloads the list next)."""
        self._move_finished(info)
        self._set_status(summary)
        self._show_errors([])

    def show_saved(self, item: Any) -> None:
        """Select what was saved (the service reloads the list just before)."""
        self._saving = False
        self._rebuild_list(getattr(item, self._list_key))
        self._fill(item)
        self._set_status(f"Saved “{item.name}”.")

    def show_failed(self, message: str) -> None:
        self._saving = False
        if self._moving:
            self._move_finished(None)
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

        self._make_backend_widgets()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.backend, 1)
        bottom.addWidget(self.move_button)
        bottom.addSpacing(12)
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

    def _notice_missing(self, lines: Sequence[str]) -> None:
        """Say in the status line what the item in the form lacks (``lines``); clear
        that notice (and only it) when there is nothing to say."""
        text = f"⚠ {'; '.join(lines)}." if lines else ""
        if text:
            self._set_status(text)
        elif self._missing_notice and self.status.text() == self._missing_notice:
            self._set_status("")
        self._missing_notice = text

    def _missing_for(self, owner: str | None) -> Sequence[str]:
        """The secret fields ``owner`` needs but the store lacks (the service says)."""
        return self._missing.get(owner, []) if owner is not None else []

    def _save_after_asking(
        self, name: str, secrets: Sequence[str], send: Callable[[], None]
    ) -> None:
        """``send()`` the save of ``name`` now, or, when it brings secrets (``secrets``
        names them) and they would be kept in session memory only, after the user
        agrees in ``session_only_box`` (window-modal, not blocking)."""
        info = self._backend
        if not secrets or info is None or info.persistent or self._session_only_ok:
            send()
            return
        what = " and ".join(secrets)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Secrets for this session only",
            f"The {what} of “{name}” will be kept in {info.name}: it is lost when "
            "etcdmon-gui exits, and has to be entered again after a restart.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("sessionOnlyBox")
        box.setInformativeText(
            f"To keep secrets, choose {MOVE_TEXT} (bottom of this window): the OS keyring "
            "when one works, or an encrypted file protected by a master password."
        )
        keep = box.addButton("Save for this session only", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        # Parented (and referenced here): PySide would delete an unowned temporary.
        again = QCheckBox("Don't ask again until etcdmon-gui exits", box)
        box.setCheckBox(again)

        def answered() -> None:
            if self.session_only_box is box:
                self.session_only_box = None
            box.deleteLater()
            if box.clickedButton() is keep:
                self._session_only_ok = again.isChecked()
                send()
            else:
                self._set_status(f"“{name}” was not saved.")

        box.finished.connect(answered)
        self.session_only_box = box
        box.open()

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
