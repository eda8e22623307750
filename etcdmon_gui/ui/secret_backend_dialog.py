"""Asked once at start-up when no OS keyring is usable: where should secrets live?

The choices are an encrypted file protected by a master password (kept for later
sessions) or this session only. Nothing is ever stored in clear text, and the dialog
says why it is asking.
"""

from __future__ import annotations

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


class SecretBackendDialog(QDialog):
    def __init__(
        self, problem: str, *, file_only: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Where should etcdmon keep passwords and keys?")
        intro = QLabel(problem[:1].upper() + problem[1:])
        intro.setWordWrap(True)
        self.encrypted = QRadioButton("In an &encrypted file, unlocked with a master password")
        self.memory = QRadioButton("For this &session only (forgotten when etcdmon-gui exits)")
        self.encrypted.setChecked(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("master password")
        self.error = QLabel()
        self.error.setStyleSheet(f"color: {CRITICAL_COLOUR};")
        self.error.hide()
        self.encrypted.toggled.connect(self.password.setEnabled)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self._accept)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.encrypted)
        lay.addWidget(self.password)
        if not file_only:
            lay.addWidget(self.memory)
        lay.addWidget(self.error)
        lay.addWidget(buttons)
        self.resize(520, self.sizeHint().height())

    def use_file(self) -> bool:
        return self.encrypted.isChecked()

    def master_password(self) -> str:
        return self.password.text()

    def show_error(self, message: str) -> None:
        """The last attempt failed (e.g. wrong master password): say so and ask again."""
        self.error.setText(message)
        self.error.show()
        self.password.clear()
        self.password.setFocus()

    def _accept(self) -> None:
        if self.use_file() and not self.password.text():
            self.show_error("Type the master password (a new file is created with it).")
            return
        self.accept()
