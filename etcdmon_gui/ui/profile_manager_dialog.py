"""Add, edit, clone, delete and test connection profiles; connect with one.

The dialog renders what the profile service reports (``show_loaded``, ``show_tested``,
...) and asks for everything else through signals: it never reads the profiles file,
a certificate or the keyring itself. Labels and tooltips come from the pydantic models'
field titles and descriptions, and validation happens on the same models, so the form
says exactly what the file would refuse.

Secrets only ever sit in the password field (echo mode Password) and in the request
that carries them to the service. A stored secret shows as a placeholder
"(stored in <backend>)" and is kept when its field is left blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_ms
from etcdmon_gui.model.profile import LoadResult, Profile, TLSSettings
from etcdmon_gui.model.snapshot import ClusterSnapshot, Verdict
from etcdmon_gui.ui.form_dialog import ServiceDialog, backend_text, field_text, split_list
from etcdmon_gui.ui.palette import (
    ERROR_COLOUR,
    NOTICE_BACKGROUND,
    NOTICE_BORDER,
    NOTICE_TEXT,
    PRODUCTION_COLOUR,
    VERDICT_COLOURS,
    WARNING_COLOUR,
    dot_icon,
)

if TYPE_CHECKING:
    from etcdmon_gui.model.secrets import BackendInfo

NAME_ROLE = Qt.ItemDataRole.UserRole
_TLS = (("ca", "CA certificate"), ("cert", "client certificate"), ("key", "client key"))


def _new_id() -> str:
    """A fresh profile id, made the way the model makes one."""
    return str(Profile.model_fields["id"].get_default(call_default_factory=True))


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


@dataclass(frozen=True, slots=True)
class FormResult:
    """What the form asks to save or test; ``secrets`` never leave the request."""

    profile: Profile
    secrets: dict[str, str]
    tls_files: dict[str, str]


class _TLSRow:
    """A TLS file: its path, Browse…, and whether to import it into the keyring."""

    def __init__(self, what: str, dialog: ProfileManagerDialog) -> None:
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
        self.browse.clicked.connect(lambda: dialog._browse(self.path))

    @property
    def field(self) -> str:
        return f"tls_{self.what}"


class ProfileManagerDialog(ServiceDialog):
    """The list of profiles and a form to edit the one selected.

    Signals:
        loadRequested(): read the profiles file again (emitted whenever it is shown).
        saveRequested(str | None old_name, Profile, dict secrets, dict tls_files,
            str | None secrets_from): add (old_name None) or replace a profile; secrets
            are new values only, tls_files are paths to import, secrets_from the id
            whose stored secrets a clone starts from.
        deleteRequested(str name): delete a profile and its secrets.
        testRequested(Profile, dict secrets, dict tls_files, str | None secrets_from):
            one health sweep with the form's values, saved or not.
        connectRequested(Profile): watch the saved profile selected.
    """

    saveRequested = Signal(object, object, object, object, object)
    deleteRequested = Signal(str)
    testRequested = Signal(object, object, object, object)
    connectRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connection profiles")
        self._profiles: list[Profile] = []
        self._backend: BackendInfo | None = None
        self._editing: Profile | None = None  # the saved profile in the form, if any
        self._form_id = _new_id()
        self._secrets_from: str | None = None  # a clone's original
        self._dirty = False
        self._filling = False
        self._testing: str | None = None  # name of the profile being tested
        self._saving = False
        self.setStyleSheet(f'QLineEdit[invalid="true"] {{ border: 1px solid {ERROR_COLOUR}; }}')

        # -- load problems, above everything -------------------------------------------
        self.problems = QLabel()
        self.problems.setObjectName("problems")
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.PlainText)  # names come from the file
        self.problems.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems_box = QFrame()
        self.problems_box.setObjectName("problemsBox")
        self.problems_box.setStyleSheet(
            f"#problemsBox {{ background: {NOTICE_BACKGROUND}; "
            f"border: 1px solid {NOTICE_BORDER}; border-radius: 4px; }} "
            f"#problemsBox QLabel {{ color: {NOTICE_TEXT}; }}"
        )
        QVBoxLayout(self.problems_box).addWidget(self.problems)
        self.problems_box.hide()

        # -- the list ------------------------------------------------------------------
        self.list = QListWidget()
        self.list.setMinimumWidth(200)
        self.list.currentItemChanged.connect(self._selected)
        self.add_button = QPushButton("Add")
        self.clone_button = QPushButton("Clone")
        self.delete_button = QPushButton("Delete")
        self.add_button.clicked.connect(self.new_profile)
        self.clone_button.clicked.connect(self.clone_profile)
        self.delete_button.clicked.connect(self.delete_profile)
        list_buttons = QHBoxLayout()
        for b in (self.add_button, self.clone_button, self.delete_button):
            b.setAutoDefault(False)
            list_buttons.addWidget(b)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Profiles</b>"))
        left.addWidget(self.list, 1)
        left.addLayout(list_buttons)

        # -- the form ------------------------------------------------------------------
        self.heading = QLabel()
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        font = QFont(self.heading.font())
        font.setBold(True)
        self.heading.setFont(font)
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
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._labels: dict[str, QLabel] = {}
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
            row.import_box.toggled.connect(self._update_placeholders)
        self._row(TLSSettings, "server_name", self.server_name)
        self.form.addRow("", self.insecure)
        self._row(Profile, "username", self.username)
        password_label = QLabel("Password")
        password_label.setBuddy(self.password)
        password_label.setToolTip(
            "Kept with the secrets, never in the profiles file; leave blank to keep the stored one"
        )
        self.password.setToolTip(password_label.toolTip())
        self.form.addRow(password_label, self.password)
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
            edit.textEdited.connect(self._changed)
        for box in (*(r.import_box for r in self.tls_rows.values()), self.insecure):
            box.toggled.connect(self._changed)
        self.poll.valueChanged.connect(self._changed)
        self.username.textEdited.connect(self._update_placeholders)

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
        self.save_button = QPushButton("Save")
        self.test_button = QPushButton("Test connection")
        self.connect_button = QPushButton("Connect")
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test)
        self.connect_button.clicked.connect(self.connect_selected)
        form_buttons = QHBoxLayout()
        form_buttons.addWidget(self.status, 1)
        for b in (self.save_button, self.test_button, self.connect_button):
            b.setAutoDefault(False)
            form_buttons.addWidget(b)

        # -- the test result -----------------------------------------------------------
        self.test_summary = QLabel("Not tested yet.")
        self.test_summary.setObjectName("testSummary")
        self.test_summary.setWordWrap(True)
        self.test_summary.setTextFormat(Qt.TextFormat.PlainText)
        self.test_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.members = QTreeWidget()
        self.members.setHeaderLabels(["Member", "Version", "Reachable", "RTT"])
        self.members.setRootIsDecorated(False)
        self.members.setMinimumHeight(90)
        header = self.members.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for col in (0, 1, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        test_box = QGroupBox("Connection test")
        test_lay = QVBoxLayout(test_box)
        test_lay.addWidget(self.test_summary)
        test_lay.addWidget(self.members)

        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addLayout(self.form)
        right.addWidget(self.errors)
        right.addLayout(form_buttons)
        right.addWidget(test_box, 1)

        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addSpacing(8)
        columns.addLayout(right, 3)

        # -- the secret backend, and Close ---------------------------------------------
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
        outer.addWidget(self.problems_box)
        outer.addLayout(columns, 1)
        outer.addLayout(bottom)
        self.resize(960, 680)
        self.new_profile()

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
        self._labels[name] = label
        self.form.addRow(label, widget)

    # -- what the service reports (slots, GUI thread) -----------------------------------

    def show_loaded(self, result: LoadResult, backend: BackendInfo) -> None:
        self._profiles = list(result.profiles)
        self._backend = backend
        self._show_backend(backend)
        if result.problems:
            lines = "\n".join(f"• {p}" for p in result.problems)
            self.problems.setText(
                "The profiles file has problems. It is kept exactly as it is, and changes "
                f"cannot be saved until it is fixed or moved:\n{lines}"
            )
            self.problems_box.show()
        else:
            self.problems_box.hide()
        # Keep the profile in the form selected (found by id: it may have been renamed).
        target = None
        if self._editing is not None:
            target = next((p for p in self._profiles if p.id == self._editing.id), None)
        self._rebuild_list(target.name if target else None)
        if target is not None:
            if self._dirty:
                self._editing = target  # keep the user's edits, track the new original
            else:
                self._fill(target)
        elif self._editing is not None or not self._dirty:
            # What the form showed is gone (deleted, or the file changed), or the form is
            # untouched: show the first profile, or an empty form when there is none.
            if self._profiles:
                self.list.setCurrentRow(0)
            else:
                self.new_profile()
        self._update_buttons()

    def show_saved(self, profile: Profile) -> None:
        """Select what was saved (the service reloads the list just before)."""
        self._saving = False
        self._rebuild_list(profile.name)
        self._fill(profile)
        self._set_status(f"Saved “{profile.name}”.")

    def show_deleted(self, name: str) -> None:
        self._set_status(f"Deleted “{name}” and its secrets.")

    def show_failed(self, message: str) -> None:
        self._saving = False
        self._show_errors([message])
        self._set_status("")
        self._update_buttons()

    def show_tested(self, snapshot: ClusterSnapshot | None, error: str) -> None:
        name, self._testing = self._testing or "the profile", None
        self.test_button.setText("Test connection")
        self._update_buttons()
        self.members.clear()
        if snapshot is None:
            self._summary(f"Test of “{name}” failed: {error}", ERROR_COLOUR)
            return
        for m in sorted(snapshot.members, key=lambda m: (m.name or "~", m.id)):
            reachable = (
                "yes"
                if m.reachable
                else (f"no{'' if m.responsive else ' (hung)'}: {m.error or 'no answer'}")
            )
            item = QTreeWidgetItem(
                [m.name or m.id_hex, m.version or "-", reachable, fmt_ms(m.rtt_ms)]
            )
            item.setIcon(
                0, dot_icon(VERDICT_COLOURS[Verdict.HEALTHY if m.reachable else Verdict.CRITICAL])
            )
            item.setToolTip(2, reachable)
            item.setToolTip(0, m.endpoint or "")
            self.members.addTopLevelItem(item)
        leader = snapshot.leader
        parts = [f"“{name}”: {snapshot.verdict.name.capitalize()}"]
        if snapshot.members:
            parts += [
                f"leader {leader.name or leader.id_hex}" if leader else "no leader",
                f"{snapshot.reachable_voters} of {snapshot.voters} voters reachable",
            ]
        text = " · ".join(parts)
        details = ([snapshot.error] if snapshot.error else []) + list(snapshot.reasons)
        details += list(snapshot.warnings)
        if details:
            text += "\n" + "\n".join(dict.fromkeys(details))
        colour = (
            None
            if snapshot.verdict == Verdict.HEALTHY
            else (ERROR_COLOUR if snapshot.verdict >= Verdict.CRITICAL else WARNING_COLOUR)
        )
        self._summary(text, colour)

    # -- list actions --------------------------------------------------------------------

    def new_profile(self) -> None:
        """An empty form for a new profile."""
        self._deselect()
        self._fill(None)

    def clone_profile(self) -> None:
        """The selected profile's settings (and stored secrets) under a new name."""
        original = self._editing
        if original is None:
            return
        names = {p.name for p in self._profiles}
        name, n = f"{original.name} (copy)", 2
        while name in names:
            name, n = f"{original.name} (copy {n})", n + 1
        self._deselect()
        self._fill(original, new=True)
        self._secrets_from = original.id
        self.name.setText(name)
        self._dirty = True
        self.heading.setText(f"New profile, cloned from “{original.name}” (not saved)")
        self._update_placeholders()
        self._update_buttons()

    def delete_profile(self) -> None:
        profile = self._editing
        if profile is None:
            return
        warning = "\n\nIt is tagged production." if profile.production else ""
        answer = QMessageBox.question(
            self,
            "Delete profile",
            f"Delete the profile “{profile.name}” and the secrets stored for it?{warning}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._set_status(f"Deleting “{profile.name}”…")
            self.deleteRequested.emit(profile.name)

    def _style_insecure(self, on: bool) -> None:
        """Skipping verification is never quiet: the box turns red while it is ticked."""
        self.insecure.setStyleSheet(f"color: {PRODUCTION_COLOUR}; font-weight: bold;" if on else "")

    # -- form actions --------------------------------------------------------------------

    def form_result(self) -> FormResult | None:
        """The profile the form describes, or None with the errors shown inline."""
        self._clear_invalid()
        problems: list[tuple[tuple[str, ...], str]] = []
        tls: dict[str, Any] = {}
        tls_files: dict[str, str] = {}
        for what, row in self.tls_rows.items():
            path = row.path.text().strip()
            if row.import_box.isChecked():
                tls[f"{what}_in_keyring"] = True
                if path:
                    tls_files[what] = path
            elif path:
                tls[f"{what}_file"] = path
        if self.server_name.text().strip():
            tls["server_name"] = self.server_name.text().strip()
        if self.insecure.isChecked():
            tls["insecure_skip_verify"] = True
        base: dict[str, Any] = self._editing.model_dump() if self._editing else {}
        base.update(
            id=self._form_id,
            name=self.name.text().strip(),
            endpoints=split_list(self.endpoints.text()),
            tls=tls or None,
            username=self.username.text().strip() or None,
            poll_interval_s=self.poll.value(),
            tags=split_list(self.tags.text()),
        )
        secrets = {"password": self.password.text()} if self.password.text() else {}
        if secrets and not base["username"]:
            problems.append((("username",), "a password needs a user name"))
        profile = None
        try:
            profile = Profile.model_validate(base)
        except ValidationError as exc:
            problems += validation_messages(exc)
        if problems or profile is None:
            self._show_errors([f"{location_title(loc)}: {msg}" for loc, msg in problems])
            for loc, _ in problems:
                self._mark_invalid(loc)
            return None
        self._show_errors([])
        return FormResult(profile, secrets, tls_files)

    def save(self) -> None:
        result = self.form_result()
        if result is None:
            return
        self._saving = True
        self._set_status(f"Saving “{result.profile.name}”…")
        self._update_buttons()
        self.saveRequested.emit(
            self._editing.name if self._editing else None,
            result.profile,
            result.secrets,
            result.tls_files,
            self._secrets_from,
        )

    def test(self) -> None:
        if self._testing is not None:
            return
        result = self.form_result()
        if result is None:
            return
        self._testing = result.profile.name
        self.test_button.setText("Testing…")
        self._update_buttons()
        self.members.clear()
        self._summary(f"Testing “{result.profile.name}”…", None)
        self.testRequested.emit(
            result.profile, result.secrets, result.tls_files, self._secrets_from
        )

    def connect_selected(self) -> None:
        if self._editing is not None and not self._dirty:
            self.connectRequested.emit(self._editing)
            self.accept()

    # -- helpers -------------------------------------------------------------------------

    def _rebuild_list(self, select: str | None) -> None:
        """One row per profile, production ones marked; selects ``select`` quietly."""
        self.list.blockSignals(True)
        self.list.clear()
        for p in self._profiles:
            item = QListWidgetItem(p.name)
            item.setData(NAME_ROLE, p.name)
            item.setToolTip(", ".join(p.endpoints))
            if p.production:
                item.setText(f"{p.name} · PRODUCTION")
                item.setIcon(dot_icon(PRODUCTION_COLOUR))
                item.setForeground(QBrush(QColor(PRODUCTION_COLOUR)))
                bold = QFont(item.font())
                bold.setBold(True)
                item.setFont(bold)
                item.setToolTip(f"Tagged production · {item.toolTip()}")
            self.list.addItem(item)
            if p.name == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _deselect(self) -> None:
        self.list.blockSignals(True)
        self.list.setCurrentRow(-1)
        self.list.clearSelection()
        self.list.blockSignals(False)

    def _profile_named(self, name: str) -> Profile | None:
        return next((p for p in self._profiles if p.name == name), None)

    def _selected(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is None:
            return
        profile = self._profile_named(str(item.data(NAME_ROLE)))
        if profile is not None:
            self._fill(profile)

    def _fill(self, profile: Profile | None, new: bool = False) -> None:
        """Show ``profile`` in the form (None: an empty one); ``new``: as an unsaved copy."""
        self._filling = True
        try:
            self._editing = None if new else profile
            self._secrets_from = None
            self._form_id = profile.id if profile is not None and not new else _new_id()
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
        self._dirty = False
        self.heading.setText(
            f"Profile “{profile.name}”" if profile and not new else "New profile (not saved)"
        )
        self._clear_invalid()
        self._show_errors([])
        self._update_placeholders()
        self._update_buttons()

    def _changed(self, *_: object) -> None:
        if not self._filling:
            self._dirty = True
            self._update_buttons()

    def _stored(self, field: str) -> bool:
        return self._stored_for(
            self._secrets_from or (self._editing.id if self._editing else None), field
        )

    def _update_placeholders(self, *_: object) -> None:
        where = self._backend.name if self._backend else "the keyring"
        stored = f"(stored in {where})"
        if self._stored("password"):
            self.password.setPlaceholderText(stored)
        elif self.username.text().strip():
            self.password.setPlaceholderText("required: none is stored yet")
        else:
            self.password.setPlaceholderText("only with a user name")
        for row in self.tls_rows.values():
            if not row.import_box.isChecked():
                row.path.setPlaceholderText("path to a PEM file")
            elif self._stored(row.field):
                row.path.setPlaceholderText(f"{stored}; choose a file to replace it")
            else:
                row.path.setPlaceholderText("choose the file to import")

    def _update_buttons(self) -> None:
        saved = self._editing is not None
        self.clone_button.setEnabled(saved)
        self.delete_button.setEnabled(saved)
        self.save_button.setEnabled(not self._saving)
        self.test_button.setEnabled(self._testing is None)
        self.connect_button.setEnabled(saved and not self._dirty)
        self.connect_button.setToolTip(
            "Watch this profile's cluster in the main window"
            if saved and not self._dirty
            else "Save the profile first"
        )

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a PEM file", edit.text(), "PEM files (*.pem *.crt *.key);;All files (*)"
        )
        if path:
            edit.setText(path)
            self._changed()

    def _show_backend(self, info: BackendInfo) -> None:
        self.backend.setText(backend_text(info))
        self._update_placeholders()

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

    def _mark_invalid(self, loc: tuple[str, ...]) -> None:
        for edit in self._invalid_widgets(loc):
            edit.setProperty("invalid", True)
            edit.style().unpolish(edit)
            edit.style().polish(edit)

    def _clear_invalid(self) -> None:
        for edit in self.findChildren(QLineEdit):
            if edit.property("invalid"):
                edit.setProperty("invalid", False)
                edit.style().unpolish(edit)
                edit.style().polish(edit)
