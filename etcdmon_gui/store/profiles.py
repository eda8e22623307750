"""Connection profiles: validated, versioned YAML in the user's config directory.

A profile names a cluster and says how to reach it; it never holds a secret (those are
in ``store.secrets``, keyed by the profile's id). The file carries a
``schema_version``; older files are migrated in memory, newer ones are refused.

Loading is forgiving and precise: each profile is validated on its own, so one bad
entry does not hide the others, and every problem names the file, the profile, the
field and the line. Saving is strict: a file that did not load cleanly is never
overwritten, and writes are atomic (temporary file, fsync, ``os.replace``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from etcdmon_gui.model.connection import (
    ConnectionConfig,
    TLSConfig,
    parse_endpoints,
)
from etcdmon_gui.model.profile import LoadResult, Profile, ProfileProblem
from etcdmon_gui.model.secrets import SecretEdits
from etcdmon_gui.store.files import atomic_write, config_dir, read_file
from etcdmon_gui.store.secrets import PROFILE_FIELDS, SecretStore
from etcdmon_gui.store.settings import SettingsError, SettingsStore

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


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


def parse_document(text: str, source: str) -> LoadResult:
    """Validate a profiles document (a file's or an import's text)."""
    result = LoadResult()
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        reason = getattr(exc, "problem", None) or str(exc)
        result.problems.append(
            ProfileProblem(
                source, f"not valid YAML: {reason}", line=mark.line + 1 if mark else None
            )
        )
        return result
    if data is None:
        return result
    if not isinstance(data, dict):
        result.problems.append(
            ProfileProblem(source, "expected a mapping with schema_version and profiles", line=1)
        )
        return result
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
        return result
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
        return result
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
            return result
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
        return result
    names: set[str] = set()
    for index, raw in enumerate(document.profiles):
        label = raw.get("name") if isinstance(raw.get("name"), str) else f"#{index + 1}"
        try:
            profile = Profile.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = list(err["loc"])
                result.problems.append(
                    ProfileProblem(
                        source,
                        _message(err),
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
    return result


def _message(err: Any) -> str:
    msg = str(err["msg"])
    if str(err["type"]) == "extra_forbidden":
        return "unknown field (misspelt?)"
    return msg.removeprefix("Value error, ")


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


class ProfileStore:
    """The user's profiles file. Every change is load, check, modify, atomic save."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def load(self) -> LoadResult:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return LoadResult()
        except OSError as exc:
            return LoadResult(
                problems=[ProfileProblem(str(self.path), f"cannot read: {exc.strerror}")]
            )
        except UnicodeDecodeError as exc:
            return LoadResult(
                problems=[
                    ProfileProblem(
                        str(self.path),
                        f"not UTF-8 text (byte {exc.start}): was it saved by another program?",
                    )
                ]
            )
        return parse_document(text, str(self.path))

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
        key=f"profile:{profile.id}",
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
        return self.profiles.load()

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
