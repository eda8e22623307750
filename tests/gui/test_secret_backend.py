"""No OS keyring: the app asks where secrets go, and never keeps them in clear text."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import choose_secret_store
from etcdmon_gui.store import secrets as secrets_mod
from etcdmon_gui.store.secrets import SecretStore, secrets_file_path
from etcdmon_gui.ui.secret_backend_dialog import SecretBackendDialog


class Scripted(SecretBackendDialog):
    """The real dialog, answered by a list of (use_file, password) instead of a person."""

    def __init__(self, problem: str, file_only: bool, answers: list[tuple[bool, str]]) -> None:
        super().__init__(problem, file_only=file_only)
        self.answers = answers
        self.errors: list[str] = []

    def exec(self) -> int:  # type: ignore[override]
        if not self.answers:
            return int(self.DialogCode.Rejected)
        use_file, password = self.answers.pop(0)
        (self.encrypted if use_file else self.memory).setChecked(True)
        self.password.setText(password)
        return int(self.DialogCode.Accepted)

    def show_error(self, message: str) -> None:
        self.errors.append(message)
        super().show_error(message)


@pytest.fixture(autouse=True)
def no_os_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(secrets_mod, "_OS_KEYRINGS", ("no.such.keyring",))


def test_encrypted_file_asks_again_after_a_wrong_master_password(qtbot: QtBot) -> None:
    SecretStore.encrypted_file(secrets_file_path(), "right-master").set("p", "password", "pw1")
    dialogs: list[Scripted] = []
    problems: list[str] = []

    def make(problem: str, file_only: bool) -> Scripted:
        dialog = Scripted(problem, file_only, [(True, "wrong"), (True, "right-master")])
        qtbot.addWidget(dialog)
        dialogs.append(dialog)
        problems.append(problem)
        return dialog

    store = choose_secret_store("keyring", dialog_factory=make)
    assert store.info.persistent and store.get("p", "password") == "pw1"
    assert "no usable OS keyring" in problems[0]  # the dialog says why it asks
    assert dialogs[0].errors == [
        f"wrong master password for the encrypted secrets file {secrets_file_path()}"
    ]
    assert b"pw1" not in secrets_file_path().read_bytes()


def test_session_only_and_no_questions_when_not_interactive(qtbot: QtBot) -> None:
    def make(problem: str, file_only: bool) -> Scripted:
        dialog = Scripted(problem, file_only, [(False, "")])
        qtbot.addWidget(dialog)
        return dialog

    assert not choose_secret_store("keyring", dialog_factory=make).info.persistent
    assert not choose_secret_store("keyring", ask=False).info.persistent  # --screenshot
    assert not secrets_file_path().exists()
