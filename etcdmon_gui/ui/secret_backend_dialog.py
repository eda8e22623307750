"""Where should secrets live? Asked once at start-up when no OS keyring is usable, and
again by "Move secrets…" in the profile and channel dialogs.

The choices are an OS keyring that works (offered only when the caller names one), an
encrypted file protected by a master password (kept for later sessions) or this session
only. Nothing is ever stored in clear text, and the dialog says why it is asking.
"""

from __future__ import annotations

from typing import Literal

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.ui.palette import CRITICAL_COLOUR

Choice = Literal["keyring", "encrypted-file", "memory"]


class SecretBackendDialog(QDialog):
    """``problem``: why it asks. ``file_only``: no session-only choice. ``keyring``: the
    name of a working OS keyring to offer (chosen by default). ``confirm``: the master
    password is typed twice (a new file would be locked by a typo). ``allow_file``:
    False when the secrets are in the encrypted file already. ``cancellable``: a Cancel
    button (a move may be called off; at start-up there is no going back). ``note``:
    what follows the choice, under it."""

    def __init__(
        self,
        problem: str,
        *,
        file_only: bool = False,
        keyring: str | None = None,
        confirm: bool = False,
        allow_file: bool = True,
        cancellable: bool = False,
        title: str = "Where should etcdmon keep passwords and keys?",
        note: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        intro = QLabel(problem[:1].upper() + problem[1:])
        intro.setObjectName("intro")
        intro.setWordWrap(True)
        self.keyring = QRadioButton(f"In the OS &keyring ({keyring})")
        self.encrypted = QRadioButton("In an &encrypted file, unlocked with a master password")
        self.memory = QRadioButton("For this &session only (forgotten when etcdmon-gui exits)")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("master password")
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat.setPlaceholderText("the master password again")
        self._confirm = confirm
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {CRITICAL_COLOUR};")
        self.error.hide()
        self.encrypted.toggled.connect(self.password.setEnabled)
        self.encrypted.toggled.connect(self.repeat.setEnabled)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        if cancellable:
            buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        if keyring is not None:
            lay.addWidget(self.keyring)
        if allow_file or keyring is None:
            lay.addWidget(self.encrypted)
            lay.addWidget(self.password)
            if confirm:
                lay.addWidget(self.repeat)
        if not file_only:
            lay.addWidget(self.memory)
        (self.keyring if keyring is not None else self.encrypted).setChecked(True)
        self.password.setEnabled(self.encrypted.isChecked())
        self.repeat.setEnabled(self.encrypted.isChecked())
        if note:
            below = QLabel(note)
            below.setObjectName("note")
            below.setWordWrap(True)
            lay.addWidget(below)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.resize(520, self.sizeHint().height())

    def choice(self) -> Choice:
        if self.keyring.isChecked():
            return "keyring"
        return "encrypted-file" if self.encrypted.isChecked() else "memory"

    def use_file(self) -> bool:
        return self.encrypted.isChecked()

    def master_password(self) -> str:
        return self.password.text()

    def show_error(self, message: str) -> None:
        """The last attempt failed (e.g. wrong master password): say so and ask again."""
        self.error.setText(message)
        self.error.show()
        self.password.clear()
        self.repeat.clear()
        self.password.setFocus()

    def _accept(self) -> None:
        if self.use_file():
            if not self.password.text():
                self.show_error("Type the master password (a new file is created with it).")
                return
            if self._confirm and self.repeat.text() != self.password.text():
                self.show_error("The two master passwords differ: type them again.")
                return
        self.accept()
