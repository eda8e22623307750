"""Add, edit, clone, delete and test connection profiles; connect with one.

The dialog renders what the profile service reports (``show_loaded``, ``show_tested``,
...) and asks for everything else through signals: it never reads the profiles file,
a certificate or the keyring itself. The form is a ``ProfileForm``; validation happens
on the pydantic models, so the form says exactly what the file would refuse.

Secrets only ever sit in the password field (echo mode Password) and in the request
that carries them to the service. A stored secret shows as a placeholder
"(stored in <backend>)" and is kept when its field is left blank; a profile whose
secrets the store lacks (kept in memory before a restart) is flagged in the list.

Import… and Export… share profiles as YAML files (``etcdmon profile import/export``'s
format, never with a secret): the dialog only picks the file; the service reads and
writes it. An import that would replace profiles of the same name asks first; the
status line says what was added and replaced, and which secrets to enter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from PySide6.QtCore import QDir, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_ms
from etcdmon_gui.model.profile import ImportResult, LoadResult, Profile
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
#: What the import and export file dialogs show.
YAML_FILTER = "YAML files (*.yaml *.yml);;All files (*)"
EXPORT_NAME = "etcdmon-profiles.yaml"


def _file_name(path: str) -> str:
    return PurePath(path).name or path


def _and(words: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _count(n: int) -> str:
    return f"{n} profile{'s' if n != 1 else ''}"


def _quoted(names: Sequence[str]) -> str:
    return _and([f"“{n}”" for n in names])


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
        importRequested(str path, bool replace): add the profiles of an exported file
            (replace: those of the same name too).
        exportRequested(str path, list names): write these profiles (never a secret)
            to a file.
    """

    saveRequested = Signal(object, object, object, object, object)
    deleteRequested = Signal(str)
    testRequested = Signal(object, object, object, object)
    connectRequested = Signal(object)
    importRequested = Signal(str, bool)
    exportRequested = Signal(str, list)
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
        self._transfer: str | None = None  # the file being imported or exported
        self._folder = QDir.homePath()  # where the file dialogs open
        self.file_dialog: QFileDialog | None = None  # while one is open
        self.replace_box: QMessageBox | None = None  # "Replace profiles?", while open
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
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.import_button.setToolTip(
            "Add profiles from a file exported by etcdmon-gui or `etcdmon profile export`"
        )
        self.import_button.clicked.connect(self.start_import)
        self.export_button.clicked.connect(self.start_export)
        sharing = QHBoxLayout()
        for button in (self.import_button, self.export_button):
            button.setAutoDefault(False)  # Enter in a field does not press them
            sharing.addWidget(button)
        left.addLayout(sharing)

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

    def show_imported(self, result: ImportResult) -> None:
        """Say what an import did and which secrets to enter (the service has just
        listed the profiles, so those still missing are known); show the first one
        imported unless the form holds unsaved edits."""
        self._transfer = None
        self._show_errors([])
        parts = []
        if result.added:
            parts.append(f"added {_quoted(result.added)}")
        if result.replaced:
            parts.append(f"replaced {_quoted(result.replaced)}")
        source = _file_name(result.source)
        lines = [f"Imported {_count(result.count)} from “{source}”: {'; '.join(parts)}."]
        lacking = []
        for name in (*result.added, *result.replaced):
            profile = self._profile_named(name)
            fields = self._missing_for(profile.id) if profile is not None else ()
            if fields:
                what = _and([SECRET_NAMES.get(f, (f, ""))[0] for f in fields])
                lacking.append(f"the {what} of “{name}”")
        if lacking:
            lines.append(
                f"An export holds no secrets: enter {'; '.join(lacking)} (select each profile)."
            )
        lines += result.notices
        first = next(iter((*result.added, *result.replaced)), None)
        profile = self._profile_named(first) if first is not None else None
        if profile is not None and not self._dirty:
            self._rebuild_list(profile.name)
            self._fill(profile)
        self._set_status("\n".join(lines))
        self._update_buttons()

    def show_clashed(self, path: str, names: Sequence[str]) -> None:
        """Nothing was imported: profiles of these names exist. Ask (window-modal,
        not blocking: ``replace_box``) whether to replace them."""
        self._transfer = None
        self._update_buttons()
        file = _file_name(path)
        many = len(names) != 1
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Replace profiles?",
            f"“{file}” has {'profiles' if many else 'a profile'} named {_quoted(names)}, "
            f"like {'profiles' if many else 'one'} you have.",
            QMessageBox.StandardButton.NoButton,
            self,
        )
        box.setObjectName("replaceBox")
        production = [n for n in names if (p := self._profile_named(n)) and p.production]
        verb = "are" if len(production) > 1 else "is"
        note = f"\n\n{_quoted(production)} {verb} tagged production." if production else ""
        box.setInformativeText(
            f"Replace {'them' if many else 'it'} with the settings in “{file}”? The other "
            f"profiles of the file are added. Cancel imports nothing.{note}"
        )
        replace = box.addButton("Replace", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)

        def answered() -> None:
            if self.replace_box is box:
                self.replace_box = None
            box.deleteLater()
            if box.clickedButton() is replace:
                self.import_file(path, replace=True)
            else:
                self._set_status(f"Nothing imported from “{file}”.")

        box.finished.connect(answered)
        self.replace_box = box
        box.open()

    def show_exported(self, path: str, count: int) -> None:
        self._transfer = None
        self._show_errors([])
        self._set_status(
            f"Exported {_count(count)} to “{path}”. It holds no "
            "secrets: its header lists those to enter after importing it."
        )
        self._update_buttons()

    def show_failed(self, message: str) -> None:
        self._transfer = None
        super().show_failed(message)

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

    # -- sharing profiles ----------------------------------------------------------------

    def start_import(self) -> None:
        """Ask which file to import (a window-modal file dialog, ``file_dialog``), then
        import it (``import_file``). What a first-run page's "Import profiles…" calls."""
        dialog = self._file_dialog("Import profiles", QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(lambda path: self.import_file(path))
        dialog.open()

    def start_export(self) -> None:
        """Ask where to write every profile listed (``file_dialog``), then export them."""
        if not self._profiles:
            return
        dialog = self._file_dialog("Export profiles", QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("yaml")
        dialog.selectFile(EXPORT_NAME)
        dialog.fileSelected.connect(lambda path: self.export_file(path))
        dialog.open()

    def import_file(self, path: str, replace: bool = False) -> None:
        """Ask the service to import ``path`` (``replace``: profiles of the same name
        too; without it, a clash is asked about). One import or export at a time."""
        if self._transfer is not None or not path:
            return
        self._transfer = path
        self._set_status(f"Importing profiles from “{_file_name(path)}”…")
        self._update_buttons()
        self.importRequested.emit(path, replace)

    def export_file(self, path: str, names: Sequence[str] | None = None) -> None:
        """Ask the service to write the profiles ``names`` (default: all listed)."""
        if self._transfer is not None or not path:
            return
        chosen = [p.name for p in self._profiles] if names is None else list(names)
        self._transfer = path
        self._set_status(f"Exporting {_count(len(chosen))} to “{path}”…")
        self._update_buttons()
        self.exportRequested.emit(path, chosen)

    def _file_dialog(self, title: str, mode: QFileDialog.AcceptMode) -> QFileDialog:
        """A YAML file dialog (window-modal, not blocking) in the folder used last."""
        if self.file_dialog is not None:
            self.file_dialog.reject()
        dialog = QFileDialog(self, title, self._folder, YAML_FILTER)
        dialog.setObjectName("profilesFileDialog")
        dialog.setAcceptMode(mode)

        def closed() -> None:
            self._folder = dialog.directory().absolutePath()
            if self.file_dialog is dialog:
                self.file_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(closed)
        self.file_dialog = dialog
        return dialog

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
        idle = self._transfer is None
        self.import_button.setEnabled(idle)
        self.export_button.setEnabled(idle and bool(self._profiles))
        self.export_button.setToolTip(
            "Write every profile listed to a YAML file, without secrets"
            if self._profiles
            else "No profile to export yet"
        )
        self.connect_button.setToolTip(
            "Watch this profile's cluster in the main window"
            if saved and not self._dirty
            else "Save the profile first"
        )

    def _show_backend(self, info: BackendInfo) -> None:
        super()._show_backend(info)
        self._update_placeholders()
