"""Files shipped with the application, read through ``importlib.resources`` only.

This is the one place that knows where resources live, frozen (PyInstaller) or not.
"""

from __future__ import annotations

from importlib import resources


def read_text(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
