"""The application's icon, every size of it, for the windows, the tray and the
taskbar."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon

from etcdmon_gui import resources


def app_icon() -> QIcon:
    """The app icon from its PNGs, each added at its own size so that Qt picks the one
    drawn for a size (16 to 512 px) and scales the nearest for any other. The SVG is
    left out: a pixmap icon engine would only rasterise it once more, and Qt's SVG icon
    engine plugin may be missing."""
    icon = QIcon()
    for size, file in resources.icon_files().items():
        if size is not None:
            icon.addFile(str(file), QSize(size, size))
    return icon
