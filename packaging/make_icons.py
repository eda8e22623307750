"""Render the app icon's PNGs from its SVG: ``etcdmon-gui-<N>.png`` for every size in
``etcdmon_gui.resources.ICON_SIZES``, next to ``etcdmon-gui.svg``.

The PNGs are committed (the desktop entry, the window icon and PyInstaller's .ico/.icns
use them, and a renderer is not needed at run time); run this after editing the SVG:

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/make_icons.py

Uses QtSvg's QSvgRenderer (PySide6-Essentials), so no other image tool is needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etcdmon_gui.resources import ICON_NAME, ICON_SIZES  # noqa: E402

ICONS = ROOT / "etcdmon_gui" / "resources" / "icons"


def render(renderer: QSvgRenderer, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    svg = ICONS / f"{ICON_NAME}.svg"
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        print(f"make_icons: {svg} is not a valid SVG", file=sys.stderr)  # noqa: T201
        return 1
    for size in ICON_SIZES:
        target = ICONS / f"{ICON_NAME}-{size}.png"
        if not render(renderer, size).save(str(target), "PNG"):
            print(f"make_icons: cannot write {target}", file=sys.stderr)  # noqa: T201
            return 1
        print(target.relative_to(ROOT))  # noqa: T201
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
