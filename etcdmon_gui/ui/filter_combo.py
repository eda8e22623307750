"""A filter's combo box: "All …" first, then the values seen so far, sorted by what
they read as; the chosen value stays offered even when the data no longer has it.

The alert table and the alert History tab filter by cluster (and the History tab by
rule) this way."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QComboBox

__all__ = ["filter_combo", "set_choices"]


def filter_combo(name: str, everything: str) -> QComboBox:
    """A combo box named ``name`` whose first item, ``everything``, filters nothing
    (its data is ``None``)."""
    combo = QComboBox()
    combo.setObjectName(name)
    combo.addItem(everything, None)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    return combo


def set_choices(combo: QComboBox, names: Mapping[str, str]) -> None:
    """Offer exactly ``names`` (value -> text) after the first item, sorted by text; keep
    the chosen value (and its text) when it is not among them. A text two values share
    reads ``text (value)``. Emits no signal: the choice does not change."""
    offered: dict[str, str] = dict(names)
    chosen = combo.currentData()
    if chosen is not None and chosen not in offered:
        offered[chosen] = combo.currentText()
    current = [combo.itemData(i) for i in range(1, combo.count())]
    wanted = sorted(offered, key=lambda k: (offered[k].casefold(), k))
    if current == wanted:
        return
    texts = list(offered.values())
    duplicate = {t for t in texts if texts.count(t) > 1}
    combo.blockSignals(True)
    try:
        while combo.count() > 1:
            combo.removeItem(1)
        for key in wanted:
            text = offered[key]
            combo.addItem(f"{text} ({key})" if text in duplicate else text, key)
        index = combo.findData(chosen) if chosen is not None else 0
        combo.setCurrentIndex(max(0, index))
    finally:
        combo.blockSignals(False)
