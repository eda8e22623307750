"""What the dialogs driven by pydantic models and backed by a service thread share."""

from __future__ import annotations

import html
from collections.abc import Mapping

from pydantic import BaseModel
from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QDialog, QLabel, QWidget

from etcdmon_gui.model.secrets import BackendInfo
from etcdmon_gui.ui.palette import WARNING_COLOUR


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


class ServiceDialog(QDialog):
    """What the dialogs backed by a service thread (profiles, channels) share: they ask
    for the data each time they open, know which secrets are stored, and show errors,
    a status line, a test summary and the secret backend.

    Subclasses create the ``errors``, ``status``, ``test_summary`` and ``backend``
    labels. Signals: loadRequested().
    """

    loadRequested = Signal()
    errors: QLabel
    status: QLabel
    test_summary: QLabel
    backend: QLabel

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._present: dict[str, list[str]] = {}

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous():  # opened (again): read the file as it is now
            self.loadRequested.emit()

    def show_present(self, present: Mapping[str, list[str]]) -> None:
        """Which secrets are really stored, per owner id (emitted before loaded)."""
        self._present = {k: list(v) for k, v in present.items()}

    def _stored_for(self, owner: str | None, field: str) -> bool:
        return owner is not None and field in self._present.get(owner, [])

    def _show_errors(self, lines: list[str]) -> None:
        self.errors.setText("\n".join(lines))
        self.errors.setVisible(bool(lines))

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _summary(self, text: str, colour: str | None) -> None:
        self.test_summary.setText(text)
        self.test_summary.setStyleSheet(f"color: {colour};" if colour else "")
