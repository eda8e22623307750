"""Files shipped with the application, read through ``importlib.resources`` only.

This is the one place that knows where resources live, frozen (PyInstaller) or not,
and whether the program runs from a frozen bundle at all.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

#: The app icon's file stem: ``icons/etcdmon-gui.svg`` and ``icons/etcdmon-gui-<N>.png``.
ICON_NAME = "etcdmon-gui"
#: The sizes of the icon's PNGs (packaging/make_icons.py renders them from the SVG).
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

# Resources extracted to real files (only when the package is not on disk, e.g. in a
# zip), removed at exit.
_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def read_text(name: str) -> str:
    return _resource(name).read_text(encoding="utf-8")


def read_bytes(name: str) -> bytes:
    return _resource(name).read_bytes()


def path(name: str) -> Path:
    """A real file holding the resource ``name`` (e.g. ``icons/etcdmon-gui.svg``), for
    APIs that want a file name (Qt's). Installed by pip or frozen by PyInstaller (whose
    one-folder bundle keeps the resources as files), it is the resource itself."""
    found = _resource(name)
    if isinstance(found, Path):
        return found
    return _extracted.enter_context(resources.as_file(found))


def icon_name(size: int | None) -> str:
    """The resource name of the app icon: the PNG of ``size`` px, the SVG for None."""
    if size is None:
        return f"icons/{ICON_NAME}.svg"
    if size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon; sizes: {ICON_SIZES}")
    return f"icons/{ICON_NAME}-{size}.png"


def icon_files() -> dict[int | None, Path]:
    """Every file of the app icon: size in px -> PNG, and None -> the scalable SVG."""
    return {size: path(icon_name(size)) for size in (*ICON_SIZES, None)}


def frozen() -> bool:
    """Whether this is the PyInstaller bundle rather than a pip install."""
    return bool(getattr(sys, "frozen", False))


def _resource(name: str) -> Traversable:
    found = resources.files(__name__)
    for part in name.split("/"):
        found = found.joinpath(part)
    return found
