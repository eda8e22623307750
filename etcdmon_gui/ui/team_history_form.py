"""The settings dialog's "Team history (PostgreSQL)" box: whether the history views read a
team's database, where it is (host, port, database, user, TLS), and its password.

The rows come from ``model.postgres.PgSettings``' titled fields (``FieldRow``); the TLS
mode is a choice with its meaning spelt out. The password row never shows what is
stored: a blank one keeps it, and its placeholder says whether one is stored (the
owner asks the secret store off the GUI thread and tells ``show_password_state``).
No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QVBoxLayout, QWidget

from etcdmon_gui.model.app_settings import AppSettings
from etcdmon_gui.model.postgres import PgSettings, SslMode
from etcdmon_gui.notify.base import SecretField
from etcdmon_gui.ui.field_row_widget import FieldRow
from etcdmon_gui.ui.form_dialog import field_text

#: PgSettings' fields, in the order shown.
FIELDS = ("host", "port", "dbname", "user", "sslmode", "sslrootcert")

SSL_LABELS = {
    SslMode.DISABLE: "disable: no TLS",
    SslMode.PREFER: "prefer: TLS when the server offers it",
    SslMode.REQUIRE: "require: always TLS, the server not checked",
    SslMode.VERIFY_FULL: "verify-full: TLS, the server's certificate and name checked",
}

PASSWORD = SecretField(
    "password",
    "Password",
    "The PostgreSQL user's password; optional when ~/.pgpass or the server provides another way",
    kind="password",
)
PLACEHOLDER_STORED = "stored: leave blank to keep it"
PLACEHOLDER_NONE = "none stored (optional)"


class TeamHistoryForm(QGroupBox):
    """The team history's settings as a form; ``changed()`` is called on every edit.

    ``value()`` is what the settings hold (None: off; otherwise the fields as typed, for
    ``AppSettings`` to check), ``password()`` a new password (None: keep the stored
    one). Refusals are shown beside their field with ``set_errors``.
    """

    def __init__(self, changed: Callable[..., None], parent: QWidget | None = None) -> None:
        title, description = field_text(AppSettings, "team_history")
        super().__init__(title, parent)
        self.setObjectName("teamHistory")
        self.setToolTip(description)
        self._changed = changed
        self.enabled = QCheckBox("Read the history views from a team database (read-only)")
        self.enabled.setObjectName("field_team_history")
        self.enabled.toggled.connect(self._toggled)
        self.rows: dict[str, FieldRow] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in FIELDS:
            row = self._row(name)
            self.rows[name] = row
            form.addRow(row.title + ":", row.widget)
        self.password_row = FieldRow.for_secret(PASSWORD, "settings.yaml", changed)
        self.password_row.editor.setObjectName("field_team_history_password")
        form.addRow(PASSWORD.title + ":", self.password_row.widget)
        form.setContentsMargins(0, 0, 0, 0)
        self._form = QWidget()
        self._form.setLayout(form)
        lay = QVBoxLayout(self)
        lay.addWidget(self.enabled)
        lay.addWidget(self._form)
        self.show_password_state(None)
        self.set_value(None)

    def _row(self, name: str) -> FieldRow:
        if name == "sslmode":
            title, description = field_text(PgSettings, name)
            combo = QComboBox()
            for mode in SslMode:
                combo.addItem(SSL_LABELS[mode], mode.value)
            combo.currentIndexChanged.connect(self._changed)
            return FieldRow(name, title, description, "choice", combo)
        row = FieldRow.for_field(PgSettings, name, self._changed)
        if name == "host":
            row.editor.setProperty("placeholderText", "db.example.org")
        if name == "sslrootcert":
            row.editor.setProperty("placeholderText", "the system's CAs")
        return row

    # -- what the dialog asks -----------------------------------------------------------

    def value(self) -> dict[str, Any] | None:
        """None when off; else the fields as typed (``AppSettings`` checks them)."""
        if not self.enabled.isChecked():
            return None
        return {name: row.value() for name, row in self.rows.items()}

    def password(self) -> str | None:
        """The password typed (None: none typed, the stored one stays); only while on."""
        if not self.enabled.isChecked():
            return None
        text = str(self.password_row.value())
        return text or None

    # -- what the dialog tells it -------------------------------------------------------

    def set_value(self, settings: PgSettings | None) -> None:
        """Show ``settings`` (None: off, the fields at their defaults); the password
        line is emptied."""
        shown = settings or PgSettings.model_construct(
            **{name: PgSettings.model_fields[name].default for name in FIELDS if name != "host"},
            host="",
        )
        for name, row in self.rows.items():
            value = getattr(shown, name)
            row.set_value(value.value if isinstance(value, SslMode) else value)
        self.password_row.set_value("")
        self.enabled.setChecked(settings is not None)
        self._form.setEnabled(settings is not None)

    def show_password_state(self, stored: bool | None, problem: str = "") -> None:
        """Whether a password is stored (None: not known yet), or why that is unknown."""
        editor = self.password_row.editor
        if problem:
            text = f"cannot tell whether one is stored: {problem}"
        elif stored is None:
            text = ""
        else:
            text = PLACEHOLDER_STORED if stored else PLACEHOLDER_NONE
        editor.setProperty("placeholderText", text)

    def set_errors(self, errors: Mapping[str, str]) -> None:
        """``team_history.<field>`` -> why it was refused; every other row cleared."""
        for name, row in self.rows.items():
            row.set_error(errors.get(f"team_history.{name}"))

    def _toggled(self, on: bool) -> None:
        self._form.setEnabled(on)
        if on:
            self.rows["host"].editor.setFocus(Qt.FocusReason.OtherFocusReason)
        self._changed()
