"""The form of one connection profile: name, endpoints, TLS files, user and password,
poll interval and tags.

Labels and tooltips come from the pydantic models' field titles and descriptions; the
form reads and shows values, marks fields in red, and knows nothing of the service. The
password sits only in its password field (echo mode Password).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from etcdmon_gui.model.profile import Profile, TLSSettings
from etcdmon_gui.ui.form_dialog import field_text, split_list
from etcdmon_gui.ui.palette import PRODUCTION_COLOUR

_TLS = (("ca", "CA certificate"), ("cert", "client certificate"), ("key", "client key"))

#: How a sentence names each secret a profile may own, and what brings it back.
SECRET_NAMES = {
    "password": ("password", "re-enter it"),
    **{f"tls_{what}": (title, "import its file again") for what, title in _TLS},
}


def missing_lines(fields: Sequence[str]) -> list[str]:
    """``["password"]`` -> ``["password missing: re-enter it"]``."""
    out = []
    for field in fields:
        phrase, fix = SECRET_NAMES.get(field, (field, "enter it again"))
        out.append(f"{phrase} missing: {fix}")
    return out


def validation_messages(exc: ValidationError) -> list[tuple[tuple[str, ...], str]]:
    """(location, readable message) for each error pydantic reports on a Profile."""
    out = []
    for err in exc.errors():
        loc = tuple(str(x) for x in err["loc"])
        if err["type"] == "too_short":
            msg = "enter at least one" if loc[:1] == ("endpoints",) else "required"
        elif err["type"] == "string_too_short":
            msg = "required"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        out.append((loc, msg))
    return out


def location_title(loc: tuple[str, ...]) -> str:
    if not loc:
        return "Profile"
    if loc[0] == "tls" and len(loc) > 1 and loc[1] in TLSSettings.model_fields:
        return field_text(TLSSettings, loc[1])[0]
    if loc[0] in Profile.model_fields:
        return field_text(Profile, loc[0])[0]
    return ".".join(loc)


class _TLSRow:
    """A TLS file: its path, Browse…, and whether to import it into the keyring."""

    def __init__(self, what: str, form: ProfileForm) -> None:
        self.what = what
        self.path = QLineEdit()
        self.path.setObjectName(f"{what}Path")
        self.browse = QPushButton("Browse…")
        self.browse.setAutoDefault(False)
        self.import_box = QCheckBox("Import into the keyring")
        self.widget = QWidget()
        lay = QHBoxLayout(self.widget)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.path, 1)
        lay.addWidget(self.browse)
        lay.addWidget(self.import_box)
        self.browse.clicked.connect(lambda: form._browse(self.path))

    @property
    def field(self) -> str:
        return f"tls_{self.what}"


class ProfileForm(QWidget):
    """The fields of one profile; ``tls_rows`` by ``"ca"``, ``"cert"``, ``"key"``.

    Signals:
        changed(): the user edited a field (not emitted by ``set_profile``).
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filling = False
        self.name = QLineEdit()
        self.endpoints = QLineEdit()
        self.endpoints.setPlaceholderText("10.0.0.1:2379, https://etcd-2.example:2379")
        self.tls_rows = {what: _TLSRow(what, self) for what, _ in _TLS}
        self.server_name = QLineEdit()
        self.insecure = QCheckBox(field_text(TLSSettings, "insecure_skip_verify")[0])
        self.insecure.setToolTip(field_text(TLSSettings, "insecure_skip_verify")[1])
        self.insecure.toggled.connect(self._style_insecure)
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.poll = QSpinBox()
        self.poll.setRange(1, 60)
        self.poll.setSuffix(" s")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("production, staging")
        self._form = QFormLayout(self)
        self._form.setContentsMargins(0, 0, 0, 0)
        self._form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._row(Profile, "name", self.name)
        self._row(Profile, "endpoints", self.endpoints, " (comma-separated)")
        for what, _ in _TLS:
            row = self.tls_rows[what]
            self._row(TLSSettings, f"{what}_file", row.widget, buddy=row.path)
            in_title = field_text(TLSSettings, f"{what}_in_keyring")[0]
            row.import_box.setToolTip(
                f"{in_title}: the file is read once and its content kept with the other "
                "secrets; the file is no longer needed"
            )
        self._row(TLSSettings, "server_name", self.server_name)
        self._form.addRow("", self.insecure)
        self._row(Profile, "username", self.username)
        password_label = QLabel("Password")
        password_label.setBuddy(self.password)
        password_label.setToolTip(
            "Kept with the secrets, never in the profiles file; leave blank to keep the stored one"
        )
        self.password.setToolTip(password_label.toolTip())
        self._form.addRow(password_label, self.password)
        self._row(Profile, "poll_interval_s", self.poll)
        self._row(Profile, "tags", self.tags, " (comma-separated)")
        for edit in (
            self.name,
            self.endpoints,
            self.server_name,
            self.username,
            self.password,
            self.tags,
            *(r.path for r in self.tls_rows.values()),
        ):
            edit.textEdited.connect(self._edited)
        for box in (*(r.import_box for r in self.tls_rows.values()), self.insecure):
            box.toggled.connect(self._edited)
        self.poll.valueChanged.connect(self._edited)

    def _row(
        self,
        model: type[BaseModel],
        name: str,
        widget: QWidget,
        hint: str = "",
        buddy: QWidget | None = None,
    ) -> None:
        title, description = field_text(model, name)
        label = QLabel(title)
        label.setBuddy(buddy or widget)
        label.setToolTip(description + hint)
        (buddy or widget).setToolTip(description + hint)
        self._form.addRow(label, widget)

    # -- values in and out ---------------------------------------------------------------

    def set_profile(self, profile: Profile | None) -> None:
        """Show ``profile``'s settings (None: an empty form); the password is blank."""
        self._filling = True
        try:
            self.name.setText(profile.name if profile else "")
            self.endpoints.setText(", ".join(profile.endpoints) if profile else "")
            tls = profile.tls if profile else None
            for what, row in self.tls_rows.items():
                row.path.setText((getattr(tls, f"{what}_file") or "") if tls else "")
                row.import_box.setChecked(bool(tls and getattr(tls, f"{what}_in_keyring")))
            self.server_name.setText((tls.server_name or "") if tls else "")
            self.insecure.setChecked(bool(tls and tls.insecure_skip_verify))
            self._style_insecure(self.insecure.isChecked())
            self.username.setText((profile.username or "") if profile else "")
            self.password.clear()
            self.poll.setValue(
                profile.poll_interval_s
                if profile
                else int(Profile.model_fields["poll_interval_s"].default)
            )
            self.tags.setText(", ".join(profile.tags) if profile else "")
        finally:
            self._filling = False

    def values(self) -> dict[str, Any]:
        """The profile's settings as typed (all but its id), for ``Profile``."""
        tls: dict[str, Any] = {}
        for what, row in self.tls_rows.items():
            path = row.path.text().strip()
            if row.import_box.isChecked():
                tls[f"{what}_in_keyring"] = True
            elif path:
                tls[f"{what}_file"] = path
        if self.server_name.text().strip():
            tls["server_name"] = self.server_name.text().strip()
        if self.insecure.isChecked():
            tls["insecure_skip_verify"] = True
        return {
            "name": self.name.text().strip(),
            "endpoints": split_list(self.endpoints.text()),
            "tls": tls or None,
            "username": self.username.text().strip() or None,
            "poll_interval_s": self.poll.value(),
            "tags": split_list(self.tags.text()),
        }

    def tls_files(self) -> dict[str, str]:
        """The files to import into the keyring, by ``"ca"``, ``"cert"``, ``"key"``."""
        return {
            what: row.path.text().strip()
            for what, row in self.tls_rows.items()
            if row.import_box.isChecked() and row.path.text().strip()
        }

    def secret_values(self) -> dict[str, str]:
        """The password typed in, if any (blank keeps the stored one)."""
        return {"password": self.password.text()} if self.password.text() else {}

    def update_placeholders(self, where: str, stored: Callable[[str], bool]) -> None:
        """Say in the empty secret fields what is stored (``stored(field)``) in ``where``."""
        text = f"(stored in {where})"
        if stored("password"):
            self.password.setPlaceholderText(text)
        elif self.username.text().strip():
            self.password.setPlaceholderText("required: none is stored yet")
        else:
            self.password.setPlaceholderText("only with a user name")
        for row in self.tls_rows.values():
            if not row.import_box.isChecked():
                row.path.setPlaceholderText("path to a PEM file")
            elif stored(row.field):
                row.path.setPlaceholderText(f"{text}; choose a file to replace it")
            else:
                row.path.setPlaceholderText("choose the file to import")

    # -- fields in red -------------------------------------------------------------------

    def mark_invalid(self, loc: tuple[str, ...]) -> None:
        """Outline in red the fields a validation error at ``loc`` is about."""
        for edit in self._invalid_widgets(loc):
            edit.setProperty("invalid", True)
            edit.style().unpolish(edit)
            edit.style().polish(edit)

    def clear_invalid(self) -> None:
        for edit in self.findChildren(QLineEdit):
            if edit.property("invalid"):
                edit.setProperty("invalid", False)
                edit.style().unpolish(edit)
                edit.style().polish(edit)

    def _invalid_widgets(self, loc: tuple[str, ...]) -> list[QLineEdit]:
        head = loc[0] if loc else ""
        simple = {
            "name": self.name,
            "endpoints": self.endpoints,
            "username": self.username,
            "tags": self.tags,
        }
        if head in simple:
            return [simple[head]]
        if head == "tls":
            sub = loc[1] if len(loc) > 1 else ""
            if sub == "server_name":
                return [self.server_name]
            rows = [r for w, r in self.tls_rows.items() if sub.startswith(w + "_")]
            return [r.path for r in rows or self.tls_rows.values()]
        return []

    # -- helpers -------------------------------------------------------------------------

    def _edited(self, *_: object) -> None:
        if not self._filling:
            self.changed.emit()

    def _style_insecure(self, on: bool) -> None:
        """Skipping verification is never quiet: the box turns red while it is ticked."""
        self.insecure.setStyleSheet(f"color: {PRODUCTION_COLOUR}; font-weight: bold;" if on else "")

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a PEM file", edit.text(), "PEM files (*.pem *.crt *.key);;All files (*)"
        )
        if path:
            edit.setText(path)
            self._edited()
