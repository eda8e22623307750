"""The application settings file (``settings.yaml`` in the user's config folder).

Loading never fails and never touches the file: a missing file gives the defaults; a
file that cannot be read, is not valid YAML, or holds values ``AppSettings`` refuses
gives the settings that could be read (each refused value at its default) and a
problem text naming the file, the line and the field, and what to do.

Saving is atomic (``files.atomic_write``). When the file on disk does not load cleanly
a save first copies it to ``settings.yaml.bad-<UTC time>`` and says so: whatever the
user wrote stays somewhere to be read again.

Unknown keys (a setting misspelt, or one from a newer etcdmon-gui) and a newer
``schema_version`` are handled the same way: what this version understands is used,
the rest is reported, and the next save keeps the whole file as a ``.bad-`` copy
rather than dropping those keys silently or refusing to save (the user asked for the
save in the dialog; refusing would leave them no way forward short of editing the
file).

The team history's password (``AppSettings.team_history``) is never in the file: it is a
secret of the owner ``team-history`` in the shared ``SecretStore`` (``TeamHistorySecrets``),
written after the file, deleted when the team history is turned off, and moved with the
profiles' and channels' secrets by "Move secrets…".
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from etcdmon_gui.model.app_settings import (
    SCHEMA_VERSION,
    AppSettings,
    SettingsProblem,
    settings_problems,
)
from etcdmon_gui.model.postgres import PgSettings
from etcdmon_gui.store.files import atomic_write, config_dir
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.store.settings import SettingsError, SettingsStore
from etcdmon_gui.store.yaml_nodes import compose_and_load

log = logging.getLogger(__name__)

FILE_NAME = "settings.yaml"
#: A settings file is a few hundred bytes; anything this large is not one.
MAX_FILE_BYTES = 256 * 1024
HEADER = (
    "# etcdmon-gui settings, written by the app (Settings… in the File menu).\n"
    "# Edit while the app is closed; a value it refuses is reported at the next start.\n"
)


def default_path() -> Path:
    return config_dir() / FILE_NAME


class AppSettingsError(Exception):
    """The settings could not be saved; the message says why and what to do."""


class AppSettingsStore:
    """Reads and writes one settings file. Not thread-safe: one thread uses it (the
    settings worker's; a load at start-up happens before that thread starts)."""

    def __init__(self, path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.path = default_path() if path is None else path
        self.clock = clock

    # -- loading ---------------------------------------------------------------------

    def load(self) -> tuple[AppSettings, str | None]:
        """The settings, and None or what is wrong with the file (then the settings
        hold the defaults for what could not be used)."""
        settings, problems = self._read()
        if not problems:
            return settings, None
        return settings, self._explain(problems)

    def _read(self) -> tuple[AppSettings, list[str]]:
        """The settings and each problem as ``"<file>[, line N]: <reason>"``."""
        where = str(self.path)
        try:
            size = self.path.stat().st_size
            if size > MAX_FILE_BYTES:
                return AppSettings(), [
                    f"{where}: {size} bytes is far too large for a settings file (at most "
                    f"{MAX_FILE_BYTES // 1024} KiB); is it the right file?"
                ]
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return AppSettings(), []
        except OSError as exc:
            return AppSettings(), [f"{where}: cannot be read ({exc.strerror or exc})"]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            return AppSettings(), [f"{where}, line {line}: not UTF-8 text"]
        try:
            root, data = compose_and_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            reason = getattr(exc, "problem", None) or str(exc)
            at = f", line {mark.line + 1}" if mark is not None else ""
            return AppSettings(), [f"{where}{at}: not valid YAML ({reason})"]
        if data is None:  # an empty file: nothing chosen yet
            return AppSettings(), []
        if not isinstance(data, dict):
            return AppSettings(), [
                f"{where}, line 1: expected a mapping of settings (interval_s: 5, theme: dark, ...)"
            ]

        found: list[tuple[int, str]] = []

        def report(key: str | None, message: str) -> None:
            line = _key_line(root, key) if key is not None else None
            found.append((line or 0, f"{where}{f', line {line}' if line else ''}: {message}"))

        values = {str(k): v for k, v in data.items()}
        version = values.pop("schema_version", SCHEMA_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            report("schema_version", f"schema_version {version!r} is not a format version")
        elif version > SCHEMA_VERSION:
            report(
                "schema_version",
                f"written by a newer etcdmon-gui (format {version}; this one reads "
                f"{SCHEMA_VERSION}): the settings this version knows were read",
            )
        settings = _validate(values, report)
        return settings, [text for _, text in sorted(found, key=lambda x: x[0])]

    def _explain(self, problems: list[str]) -> str:
        kept = f"{self.path.name}.bad-<time>"
        return "\n".join(
            [
                *problems,
                "Those settings are at their defaults for now. Fix the file while "
                "etcdmon-gui is closed, or save the settings from the Settings dialog: "
                f"the file is then kept beside the new one as {kept}.",
            ]
        )

    # -- saving ----------------------------------------------------------------------

    def save(self, settings: AppSettings) -> str | None:
        """Write ``settings`` atomically. When the file there did not load cleanly it
        is first copied beside it as ``<name>.bad-<UTC time>``; returns a sentence
        saying so (None when nothing was kept). Raises ``AppSettingsError``."""
        note = None
        _, problems = self._read()
        if problems and self.path.is_file():
            kept = self._keep_bad_copy()
            note = (
                f"The old settings file did not load cleanly; it was kept as {kept} "
                "and a new one written."
            )
            log.warning("%s", note)
        try:
            atomic_write(self.path, dump(settings))
        except OSError as exc:
            raise AppSettingsError(self._cannot_write(exc)) from None
        return note

    def _keep_bad_copy(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        try:
            data = self.path.read_bytes()
            for n in range(100):
                kept = self.path.with_name(f"{self.path.name}.bad-{stamp}" + (f"-{n}" if n else ""))
                try:
                    with open(kept, "xb") as fh:  # never over an earlier copy
                        fh.write(data)
                        fh.flush()
                        os.fsync(fh.fileno())
                except FileExistsError:
                    continue
                return kept
        except OSError as exc:
            raise AppSettingsError(
                f"the settings were not saved: {self.path} did not load cleanly and could "
                f"not be kept as a copy first ({exc.strerror or exc}); move it away or "
                "make its folder writable, then save again"
            ) from None
        raise AppSettingsError(f"the settings were not saved: too many copies of {self.path}")

    def _cannot_write(self, exc: OSError) -> str:
        reason = exc.strerror or str(exc)
        folder = self.path.parent
        return (
            f"the settings were not saved: cannot write {self.path} ({reason}). Check that "
            f"{folder} is a folder you can write to (and the disk is not full); the "
            "settings in use stay as they are until etcdmon-gui exits"
        )


#: Where the team history's password is kept in the ``SecretStore``: ``team-history/password``.
TEAM_HISTORY_OWNER = "team-history"
TEAM_HISTORY_PASSWORD = "password"


@dataclass(frozen=True, slots=True)
class TeamHistoryItem:
    """The team history as an owner of secrets (what a move of the secrets copies)."""

    settings: PgSettings
    id: str = TEAM_HISTORY_OWNER
    name: str = "team history"


class TeamHistorySecrets(SettingsStore[TeamHistoryItem, AppSettings]):
    """The team history's password in the shared ``SecretStore``, beside the settings
    file that names the database (``file``).

    The password is optional (libpq may find one in ``~/.pgpass``, or the server may
    not ask): a blank one in the dialog keeps what is stored. The item is saved with the
    application settings (``keep`` after the file was written), so the store's own
    ``save`` and ``delete`` refuse; ``owners`` (for "Move secrets…") lists the team
    history while the settings file names one. Safe from any thread: the file is only
    read here (a new reader each time) and ``SecretStore`` has its own lock.
    """

    noun = "team history"
    plural = "team history settings"

    def __init__(self, secrets: SecretStore, file: AppSettingsStore) -> None:
        super().__init__(secrets)
        self.path = file.path

    # -- SettingsStore ----------------------------------------------------------------

    def load(self) -> AppSettings:
        return AppSettingsStore(self.path).load()[0]

    def items(self, listing: AppSettings) -> Sequence[TeamHistoryItem]:
        team = listing.team_history
        return [] if team is None else [TeamHistoryItem(team)]

    def _write(self, old_key: str | None, item: TeamHistoryItem) -> None:
        raise SettingsError("the team history is saved with the application settings")

    def _remove(self, key: str) -> TeamHistoryItem:
        raise SettingsError("the team history is saved with the application settings")

    def owned_secrets(self, item: TeamHistoryItem) -> tuple[str, ...]:
        return (TEAM_HISTORY_PASSWORD,)

    def needed_secrets(self, item: TeamHistoryItem) -> tuple[str, ...]:
        return ()  # optional: ~/.pgpass, PGPASSWORD or a server that asks none

    def missing_secret(self, item: TeamHistoryItem, field: str) -> str:
        return f"no {field} is stored for the team history"

    # -- what the app asks ------------------------------------------------------------

    def password(self) -> str | None:
        """The stored password, if any; ``SecretStoreError`` when it cannot be read."""
        return self.secrets.get(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD)

    def stored(self) -> bool:
        """Whether a password is stored (``SecretStoreError`` when that cannot be told)."""
        return self.password() is not None

    def keep(self, settings: AppSettings, password: str | None) -> None:
        """After ``settings`` were written: store a new ``password`` (None or "": keep the
        stored one), or delete the stored one when no team history is set."""
        if settings.team_history is None:
            self.secrets.delete(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD)
        elif password:
            self.secrets.set(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD, password)


def dump(settings: AppSettings) -> str:
    """The file's text: every setting (so each can be found and edited), the format
    version first."""
    body = settings.model_dump(mode="json")
    text: str = yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    return HEADER + text


def _validate(values: dict[str, Any], report: Callable[[str | None, str], None]) -> AppSettings:
    """The settings from ``values``, each refused value left at its default (reported)."""
    values = dict(values)
    for _ in range(len(values) + 1):
        try:
            return AppSettings.model_validate(values)
        except ValidationError as exc:
            found: list[SettingsProblem] = settings_problems(exc)
        dropped = False
        for problem in found:
            # The value refused, or (when it is a default) the one it was compared with.
            blamed = next((n for n in (problem.field, *problem.related) if n in values), None)
            # A part of a setting (team_history.host) is pointed at where it is.
            part = next((r for r in problem.related if r.startswith(f"{blamed}.")), None)
            report(part or blamed or problem.field, problem.message)
            if blamed is not None:
                del values[blamed]
                dropped = True
        if not dropped:  # nothing left to blame: use no value of the file
            break
    return AppSettings()


def _key_line(root: yaml.Node | None, key: str) -> int | None:
    """The 1-based line of ``key``'s value (or the key), if it is there; ``a.b`` is the
    key ``b`` of the mapping under ``a`` (or, when that is missing, ``a``)."""
    if not isinstance(root, yaml.MappingNode):
        return None
    head, _, rest = key.partition(".")
    for k, v in root.value:
        if getattr(k, "value", None) == head:
            if rest and (inner := _key_line(v, rest)) is not None:
                return inner
            node = v if v.start_mark.line == k.start_mark.line else k
            return int(node.start_mark.line) + 1
    return None
