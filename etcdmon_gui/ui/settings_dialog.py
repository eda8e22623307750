"""The application settings dialog: General, Tray and notifications, History, Secrets.

Its rows come from ``AppSettings``' titled fields (``FieldRow``), the chart window from
the charts' toolbar presets. The dialog does no I/O: OK and Apply emit
``saveRequested`` with the settings the form describes, and it renders what it is told
(``show_saved``, ``show_failed``). A value ``AppSettings`` refuses is shown beside its
field (its tab comes to the front) and nothing is emitted. Cancel discards the edits.

The History tab also holds the team history (``team_history_form.TeamHistoryForm``): a
team's PostgreSQL database the history views read instead of this computer's file. Its
password travels with ``saveRequested`` to be kept with the secrets, never in the file;
blank keeps the stored one.

The Secrets tab shows where secrets are kept and offers "Move secrets…" (the same flow
as the profile and channel dialogs: ``form_dialog.SecretMoves``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.app_settings import (
    INTERNAL_FIELDS,
    AppSettings,
    InvalidSettings,
    SettingsProblem,
    build_settings,
)
from etcdmon_gui.model.secrets import BackendInfo
from etcdmon_gui.ui.chart_toolbar import TIME_WINDOWS
from etcdmon_gui.ui.field_row_widget import FieldRow
from etcdmon_gui.ui.form_dialog import SecretMoves, field_text
from etcdmon_gui.ui.palette import ERROR_COLOUR
from etcdmon_gui.ui.team_history_form import TeamHistoryForm

#: The tabs and the fields on each, in order.
TABS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("General", ("interval_s", "chart_window_s", "theme", "reopen_last_session", "log_level")),
    (
        "Tray and notifications",
        ("close_to_tray", "popup_burst_limit", "popup_burst_window_s", "mute_minutes"),
    ),
    (
        "History",
        ("history_raw_hours", "history_minute_days", "history_hour_days", "history_size_mib"),
    ),
)

NOTES = {
    "General": "The theme and the log level change at once; the interval and the chart "
    "window apply to clusters opened from now on.",
    "Tray and notifications": "Without a system tray, closing the window quits and "
    "alerts show in the window instead of popups.",
    "History": "Raw samples are rolled up into one point a minute and one an hour, kept "
    "as long as set here; when the file reaches its size limit the oldest data goes "
    "first. With a team history, the charts' ranges, the alert history, exports, "
    "benchmark runs and the maintenance log read the team's database (never written to); "
    "this computer goes on keeping its own file. Changes take effect at the next start. "
    "The command-line options --keep-raw and --history-size override the limits for one "
    "run.",
    "Secrets": "Passwords, keys and webhook URLs of the profiles and notification "
    "channels are kept here, never in a settings file.",
}

THEME_LABELS = {"system": "System (follow the desktop)", "light": "Light", "dark": "Dark"}


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class SettingsDialog(SecretMoves, QDialog):
    """The application settings, edited; saved by whoever listens.

    ``settings`` is what is saved now (the form starts from it); ``backend`` where the
    secrets are (None until known: ``show_backend``). The fields the program keeps for
    itself (``INTERNAL_FIELDS``) are not shown and keep the values of the saved settings.

    Signals:
        saveRequested(AppSettings, str | None): OK or Apply with valid, changed
            settings, and the team history's new password (None: keep the stored one);
            answer with ``show_saved`` or ``show_failed``.
        moveRequested(MoveTarget): "Move secrets…" was confirmed; answer with
            ``show_moved`` or ``show_move_failed``.
    """

    saveRequested = Signal(object, object)
    moveRequested = Signal(object)

    def __init__(
        self,
        settings: AppSettings,
        backend: BackendInfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self._init_secret_moves()
        self._settings = settings
        self._saving = False
        self._close_when_saved = False
        self._filling = True  # until the first _fill: edits made while building are none
        self.rows: dict[str, FieldRow] = {}
        self._tab_of: dict[str, int] = {}
        self.team = TeamHistoryForm(self._changed)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        for title, names in TABS:
            self.tabs.addTab(self._form_tab(title, names), title)
        self.tabs.addTab(self._secrets_tab(), "Secrets")

        self.errors = QLabel()
        self.errors.setObjectName("errors")
        self.errors.setWordWrap(True)
        self.errors.setTextFormat(Qt.TextFormat.PlainText)
        self.errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.errors.hide()
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)

        B = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(B.RestoreDefaults | B.Ok | B.Apply | B.Cancel)
        self.buttons.clicked.connect(self._clicked)
        for which in (B.RestoreDefaults, B.Apply, B.Cancel):
            self.buttons.button(which).setAutoDefault(False)
        self.buttons.button(B.RestoreDefaults).setToolTip(
            "Put every setting back to its default (saved with OK or Apply)"
        )

        outer = QVBoxLayout(self)
        outer.addWidget(self.tabs, 1)
        outer.addWidget(self.errors)
        outer.addWidget(self.status)
        outer.addWidget(self.buttons)

        self._fill(settings)
        if backend is not None:
            self._show_backend(backend)
        self.resize(620, self.sizeHint().height())

    # -- what the owner tells it ------------------------------------------------------

    def settings(self) -> AppSettings:
        """The settings saved now (not the form's edits)."""
        return self._settings

    def show_saved(self, settings: AppSettings, note: str = "") -> None:
        """``settings`` were written (this dialog's save, or one of the program's). The
        form shows them unless the user is editing; after OK the dialog closes."""
        was_saving = self._saving
        untouched = not self._dirty()
        self._settings = settings
        self._saving = False
        if untouched or was_saving:
            self._fill(settings)
        self._update_buttons()
        if not was_saving:
            return
        self._set_main_status(" ".join(x for x in ("Saved.", note) if x))
        if self._close_when_saved:
            self._close_when_saved = False
            QDialog.accept(self)

    def show_failed(self, message: str) -> None:
        """The save failed: say why, keep the edits, stay open."""
        self._saving = False
        self._close_when_saved = False
        self._show_errors([message])
        self._set_main_status("")
        self._update_buttons()

    def show_backend(self, info: BackendInfo) -> None:
        """Where the secrets are kept now."""
        self._show_backend(info)

    def show_moved(self, info: BackendInfo, summary: str) -> None:
        """Every secret now lives in ``info``."""
        self._move_finished(info)
        self._set_status(summary)

    def show_team_password(self, stored: bool, problem: str = "") -> None:
        """Whether the team history's password is stored (``problem``: why that cannot
        be told)."""
        self.team.show_password_state(stored, problem)

    def show_move_failed(self, message: str) -> None:
        """The move failed; every secret stayed where it was. (The service's other
        failures, with no move in flight, are not this dialog's.)"""
        if not self._moving:
            return
        self._move_finished(None)
        self._set_status(message)
        self.secrets_status.setStyleSheet(f"color: {ERROR_COLOUR};")

    # -- what the user does -----------------------------------------------------------

    def form_result(self) -> AppSettings | None:
        """The settings the form describes, or None with each refusal shown beside its
        field (and the first one's tab brought to the front)."""
        values = self._settings.model_dump()
        values.update(self._form_values())
        values["team_history"] = self.team.value()
        try:
            result = build_settings(values)
        except InvalidSettings as exc:
            self._show_problems(exc.problems)
            return None
        self._show_problems([])
        return result

    def apply(self) -> bool:
        """Save what the form describes (Apply); False when it was refused."""
        result = self.form_result()
        if result is None:
            return False
        password = self.team.password()
        if result == self._settings and password is None:
            self._set_main_status("Nothing changed.")
            return True
        self._saving = True
        self._set_main_status("Saving…")
        self._update_buttons()
        self.saveRequested.emit(result, password)
        return True

    def restore_defaults(self) -> None:
        """Show the defaults in the form (the internal fields keep their values); OK or
        Apply saves them."""
        keep = {name: getattr(self._settings, name) for name in INTERNAL_FIELDS}
        self._fill(AppSettings.model_validate(keep))
        self._show_problems([])
        self._set_main_status("Defaults shown: OK or Apply saves them.")
        self._update_buttons()

    def accept(self) -> None:
        """OK: save first (the dialog closes when ``show_saved`` arrives), or close when
        nothing changed."""
        if self._saving:  # closes when the save in flight is answered
            self._close_when_saved = True
            return
        result = self.form_result()
        if result is None:
            return
        if result == self._settings and self.team.password() is None:
            super().accept()
            return
        self._close_when_saved = True
        self.apply()

    def reject(self) -> None:
        """Cancel: the edits are dropped; the next opening shows the saved settings."""
        self._close_when_saved = False
        self._fill(self._settings)
        self._show_problems([])
        self._set_main_status("")
        super().reject()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous() and not self._saving:
            self._fill(self._settings)  # opened again: what is saved now
            self._show_problems([])

    # -- building ---------------------------------------------------------------------

    def _form_tab(self, title: str, names: tuple[str, ...]) -> QWidget:
        page = QWidget()
        page.setObjectName(f"tab{title.split()[0]}")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in names:
            row = self._row(name)
            self.rows[name] = row
            self._tab_of[name] = self.tabs.count()
            form.addRow("" if row.kind == "bool" else row.title + ":", row.widget)
        lay = QVBoxLayout(page)
        lay.addLayout(form)
        if title == "History":
            self._tab_of["team_history"] = self.tabs.count()
            lay.addWidget(self.team)
        lay.addStretch(1)
        lay.addWidget(_note(NOTES[title]))
        return page

    def _row(self, name: str) -> FieldRow:
        if name == "chart_window_s":
            title, description = field_text(AppSettings, name)
            combo = QComboBox()
            for text, seconds in TIME_WINDOWS:
                combo.addItem(f"Last {text}", seconds)
            combo.currentIndexChanged.connect(self._changed)
            return FieldRow(name, title, description, "choice", combo)
        row = FieldRow.for_field(AppSettings, name, self._changed)
        if name == "theme" and isinstance(row.editor, QComboBox):
            for i in range(row.editor.count()):
                row.editor.setItemText(i, THEME_LABELS[row.editor.itemData(i)])
        return row

    def _secrets_tab(self) -> QWidget:
        page = QWidget()
        page.setObjectName("tabSecrets")
        self._make_backend_widgets()
        self.secrets_status = QLabel()
        self.secrets_status.setObjectName("secretsStatus")
        self.secrets_status.setWordWrap(True)
        self.secrets_status.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.move_button)
        lay = QVBoxLayout(page)
        lay.addWidget(self.backend)
        lay.addLayout(row)
        lay.addWidget(self.secrets_status)
        lay.addStretch(1)
        lay.addWidget(_note(NOTES["Secrets"]))
        return page

    # -- helpers ----------------------------------------------------------------------

    def _clicked(self, button: QAbstractButton) -> None:
        B = QDialogButtonBox.StandardButton
        which = self.buttons.standardButton(button)
        if which == B.Ok:
            self.accept()
        elif which == B.Apply:
            self.apply()
        elif which == B.Cancel:
            self.reject()
        elif which == B.RestoreDefaults:
            self.restore_defaults()

    def _form_values(self) -> dict[str, Any]:
        return {name: row.value() for name, row in self.rows.items()}

    def _fill(self, settings: AppSettings) -> None:
        """Show ``settings`` in the form (edits are compared with the saved ones)."""
        self._filling = True
        try:
            for name, row in self.rows.items():
                row.set_value(getattr(settings, name))
            self.team.set_value(settings.team_history)
        finally:
            self._filling = False
        self._update_buttons()

    def _dirty(self) -> bool:
        saved = self._settings.model_dump()
        if saved["team_history"] != self.team.value() or self.team.password() is not None:
            return True
        return any(saved[name] != value for name, value in self._form_values().items())

    def _changed(self, *_args: object) -> None:
        if self._filling:
            return
        self._update_buttons()

    def _update_buttons(self) -> None:
        B = QDialogButtonBox.StandardButton
        self.buttons.button(B.Apply).setEnabled(self._dirty() and not self._saving)
        self.buttons.button(B.Ok).setEnabled(not self._saving)
        self.buttons.button(B.RestoreDefaults).setEnabled(not self._saving)

    def _show_problems(self, problems: list[SettingsProblem]) -> None:
        by_field: Mapping[str, str] = {
            p.field: p.message
            for p in problems
            if p.field is not None and (p.field in self.rows or p.field == "team_history")
        }
        for name, row in self.rows.items():
            row.set_error(by_field.get(name))
        # The team history's refusals name the part at fault (team_history.host).
        self.team.set_errors(
            {r: p.message for p in problems if p.field == "team_history" for r in p.related}
        )
        if not problems:
            self._show_errors([])
            return
        first = next((p.field for p in problems if p.field in by_field), None)
        if first is not None:
            self.tabs.setCurrentIndex(self._tab_of[first])
        # The first reason here too (its field may be on another tab), then the
        # reasons that belong to no field.
        head = problems[0].message
        rest = [p.message for p in problems if p.field not in by_field and p.message != head]
        self._show_errors([f"Not saved: {head}", *rest])
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow (never shrink) to show the reasons just added in full."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
        height = max(self.height(), self.sizeHint().height())
        if height > self.height():
            self.resize(self.width(), height)

    def _show_errors(self, lines: list[str]) -> None:
        self.errors.setText("\n".join(lines))
        self.errors.setVisible(bool(lines))

    def _set_main_status(self, text: str) -> None:
        self.status.setText(text)

    def _set_status(self, text: str) -> None:
        """The Secrets tab's line (what ``SecretMoves`` says about a move)."""
        self.secrets_status.setStyleSheet("")
        self.secrets_status.setText(text)
