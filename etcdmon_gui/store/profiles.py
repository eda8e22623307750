"""Connection profiles: validated, versioned YAML in the user's config directory.

A profile names a cluster and says how to reach it; it never holds a secret (those are
in ``store.secrets``, keyed by the profile's id). The file carries a
``schema_version``; older files are migrated in memory, newer ones are refused.

Loading is forgiving and precise: each profile is validated on its own, so one bad
entry does not hide the others, and every problem names the file, the profile, the
field and the line. Saving is strict: a file that did not load cleanly is never
overwritten, and writes are atomic (temporary file, fsync, ``os.replace``).

Older versions kept ``etcdmon profile add --user root:pw``'s password in the file, as
the user name. Loading splits such a name; ``ProfileStore.load`` then moves the password
into the secret store and rewrites the file with the plain user name (a warning names
the profile, never the password). When no store that outlives the session is at hand,
or the file has other problems, nothing is moved or rewritten: that profile is reported
as a problem saying how to fix it, and the file stays as it is.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from etcdmon_gui.formatting import fmt_bytes
from etcdmon_gui.model.connection import (
    ConnectionConfig,
    TLSConfig,
    parse_endpoints,
)
from etcdmon_gui.model.profile import (
    ImportResult,
    LoadResult,
    Profile,
    ProfileProblem,
    describe_error,
)
from etcdmon_gui.model.secrets import SecretEdits
from etcdmon_gui.store.files import atomic_write, config_dir, read_file
from etcdmon_gui.store.secrets import PROFILE_FIELDS, SecretStore, SecretStoreError
from etcdmon_gui.store.settings import ImportClash, ImportRefused, SettingsError, SettingsStore
from etcdmon_gui.store.yaml_nodes import compose_and_load

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: The largest profiles file (or import) that is read. A profile takes 100 to 500 bytes,
#: so this is thousands of profiles; a larger file is not one (a log, a dump, a mistake)
#: and would take many seconds and hundreds of MB to parse.
MAX_FILE_BYTES = 1024 * 1024


def default_path() -> Path:
    """``$ETCDMON_PROFILES``, else profiles.yaml in the user config dir."""
    chosen = os.environ.get("ETCDMON_PROFILES")
    return Path(chosen) if chosen else config_dir() / "profiles.yaml"


def user_rules_path() -> Path:
    """Where the user changes alert rules (read if it exists)."""
    return config_dir() / "rules.yaml"


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int
    profiles: list[dict[str, Any]] = Field(default_factory=list)


# -- migrations: version N -> N + 1, applied in order on the raw mapping --------------


def _v0_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (pre-release) wrote ``user`` and a comma-separated ``endpoints``."""
    for p in doc.get("profiles") or []:
        if isinstance(p, dict):
            if "user" in p and "username" not in p:
                p["username"] = p.pop("user")
            if isinstance(p.get("endpoints"), str):
                p["endpoints"] = [e.strip() for e in p["endpoints"].split(",") if e.strip()]
    return doc


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}


# -- errors ---------------------------------------------------------------------------


class ProfileStoreError(SettingsError):
    pass


def _node_line(node: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """1-based line of the YAML node at ``path`` (keys and indexes), or of its parent."""
    line = None if node is None else node.start_mark.line + 1
    for step in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
            if child is None:  # an unknown key: point at the key itself
                child = next((k for k, _ in node.value if getattr(k, "value", None) == step), None)
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(step, int)
            and (step < len(node.value))
        ):
            child = node.value[step]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


@dataclass(frozen=True, slots=True)
class _StrayPassword:
    """A password found in a profiles file, after the ':' of a user name."""

    profile_id: str
    profile: str  # its name
    line: int | None
    password: str = dataclasses.field(repr=False)


def _split_user(raw: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``raw`` with a ``user:password`` user name split, and the password (or None)."""
    user = raw.get("username")
    if not isinstance(user, str) or ":" not in user:
        return raw, None
    name, _, password = user.partition(":")
    return {**raw, "username": name or None}, password


def too_large(size: int) -> str:
    """Why a file of ``size`` bytes is not read as profiles, and what to do instead."""
    return (
        f"too large for a profiles file ({fmt_bytes(size)}; at most "
        f"{fmt_bytes(MAX_FILE_BYTES)}, thousands of profiles): is it the right file? "
        "Point --profiles-file or ETCDMON_PROFILES at the profiles file, or split it"
    )


def parse_document(text: str, source: str) -> LoadResult:
    """Validate a profiles document (a file's or an import's text). A password found in
    a user name is left out, with a notice saying so."""
    result, strays = _parse(text, source)
    for stray in strays:
        result.notices.append(
            f"profile {stray.profile!r}: {source} holds its password in clear text (after "
            "the ':' of its user name); it was left out: set it with `etcdmon profile "
            f"edit {stray.profile} --password-stdin`, and delete the password from {source}"
        )
    return result


def _parse(text: str, source: str) -> tuple[LoadResult, list[_StrayPassword]]:
    """The document's profiles and problems, and the passwords found in user names (their
    profiles are among the profiles, with the plain user name)."""
    result = LoadResult()
    strays: list[_StrayPassword] = []
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        result.problems.append(ProfileProblem(source, too_large(size)))
        return result, strays
    try:
        root, data = compose_and_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        result.problems.append(
            ProfileProblem(
                source, f"not valid YAML: {reason}", line=mark.line + 1 if mark else None
            )
        )
        return result, strays
    if data is None:
        return result, strays
    if not isinstance(data, dict):
        result.problems.append(
            ProfileProblem(source, "expected a mapping with schema_version and profiles", line=1)
        )
        return result, strays
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        result.problems.append(
            ProfileProblem(
                source,
                f"schema_version must be a whole number, not {version!r}",
                line=_node_line(root, ["schema_version"]),
                field="schema_version",
            )
        )
        return result, strays
    if version > SCHEMA_VERSION:
        result.problems.append(
            ProfileProblem(
                source,
                f"written by a newer etcdmon-gui (schema_version {version}; this version "
                f"reads up to {SCHEMA_VERSION}): upgrade etcdmon-gui to use it",
                line=_node_line(root, ["schema_version"]),
                field="schema_version",
            )
        )
        return result, strays
    while version < SCHEMA_VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            result.problems.append(
                ProfileProblem(
                    source,
                    f"schema_version {version} is too old to migrate",
                    field="schema_version",
                )
            )
            return result, strays
        data = migrate(data)
        version += 1
        data["schema_version"] = version
    try:
        document = _Document.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            result.problems.append(
                ProfileProblem(
                    source,
                    err["msg"],
                    line=_node_line(root, [str(x) for x in err["loc"]]),
                    field=".".join(str(x) for x in err["loc"]),
                )
            )
        return result, strays
    names: set[str] = set()
    for index, raw in enumerate(document.profiles):
        label = raw.get("name") if isinstance(raw.get("name"), str) else f"#{index + 1}"
        raw, password = _split_user(raw)
        try:
            profile = Profile.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = list(err["loc"])
                result.problems.append(
                    ProfileProblem(
                        source,
                        describe_error(err),
                        line=_node_line(root, ["profiles", index, *loc]),
                        profile=label,
                        field=".".join(str(x) for x in loc) or None,
                    )
                )
            continue
        if profile.name in names:
            result.problems.append(
                ProfileProblem(
                    source,
                    "another profile already has this name",
                    line=_node_line(root, ["profiles", index, "name"]),
                    profile=label,
                    field="name",
                )
            )
            continue
        names.add(profile.name)
        result.profiles.append(profile)
        if password is not None:
            line = _node_line(root, ["profiles", index, "username"])
            strays.append(_StrayPassword(profile.id, profile.name, line, password))
    return result, strays


def dump_document(profiles: Iterable[Profile], header: str = "") -> str:
    body = {
        "schema_version": SCHEMA_VERSION,
        "profiles": [
            {"id": p.id, "name": p.name, **p.model_dump(mode="json", exclude_defaults=True)}
            for p in profiles
        ],
    }
    text: str = yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    return header + text


#: A secret store, or how to open one when it is needed (it may ask for a master
#: password, so it is opened only when a password is to be moved).
SecretSource = SecretStore | Callable[[], SecretStore]


def _store_for_passwords(
    result: LoadResult, source: SecretSource | None
) -> tuple[SecretStore | None, str]:
    """The store to move passwords found in a file into, or None and why there is none."""
    if not result.clean:
        return None, "the file has other problems; fix them first"
    if source is None:
        return None, "no secret store is open"
    try:
        store = source if isinstance(source, SecretStore) else source()
    except SecretStoreError as exc:
        return None, str(exc).rstrip(".")
    if not store.info.persistent:
        return None, f"{store.info.name} would forget it when etcdmon exits"
    return store, ""


def read_import(path: Path) -> str:
    """The text of a file of profiles to import, read whole; ``ImportRefused`` when it
    cannot be read, is too large to be one, or is not UTF-8 text."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # no more: it may be huge, or endless
            size = max(len(data), os.fstat(f.fileno()).st_size)
    except OSError as exc:
        raise ImportRefused(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused(f"nothing imported: {path}: {too_large(size)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"nothing imported: {path} is not UTF-8 text (byte {exc.start}): is it an "
            "export of etcdmon profiles?"
        ) from None


def write_export(path: Path, profiles: Sequence[Profile]) -> None:
    """``export_profiles(profiles)`` written to ``path`` whole (a temporary file renamed
    over it: an older file stays as it was until then); readable by others, as it holds
    no secret. ``ProfileStoreError`` says why it could not be written."""
    try:
        atomic_write(path, export_profiles(profiles), mode=0o644)
    except OSError as exc:
        raise ProfileStoreError(f"cannot write {path}: {exc.strerror}") from None


class ProfileStore:
    """The user's profiles file. Every change is load, check, modify, atomic save.

    ``secrets`` is where a password found in the file is moved to (see the module
    docstring); without one, such a profile is reported as a problem instead.
    """

    def __init__(self, path: Path | None = None, secrets: SecretSource | None = None) -> None:
        self.path = path or default_path()
        self.secrets = secrets

    def load(self, secrets: SecretSource | None = None) -> LoadResult:
        """The profiles and the problems of the file; a password found in it is moved
        into ``secrets`` (default: the store's own) and the file rewritten without it."""
        try:
            with self.path.open("rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)  # no more: it may be huge, or endless
                size = max(len(data), os.fstat(f.fileno()).st_size)
        except FileNotFoundError:
            return LoadResult()
        except OSError as exc:
            return LoadResult(
                problems=[ProfileProblem(str(self.path), f"cannot read: {exc.strerror}")]
            )
        if len(data) > MAX_FILE_BYTES:
            return LoadResult(problems=[ProfileProblem(str(self.path), too_large(size))])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return LoadResult(
                problems=[
                    ProfileProblem(
                        str(self.path),
                        f"not UTF-8 text (byte {exc.start}): was it saved by another program?",
                    )
                ]
            )
        result, strays = _parse(text, str(self.path))
        if strays:
            self._move_passwords(result, strays, secrets or self.secrets)
        return result

    def _move_passwords(
        self, result: LoadResult, strays: list[_StrayPassword], source: SecretSource | None
    ) -> None:
        """Passwords found in the file go to the secret store, then the file is rewritten
        without them. If that cannot be done, the file is left as it is and each of those
        profiles is left out with a problem saying how to fix it."""
        store, why = _store_for_passwords(result, source)
        if store is not None:
            try:
                for stray in strays:
                    store.set(stray.profile_id, "password", stray.password)
                atomic_write(self.path, dump_document(result.profiles))
            except SecretStoreError as exc:
                why = str(exc)
            except OSError as exc:
                why = f"the file cannot be rewritten: {exc.strerror}"
            else:
                for stray in strays:
                    notice = (
                        f"profile {stray.profile!r}: its password was in {self.path} in "
                        f"clear text; it is now in {store.info.name} and the file keeps "
                        "only the user name"
                    )
                    log.warning("%s", notice)
                    result.notices.append(notice)
                return
        moved = {stray.profile_id for stray in strays}
        result.profiles = [p for p in result.profiles if p.id not in moved]
        for stray in strays:
            result.problems.append(
                ProfileProblem(
                    str(self.path),
                    "its password is in this file in clear text (after the ':' of the user "
                    "name). etcdmon moves it into the secret store and rewrites the file, "
                    f"but not now: {why}. To fix it, run `etcdmon profile list` with a "
                    "secret store that outlives the session (an unlocked OS keyring, or "
                    "--secrets encrypted-file), or remove ':' and the password from the "
                    "file and enter the password again",
                    line=stray.line,
                    profile=stray.profile,
                    field="username",
                )
            )

    def _load_clean(self) -> list[Profile]:
        result = self.load()
        if not result.clean:
            listing = "\n  ".join(str(p) for p in result.problems)
            raise ProfileStoreError(
                f"{self.path} has problems, so it is left untouched; fix or move it first:"
                f"\n  {listing}"
            )
        return result.profiles

    def save(self, profiles: Sequence[Profile]) -> None:
        self._load_clean()  # never overwrite a file we could not read cleanly
        names = [p.name for p in profiles]
        if len(set(names)) != len(names):
            raise ProfileStoreError("two profiles share a name")
        atomic_write(self.path, dump_document(profiles))

    def get(self, name: str) -> Profile:
        result = self.load()
        for p in result.profiles:
            if p.name == name:
                return p
        bad = [str(x) for x in result.problems if x.profile == name]
        if bad:
            raise ProfileStoreError(f"profile {name!r} cannot be used: " + "; ".join(bad))
        # A file that cannot be read, or an entry without a usable name, may hide it.
        hiding = [str(x) for x in result.problems if x.profile is None or x.profile[:1] == "#"]
        if hiding:
            raise ProfileStoreError(f"profile {name!r} cannot be looked up: " + "; ".join(hiding))
        known = ", ".join(p.name for p in result.profiles) or "none yet"
        raise ProfileStoreError(
            f"no profile named {name!r} (known: {known}); add one with `etcdmon profile add`"
        )

    def add(self, profile: Profile) -> None:
        profiles = self._load_clean()
        if any(p.name == profile.name for p in profiles):
            raise ProfileStoreError(f"a profile named {profile.name!r} already exists")
        self.save([*profiles, profile])

    def replace(self, name: str, profile: Profile) -> None:
        profiles = self._load_clean()
        if not any(p.name == name for p in profiles):
            raise ProfileStoreError(f"no profile named {name!r}")
        if profile.name != name and any(p.name == profile.name for p in profiles):
            raise ProfileStoreError(f"a profile named {profile.name!r} already exists")
        self.save([profile if p.name == name else p for p in profiles])

    def remove(self, name: str) -> Profile:
        profiles = self._load_clean()
        gone = next((p for p in profiles if p.name == name), None)
        if gone is None:
            raise ProfileStoreError(f"no profile named {name!r}")
        self.save([p for p in profiles if p.name != name])
        return gone

    # -- sharing profiles: export and import ----------------------------------------

    def for_export(self, names: Sequence[str] = ()) -> list[Profile]:
        """The usable profiles named ``names`` (all when empty), in the file's order;
        ``ProfileStoreError`` names those that are not there."""
        result = self.load()
        chosen = [p for p in result.profiles if not names or p.name in names]
        missing = set(names) - {p.name for p in chosen}
        if missing:
            raise ProfileStoreError(f"no profile named {', '.join(sorted(missing))}")
        return chosen

    def export_file(self, path: Path, names: Sequence[str] = ()) -> list[Profile]:
        """Write the profiles ``names`` (all when empty) to ``path`` as an export (no
        secrets; a header names those to enter again); returns them."""
        chosen = self.for_export(names)
        write_export(path, chosen)
        return chosen

    def import_file(
        self, path: Path, *, replace: bool = False, secrets: SecretSource | None = None
    ) -> ImportResult:
        """``import_text`` of the file at ``path`` (see ``read_import``)."""
        return self.import_text(read_import(path), str(path), replace=replace, secrets=secrets)

    def import_text(
        self,
        text: str,
        source: str,
        *,
        replace: bool = False,
        secrets: SecretSource | None = None,
    ) -> ImportResult:
        """Add the profiles of an export (``source`` names it in messages) to the file.

        All or nothing: ``ImportRefused`` (nothing changed) when the document has any
        problem, when this file has problems (it is never overwritten then), or when
        it cannot be written; ``ImportClash`` when profiles of the same names exist and
        ``replace`` is False. A replaced profile keeps its place in the file. An
        imported profile whose id another profile already has gets a new one (the same
        export imported twice under other names). ``secrets``: as for ``load``.
        """
        incoming = parse_document(text, source)
        notices = list(incoming.notices)
        if not incoming.clean:
            raise ImportRefused(
                "nothing imported:\n  " + "\n  ".join(map(str, incoming.problems)), notices
            )
        current = self.load(secrets)
        notices += current.notices
        if not current.clean:
            raise ImportRefused(f"{self.path} has problems; fix it before importing", notices)
        existing = {p.name: p for p in current.profiles}
        clash = [p.name for p in incoming.profiles if p.name in existing]
        if clash and not replace:
            raise ImportClash(f"profiles already exist: {', '.join(clash)}", clash, notices)
        ids = {p.id for p in current.profiles if p.name not in clash}
        fresh: dict[str, Profile] = {}
        for p in incoming.profiles:
            if p.id in ids:
                p = p.model_copy(update={"id": uuid.uuid4().hex})
            ids.add(p.id)
            fresh[p.name] = p
        merged = [fresh.get(p.name, p) for p in current.profiles]
        merged += [p for p in fresh.values() if p.name not in existing]
        try:
            self.save(merged)
        except OSError as exc:
            raise ImportRefused(
                f"nothing imported: cannot write {self.path}: {exc.strerror}", notices
            ) from None
        dropped = tuple(existing[n].id for n in clash if existing[n].id not in ids)
        return ImportResult(
            source=source,
            path=str(self.path),
            added=tuple(n for n in fresh if n not in existing),
            replaced=tuple(clash),
            needs={p.name: tuple(secret_fields(p)) for p in fresh.values() if secret_fields(p)},
            notices=tuple(notices),
            dropped_ids=dropped,
        )


# -- secrets of a profile -------------------------------------------------------------


def secret_fields(profile: Profile) -> list[str]:
    """The keyring fields this profile needs."""
    fields = ["password"] if profile.username else []
    if profile.tls:
        fields += [
            f"tls_{w}" for w in ("ca", "cert", "key") if getattr(profile.tls, f"{w}_in_keyring")
        ]
    return fields


def export_profiles(profiles: Sequence[Profile]) -> str:
    """A shareable YAML document: no secrets, and a header saying which to re-enter."""
    notes = []
    for p in profiles:
        fields = secret_fields(p)
        if fields:
            notes.append(f"#   {p.name}: {', '.join(fields)}")
    header = "# etcdmon-gui profiles export. It holds no secrets.\n"
    if notes:
        header += (
            "# After importing, enter these secrets again "
            "(etcdmon profile edit NAME ...):\n" + "\n".join(notes) + "\n"
        )
    return dump_document(profiles, header)


def connection_config(profile: Profile, secrets: SecretStore) -> ConnectionConfig:
    """What the probe needs, with files read and secrets fetched. Call it off the GUI thread."""
    tls = None
    t = profile.tls
    if t is not None:

        def material(what: str, title: str) -> bytes | None:
            path = getattr(t, f"{what}_file")
            if path:
                return read_file(path, title)
            if getattr(t, f"{what}_in_keyring"):
                value = secrets.get(profile.id, f"tls_{what}")
                if value is None:
                    raise ProfileStoreError(
                        f"the {title} of profile {profile.name!r} is not in the keyring "
                        f"({secrets.info.name}); import it again"
                    )
                return value.encode()
            return None

        tls = TLSConfig(
            ca=material("ca", "CA certificate"),
            cert=material("cert", "client certificate"),
            key=material("key", "client key"),
            server_name=t.server_name,
            insecure_skip_verify=t.insecure_skip_verify,
        )
    password = None
    if profile.username:
        password = secrets.get(profile.id, "password")
        if password is None:
            raise ProfileStoreError(
                f"no password for user {profile.username!r} of profile {profile.name!r} in "
                f"{secrets.info.name}: set it with `etcdmon profile edit {profile.name} "
                "--password-stdin`"
            )
    text = ",".join(profile.endpoints)
    if tls is not None:
        text = ",".join(e if "://" in e else f"https://{e}" for e in profile.endpoints)
    return ConnectionConfig(
        parse_endpoints(text),
        tls=tls,
        user=profile.username,
        password=password,
        timeout_s=profile.timeout_s,
        key=profile.key,
    )


#: The TLS materials a profile may import into the keyring: key in
#: ``SecretEdits.files``, the secret field it is stored under, and how to name it.
TLS_MATERIALS = (
    ("ca", "tls_ca", "CA certificate"),
    ("cert", "tls_cert", "client certificate"),
    ("key", "tls_key", "client key"),
)


class ProfileSettings(SettingsStore[Profile, LoadResult]):
    """The profiles file and the profiles' secrets; requests name a profile by name.
    An edit's ``files`` are TLS materials to read here and keep in the keyring."""

    noun: ClassVar[str] = "profile"
    plural: ClassVar[str] = "profiles"

    def __init__(self, profiles: ProfileStore, secrets: SecretStore) -> None:
        super().__init__(secrets)
        self.profiles = profiles

    def load(self) -> LoadResult:
        return self.profiles.load(self.secrets)

    def items(self, listing: LoadResult) -> list[Profile]:
        return listing.profiles

    def _write(self, old_key: str | None, item: Profile) -> None:
        if old_key is None:
            self.profiles.add(item)
        else:
            self.profiles.replace(old_key, item)

    def _remove(self, key: str) -> Profile:
        return self.profiles.remove(key)

    def owned_secrets(self, item: Profile) -> tuple[str, ...]:
        return PROFILE_FIELDS

    def import_file(self, path: str, replace: bool) -> ImportResult:
        """The store's import; then the secrets of replaced profiles that left the file
        (the imported one came with another id) are removed, as a delete would."""
        result = self.profiles.import_file(Path(path), replace=replace, secrets=self.secrets)
        notices = list(result.notices)
        for owner in result.dropped_ids:
            try:
                self.secrets.delete_owner(owner, PROFILE_FIELDS)
            except SecretStoreError as exc:
                notices.append(f"the secrets of a replaced profile could not be removed: {exc}")
        return dataclasses.replace(result, notices=tuple(notices))

    def export_file(self, path: str, keys: Sequence[str]) -> int:
        return len(self.profiles.export_file(Path(path), keys))

    def needed_secrets(self, item: Profile) -> tuple[str, ...]:
        return tuple(secret_fields(item))

    def missing_secret(self, item: Profile, field: str) -> str:
        if field == "password":
            return (
                f"enter the password of user {item.username!r}: none is stored in "
                f"{self.secrets.info.name} yet"
            )
        title = next(t for _, f, t in TLS_MATERIALS if f == field)
        return (
            f"the {title} is to be kept in the keyring but none is stored in "
            f"{self.secrets.info.name}: choose its file to import it"
        )

    def new_secrets(self, item: Profile, edits: SecretEdits) -> dict[str, str]:
        """The values given and the TLS files to import, read now."""
        new: dict[str, str] = {}
        for what, field, title in TLS_MATERIALS:
            path = edits.files.get(what)
            if path:
                try:
                    new[field] = read_file(path, title).decode("utf-8")
                except UnicodeDecodeError:
                    raise ProfileStoreError(
                        f"the {title} file {path!r} is not PEM text (it is not even UTF-8)"
                    ) from None
        new.update({f: v for f, v in edits.values.items() if v})
        return new
