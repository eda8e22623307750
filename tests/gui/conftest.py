"""pytest-qt set-up for the GUI tests: offscreen, and no QThread may outlive its test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtCore import QThread


@pytest.fixture(autouse=True)
def no_leaked_qthreads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Record every QThread a test starts; fail if one is still running at teardown.

    Autouse fixtures are torn down last, so the test's own fixtures (which shut the
    application down) have run by then.
    """
    started: list[QThread] = []
    original = QThread.start

    def start(self: QThread, *args: object) -> None:
        started.append(self)
        original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    leaked = [t.objectName() or repr(t) for t in started
              if shiboken6.isValid(t) and t.isRunning()]
    assert not leaked, f"QThreads still running after the test: {leaked}"
