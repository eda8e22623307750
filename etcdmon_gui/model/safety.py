"""The guard a person must pass before anything goes to a cluster that matters: a profile
tagged production needs its name typed (``--confirm NAME`` on the command line, a typed
name in the dialogs). Shared by the benchmark (``bench``) and maintenance (``ops``),
which must not know each other. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from etcdmon_gui.model.errors import EtcdError

PRODUCTION_TAG = "production"

#: What a benchmark does to a cluster, for the refusal's sentence.
BENCHMARK_RISK = "a benchmark writes load to it and may slow it down for its users"


class ConfirmationRequiredError(EtcdError):
    """A production cluster and no (or the wrong) typed confirmation."""


def needs_confirmation(tags: Sequence[str]) -> bool:
    return PRODUCTION_TAG in tags


def require_confirmation(
    profile_name: str, tags: Sequence[str], typed: str | None, *, risk: str = BENCHMARK_RISK
) -> None:
    """Pass only if the profile is not tagged production, or ``typed`` is its exact name.
    ``risk`` says, after "tagged production: ", what the refused action would do to it
    ("a benchmark writes load to it ...", "maintenance changes it: ...")."""
    if not needs_confirmation(tags) or typed == profile_name:
        return
    wrong = f" ({typed!r} is not its name)" if typed else ""
    raise ConfirmationRequiredError(
        f"profile {profile_name!r} is tagged production: {risk}{wrong}. To go ahead "
        f"anyway, type the profile's name: --confirm {profile_name!r}"
    )
