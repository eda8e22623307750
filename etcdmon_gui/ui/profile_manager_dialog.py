"""Add, edit, clone, delete and test connection profiles; connect with one.

The dialog renders what the profile service reports (``show_loaded``, ``show_tested``,
...) and asks for everything else through signals: it never reads the profiles file,
a certificate or the keyring itself. The form is a ``ProfileForm``; validation happens
on the pydantic models, so the form says exactly what the file would refuse.

Secrets only ever sit in the password field (echo mode Password) and in the request
that carries them to the service. A stored secret shows as a placeholder
"(stored in <backend>)" and is kept when its field is left blank; a profile whose
secrets the store lacks (kept in memory before a restart) is flagged in the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QFrame,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_ms
from etcdmon_gui.model.profile import LoadResult, Profile
from etcdmon_gui.model.snapshot import ClusterSnapshot, Verdict
from etcdmon_gui.ui.form_dialog import ServiceDialog, warning_icon
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
from etcdmon_gui.ui.profile_form_widget import (
    SECRET_NAMES,
    ProfileForm,
    location_title,
    missing_lines,
    validation_messages,
)

if TYPE_CHECKING:
    from etcdmon_gui.model.secrets import BackendInfo

NAME_ROLE = Qt.ItemDataRole.UserRole


def _new_id() -> str:
    """A fresh profile id, made the way the model makes one."""
    return str(Profile.model_fields["id"].get_default(call_default_factory=True))


@dataclass(frozen=True, slots=True)
class FormResult:
    """What the form asks to save or test; ``secrets`` never leave the request."""

    profile: Profile
    secrets: dict[str, str]
    tls_files: dict[str, str]


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
        moveRequested(MoveTarget): move every secret to another backend.
    """

    saveRequested = Signal(object, object, object, object, object)
    deleteRequested = Signal(str)
    testRequested = Signal(object, object, object, object)
    connectRequested = Signal(object)
    list: QListWidget
    _list_key = "name"  # profile names are unique

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connection profiles")
        self._profiles: list[Profile] = []
        self._editing: Profile | None = None  # the saved profile in the form, if any
        self._form_id = _new_id()
        self._secrets_from: str | None = None  # a clone's original
        self._testing: str | None = None  # name of the profile being tested
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
        self.list.setIconSize(QSize(16, 16))  # the warning sign no taller than a row
        self.list.currentItemChanged.connect(self._selected)
        self.add_button = QPushButton("Add")
        self.clone_button = QPushButton("Clone")
        self.delete_button = QPushButton("Delete")
        self.add_button.clicked.connect(self.new_profile)
        self.clone_button.clicked.connect(self.clone_profile)
        self.delete_button.clicked.connect(self.delete_profile)
        left = self._list_column("Profiles", self.add_button, self.clone_button, self.delete_button)

        # -- the form ------------------------------------------------------------------
        self._make_labels()
        self.form = ProfileForm()
        self.form.changed.connect(self._changed)
        self.save_button = QPushButton("Save")
        self.test_button = QPushButton("Test connection")
        self.connect_button = QPushButton("Connect")
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test)
        self.connect_button.clicked.connect(self.connect_selected)

        # -- the test result -----------------------------------------------------------
        self.members = QTreeWidget()
        self.members.setHeaderLabels(["Member", "Version", "Reachable", "RTT"])
        self.members.setRootIsDecorated(False)
        self.members.setMinimumHeight(90)
        header = self.members.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        for col in (0, 1, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        test_box = self._test_box("Connection test", "Not tested yet.", self.members)

        self._lay_out(
            left,
            self.form,
            self._form_buttons(self.save_button, self.test_button, self.connect_button),
            test_box,
            left_stretch=1,
            test_grows=True,
            above=self.problems_box,
        )
        self.resize(960, 680)
        self.new_profile()

    # -- what the service reports (slots, GUI thread) -----------------------------------

    def show_loaded(self, result: LoadResult, backend: BackendInfo) -> None:
        self._profiles = list(result.profiles)
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
        self._reselect(self._profiles)
        self._update_buttons()

    def show_deleted(self, name: str) -> None:
        self._set_status(f"Deleted “{name}” and its secrets.")

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
        self.form.name.setText(name)
        self._dirty = True
        self.heading.setText(f"New profile, cloned from “{original.name}” (not saved)")
        self._update_placeholders()
        self._update_buttons()

    def delete_profile(self) -> None:
        profile = self._editing
        if profile is None:
            return
        warning = "\n\nIt is tagged production." if profile.production else ""
        if self._confirm_delete(
            "Delete profile",
            f"Delete the profile “{profile.name}” and the secrets stored for it?{warning}",
            profile.name,
        ):
            self.deleteRequested.emit(profile.name)

    # -- form actions --------------------------------------------------------------------

    def form_result(self) -> FormResult | None:
        """The profile the form describes, or None with the errors shown inline."""
        self.form.clear_invalid()
        problems: list[tuple[tuple[str, ...], str]] = []
        base: dict[str, Any] = self._editing.model_dump() if self._editing else {}
        base.update(self.form.values(), id=self._form_id)
        secrets = self.form.secret_values()
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
                self.form.mark_invalid(loc)
            return None
        self._show_errors([])
        return FormResult(profile, secrets, self.form.tls_files())

    def save(self) -> None:
        """Save what the form describes; asks first when a secret typed in or a file to
        import would be kept for this session only."""
        result = self.form_result()
        if result is None:
            return
        old_name = self._editing.name if self._editing else None
        secrets_from = self._secrets_from
        brought = [*result.secrets, *(f"tls_{what}" for what in result.tls_files)]

        def send() -> None:
            self._saving = True
            self._set_status(f"Saving “{result.profile.name}”…")
            self._update_buttons()
            self.saveRequested.emit(
                old_name, result.profile, result.secrets, result.tls_files, secrets_from
            )

        names = [SECRET_NAMES[f][0] for f in brought if f in SECRET_NAMES]
        self._save_after_asking(result.profile.name, names, send)

    def _start_test(self, result: FormResult) -> None:
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
            missing = self._missing_for(p.id)
            if missing:  # production stays red; the sign says what else is wrong
                item.setIcon(warning_icon(self))
                if not p.production:
                    item.setForeground(QBrush(QColor(WARNING_COLOUR)))
                lines = "\n".join(missing_lines(missing))
                item.setToolTip(f"{lines}\n(not in {self._secrets_place()})\n{item.toolTip()}")
            self.list.addItem(item)
            if p.name == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _show_first(self) -> None:
        if self._profiles:
            self.list.setCurrentRow(0)
        else:
            self.new_profile()

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
        self._editing = None if new else profile
        self._secrets_from = None
        self._form_id = profile.id if profile is not None and not new else _new_id()
        self.form.set_profile(profile)
        self._dirty = False
        self.heading.setText(
            f"Profile “{profile.name}”" if profile and not new else "New profile (not saved)"
        )
        self.form.clear_invalid()
        self._show_errors([])
        missing = self._missing_for(profile.id) if profile is not None and not new else []
        self._notice_missing(missing_lines(missing))
        self._update_placeholders()
        self._update_buttons()

    def _stored(self, field: str) -> bool:
        return self._stored_for(
            self._secrets_from or (self._editing.id if self._editing else None), field
        )

    def _update_placeholders(self) -> None:
        self.form.update_placeholders(self._secrets_place(), self._stored)

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

    def _show_backend(self, info: BackendInfo) -> None:
        super()._show_backend(info)
        self._update_placeholders()
