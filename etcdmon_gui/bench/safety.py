"""Guards a person must pass before load goes to a cluster that matters."""

from __future__ import annotations

from collections.abc import Sequence

from etcdmon_gui.bench.control import BenchError

PRODUCTION_TAG = "production"


class ConfirmationRequiredError(BenchError):
    """A production cluster and no (or the wrong) typed confirmation."""


def needs_confirmation(tags: Sequence[str]) -> bool:
    return PRODUCTION_TAG in tags


def require_confirmation(profile_name: str, tags: Sequence[str], typed: str | None) -> None:
    """Pass only if the profile is not tagged production, or ``typed`` is its exact name."""
    if not needs_confirmation(tags) or typed == profile_name:
        return
    wrong = f" ({typed!r} is not its name)" if typed else ""
    raise ConfirmationRequiredError(
        f"profile {profile_name!r} is tagged production: a benchmark writes load to it and "
        f"may slow it down for its users{wrong}. To go ahead anyway, type the profile's "
        f"name: --confirm {profile_name!r}"
    )
