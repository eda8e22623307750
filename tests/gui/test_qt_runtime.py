"""The Qt runtime the app depends on must not corrupt Python's reference counts."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_null_pointers_do_not_steal_references_from_none() -> None:
    # shiboken6 6.12.0 returns None for a null pointer without adding a reference; with
    # pyqtgraph's many such calls per repaint, Python 3.11 aborts with "none_dealloc".
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        probe.parent()
    assert sys.getrefcount(None) >= before - 10, (
        "this PySide6 drops references to None (PySide6 6.12.0): "
        "pip install 'PySide6-Essentials!=6.12.0'"
    )
