"""The application's theme: the platform's own look, or Fusion in light or dark.

``apply_theme`` remembers, on its first call, the style and palette the platform gave
the application, so "system" can go back to them at any time. Light and dark use the
Fusion style (it draws every widget from the palette, so both read the same on every
platform) with the palettes below. Widgets follow through Qt's palette change events;
the charts restyle themselves on ``ApplicationPaletteChange`` (``ChartsWidget``). The
colours that carry meaning (``ui.palette``) do not change: they read on both.
"""

from __future__ import annotations

import logging

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyle, QStyleFactory

log = logging.getLogger(__name__)


_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup


class _Platform:
    """What the platform gave at start: its style's name and its palette."""

    style: str | None = None
    palette: QPalette | None = None


_platform = _Platform()


def _palette(
    colours: dict[QPalette.ColorRole, str], disabled: dict[QPalette.ColorRole, str]
) -> QPalette:
    palette = QPalette()
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role, colour in disabled.items():
        palette.setColor(_Group.Disabled, role, QColor(colour))
    return palette


def light_palette() -> QPalette:
    return _palette(
        {
            _Role.Window: "#efefef",
            _Role.WindowText: "#1e1e1e",
            _Role.Base: "#ffffff",
            _Role.AlternateBase: "#f5f5f5",
            _Role.ToolTipBase: "#ffffdc",
            _Role.ToolTipText: "#1e1e1e",
            _Role.PlaceholderText: "#7a7a7a",
            _Role.Text: "#1e1e1e",
            _Role.Button: "#efefef",
            _Role.ButtonText: "#1e1e1e",
            _Role.BrightText: "#ffffff",
            _Role.Light: "#ffffff",
            _Role.Midlight: "#cacaca",
            _Role.Mid: "#b8b8b8",
            _Role.Dark: "#9f9f9f",
            _Role.Shadow: "#767676",
            _Role.Highlight: "#3b7dd8",
            _Role.HighlightedText: "#ffffff",
            _Role.Link: "#1f5fbf",
            _Role.LinkVisited: "#6b3fb0",
        },
        {
            _Role.WindowText: "#9a9a9a",
            _Role.Text: "#9a9a9a",
            _Role.ButtonText: "#9a9a9a",
            _Role.Highlight: "#b5b5b5",
        },
    )


def dark_palette() -> QPalette:
    return _palette(
        {
            _Role.Window: "#2b2b2b",
            _Role.WindowText: "#e6e6e6",
            _Role.Base: "#1e1e1e",
            _Role.AlternateBase: "#262626",
            _Role.ToolTipBase: "#3a3a3a",
            _Role.ToolTipText: "#e6e6e6",
            _Role.PlaceholderText: "#8c8c8c",
            _Role.Text: "#e6e6e6",
            _Role.Button: "#353535",
            _Role.ButtonText: "#e6e6e6",
            _Role.BrightText: "#ffffff",
            _Role.Light: "#4a4a4a",
            _Role.Midlight: "#3e3e3e",
            _Role.Mid: "#2f2f2f",
            _Role.Dark: "#1a1a1a",
            _Role.Shadow: "#0d0d0d",
            _Role.Highlight: "#3b7dd8",
            _Role.HighlightedText: "#ffffff",
            _Role.Link: "#6ea8ff",
            _Role.LinkVisited: "#b592ff",
        },
        {
            _Role.WindowText: "#7a7a7a",
            _Role.Text: "#7a7a7a",
            _Role.ButtonText: "#7a7a7a",
            _Role.Highlight: "#505050",
        },
    )


def remember_platform(qapp: QApplication) -> None:
    """Keep the style and palette the platform gave (once; later calls do nothing).
    ``apply_theme`` calls it; call it earlier if something else restyles first."""
    if _platform.palette is None:
        style: QStyle | None = qapp.style()
        _platform.style = style.name() if style is not None else None
        _platform.palette = QPalette(qapp.palette())


def apply_theme(qapp: QApplication, theme: str) -> None:
    """Switch the whole application to ``theme`` ("system", "light" or "dark"), at
    start or while it runs; an unknown name is treated as "system"."""
    remember_platform(qapp)
    if theme in ("light", "dark"):
        fusion = QStyleFactory.create("Fusion")
        if fusion is not None:
            qapp.setStyle(fusion)
        qapp.setPalette(dark_palette() if theme == "dark" else light_palette())
    else:
        if theme != "system":
            log.warning("unknown theme %r: using the system's", theme)
        if _platform.style:
            style = QStyleFactory.create(_platform.style)
            if style is not None:
                qapp.setStyle(style)
        if _platform.palette is not None:
            qapp.setPalette(_platform.palette)
    log.debug("theme %s applied", theme)


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` draws light text on a dark window."""
    return palette.color(_Role.Window).lightness() < palette.color(_Role.WindowText).lightness()
