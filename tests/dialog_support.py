"""Answering the questions the profile and channel dialogs ask about secrets, the way a
person would: through the real (window-modal, non-blocking) boxes they open."""

from __future__ import annotations

from etcdmon_gui.ui.form_dialog import ServiceDialog

KEEP_FOR_SESSION = "Save for this session only"


def keep_for_session(dialog: ServiceDialog) -> bool:
    """Answer "Save for this session only" if the dialog asks (secrets in memory);
    False if it did not ask."""
    box = dialog.session_only_box
    if box is None:
        return False
    assert box.isVisible()
    [keep] = [b for b in box.buttons() if b.text() == KEEP_FOR_SESSION]
    keep.click()
    return True
