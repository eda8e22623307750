"""Ask for a cluster's endpoints, TLS files and credentials.

The dialog only collects text; reading the files and connecting happen off the GUI
thread in the worker that the composition root starts for the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    endpoints: str
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)


class ConnectDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to an etcd cluster")
        self.endpoints = QLineEdit()
        self.endpoints.setPlaceholderText("10.0.0.1:2379,10.0.0.2:2379 or https://etcd:2379")
        self.cacert, self.cert, self.key = QLineEdit(), QLineEdit(), QLineEdit()
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout(self)
        form.addRow("&Endpoints", self.endpoints)
        for label, edit in (
            ("&CA certificate", self.cacert),
            ("Client &certificate", self.cert),
            ("Client &key", self.key),
        ):
            form.addRow(label, self._with_browse(edit))
        form.addRow("&User", self.user)
        form.addRow("&Password", self.password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.resize(560, self.sizeHint().height())

    def _with_browse(self, edit: QLineEdit) -> QWidget:
        box = QWidget()
        lay = QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(edit)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit))
        lay.addWidget(browse)
        return box

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a PEM file", "", "PEM files (*.pem *.crt *.key);;All files (*)"
        )
        if path:
            edit.setText(path)

    def request(self) -> ConnectRequest:
        def text(edit: QLineEdit) -> str | None:
            return edit.text().strip() or None

        return ConnectRequest(
            endpoints=self.endpoints.text().strip(),
            cacert=text(self.cacert),
            cert=text(self.cert),
            key=text(self.key),
            user=text(self.user),
            password=self.password.text() or None,
        )
