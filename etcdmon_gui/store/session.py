"""The last session on disk: ``last-session.yaml`` in the user data folder.

It is a convenience, not a setting: a file missing, unreadable or malformed means "no
last session" (logged, never raised), and an entry that makes no sense is left out
while the others still reopen. Written atomically, so a crash while saving leaves the
previous file. It holds profile ids and names, plain endpoints and titles, never a
secret (see ``model.session``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import yaml

from etcdmon_gui.model.session import LastSession, SessionEntry
from etcdmon_gui.store.files import atomic_write, data_dir

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FILE_NAME = "last-session.yaml"


def _entry(item: Any) -> SessionEntry:
    """One entry of the file; ``ValueError`` saying what is wrong with it."""
    if not isinstance(item, dict):
        raise ValueError("not a mapping")
    title = item.get("title")
    if not isinstance(title, str):
        raise ValueError("no title")
    profile_id = item.get("profile_id")
    if profile_id is not None:
        if not isinstance(profile_id, str):
            raise ValueError("profile_id is not text")
        return SessionEntry.for_profile(profile_id, title)
    endpoints = item.get("endpoints")
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        raise ValueError("neither a profile_id nor a list of endpoints")
    return SessionEntry.for_endpoints(endpoints, title)


def _dump_entry(entry: SessionEntry) -> dict[str, Any]:
    if entry.profile_id is not None:
        return {"profile_id": entry.profile_id, "title": entry.title}
    return {"endpoints": list(entry.endpoints), "title": entry.title}


class SessionStore:
    """``load()`` never raises; ``save()`` raises ``OSError`` when the file cannot be
    written (the caller logs it: losing the last session is not worth a dialog)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / FILE_NAME

    def load(self) -> LastSession:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return LastSession()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("%s: cannot read the last session: %s", self.path, exc)
            return LastSession()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            log.warning("%s: not valid YAML; no last session to reopen", self.path)
            return LastSession()
        if data is None:
            return LastSession()
        if (
            not isinstance(data, dict)
            or data.get("schema_version") != SCHEMA_VERSION
            or not isinstance(data.get("clusters", []), list)
        ):
            log.warning(
                "%s: expected schema_version %d and a clusters list; no last session to reopen",
                self.path,
                SCHEMA_VERSION,
            )
            return LastSession()
        entries: list[SessionEntry] = []
        for index, item in enumerate(data.get("clusters") or []):
            try:
                entries.append(_entry(item))
            except ValueError as exc:
                log.warning("%s: cluster %d left out: %s", self.path, index + 1, exc)
        saved_at = data.get("saved_at")
        when: float | None = None
        if isinstance(saved_at, int | float) and not isinstance(saved_at, bool):
            when = float(saved_at) if math.isfinite(saved_at) else None
        return LastSession(tuple(entries), when)

    def save(self, session: LastSession) -> None:
        data: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        if session.saved_at is not None:
            data["saved_at"] = session.saved_at
        data["clusters"] = [_dump_entry(e) for e in session.entries]
        header = "# etcdmon-gui: the clusters open when the app last closed (no secrets)\n"
        atomic_write(self.path, header + yaml.safe_dump(data, sort_keys=False))
