"""Guards a person must pass before load goes to a cluster that matters: the typed
confirmation a production profile needs. It lives in ``model.safety``, which maintenance
(``ops``) shares; this module keeps the benchmark's names for it."""

from __future__ import annotations

from etcdmon_gui.model.safety import (
    PRODUCTION_TAG,
    ConfirmationRequiredError,
    needs_confirmation,
    require_confirmation,
)

__all__ = [
    "PRODUCTION_TAG",
    "ConfirmationRequiredError",
    "needs_confirmation",
    "require_confirmation",
]
