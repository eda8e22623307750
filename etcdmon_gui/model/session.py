"""What the last session had open, as data: the clusters to reopen at the next start.

An entry is a saved profile (by its id, with the name it had for the list) or plain
endpoints with the title the window gave them. Nothing else is kept: never a secret, a
user name or TLS material; a profile's own settings stay in the profiles file, and plain
endpoints reopen without credentials. Pure: ``store.session`` reads and writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


def _without_userinfo(endpoint: str) -> str:
    """``https://user:pw@host:2379`` -> ``https://host:2379``; anything else as it is."""
    if "@" not in endpoint:
        return endpoint
    parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
    host = parts.netloc.rpartition("@")[2]
    cleaned = urlunsplit(parts._replace(netloc=host))
    return cleaned if "://" in endpoint else cleaned.removeprefix("//")


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """One cluster that was open. ``profile_id`` set: a saved profile, ``title`` its name
    then; otherwise ``endpoints`` (at least one) under ``title``."""

    title: str
    profile_id: str | None = None
    endpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a session entry needs a title")
        if (self.profile_id is None) == (not self.endpoints):
            raise ValueError("a session entry is a profile id or endpoints, one of the two")
        if self.profile_id is not None and not self.profile_id.strip():
            raise ValueError("a profile id cannot be empty")
        if any("@" in e for e in self.endpoints):
            raise ValueError("endpoints of a session entry carry no user name")

    @classmethod
    def for_profile(cls, profile_id: str, name: str) -> SessionEntry:
        return cls(title=name, profile_id=profile_id)

    @classmethod
    def for_endpoints(cls, endpoints: Iterable[str], title: str) -> SessionEntry:
        """Plain endpoints; a user name written into a URL is dropped."""
        return cls(title=title, endpoints=tuple(_without_userinfo(e) for e in endpoints))

    @property
    def is_profile(self) -> bool:
        return self.profile_id is not None

    def describe(self) -> str:
        """One line for a list: the profile's name, or the title and its endpoints."""
        if self.is_profile:
            return f"{self.title} (profile)"
        shown = ", ".join(self.endpoints)
        return shown if shown == self.title else f"{self.title} — {shown}"


@dataclass(frozen=True, slots=True)
class LastSession:
    """The clusters open when the app last closed, in the window's order; ``saved_at``
    is a Unix time (None: never saved)."""

    entries: tuple[SessionEntry, ...] = ()
    saved_at: float | None = None

    @property
    def empty(self) -> bool:
        return not self.entries
