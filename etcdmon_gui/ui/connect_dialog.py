"""Ask for a cluster's endpoints, TLS files and credentials.

The dialog only collects text; reading the files and connecting happen off the GUI
thread in the worker that the composition root starts for the request. The endpoints are
checked as they are typed, with the parser the CLI uses (``parse_endpoints``): what is
wrong shows under the field and OK stays disabled until they parse, so a request never
carries endpoints that could only stay "connecting…".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from etcdmon_gui.model.connection import parse_endpoints
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.ui.palette import ERROR_COLOUR


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    endpoints: str
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)


def endpoints_problem(text: str) -> str | None:
    """What is wrong with these endpoints (the CLI's words), or None when they parse."""
    try:
        parse_endpoints(text)
    except EtcdError as exc:
        return str(exc)
    return None


class ConnectDialog(QDialog):
    """Endpoints, TLS files and credentials for a connection; OK only when they can work."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to an etcd cluster")
        self.endpoints = QLineEdit()
        self.endpoints.setPlaceholderText("10.0.0.1:2379,10.0.0.2:2379 or https://etcd:2379")
        self.cacert, self.cert, self.key = QLineEdit(), QLineEdit(), QLineEdit()
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.endpoints_error = QLabel()
        self.endpoints_error.setObjectName("endpointsError")
        self.endpoints_error.setWordWrap(True)
        self.endpoints_error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.pair_error = QLabel()
        self.pair_error.setObjectName("pairError")
        self.pair_error.setWordWrap(True)
        self.pair_error.setStyleSheet(f"color: {ERROR_COLOUR};")
        form = QFormLayout(self)
        form.addRow("&Endpoints", self.endpoints)
        form.addRow("", self.endpoints_error)
        for label, edit in (
            ("&CA certificate", self.cacert),
            ("Client &certificate", self.cert),
            ("Client &key", self.key),
        ):
            form.addRow(label, self._with_browse(edit))
        form.addRow("", self.pair_error)
        form.addRow("&User", self.user)
        form.addRow("&Password", self.password)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        form.addRow(buttons)
        for edit in (self.endpoints, self.cert, self.key):
            edit.textChanged.connect(self._validate)
        self._validate()
        self.resize(560, self.sizeHint().height())

    def _validate(self) -> None:
        text = self.endpoints.text()
        # Nothing typed yet is not an error to shout about; OK still waits for it.
        problem = endpoints_problem(text) if text.strip() else None
        self.endpoints_error.setText(problem or "")
        self.endpoints_error.setVisible(problem is not None)
        pair = None
        if bool(self.cert.text().strip()) != bool(self.key.text().strip()):
            pair = "A client certificate needs its key and a key its certificate: give both."
        self.pair_error.setText(pair or "")
        self.pair_error.setVisible(pair is not None)
        self.ok_button.setEnabled(bool(text.strip()) and problem is None and pair is None)

    def accept(self) -> None:
        if self.ok_button.isEnabled():  # Enter in a field also lands here
            super().accept()

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
