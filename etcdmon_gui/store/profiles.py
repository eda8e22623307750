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

import contextlib
import logging
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from etcdmon_gui.etcd.endpoints import (
    ConnectionConfig,
    TLSConfig,
    parse_endpoint,
    parse_endpoints,
    read_file,
)
from etcdmon_gui.etcd.errors import BadEndpointError
from etcdmon_gui.store.secrets import SecretStore

log = logging.getLogger(__name__)

APP_NAME = "etcdmon-gui"
SCHEMA_VERSION = 1


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME)


def default_path() -> Path:
    return config_dir() / "profiles.yaml"


def user_rules_path() -> Path:
    """Where the user changes alert rules (read if it exists)."""
    return config_dir() / "rules.yaml"


class TLSSettings(BaseModel):
    """How to verify the servers and identify ourselves. Files are referenced by path,
    or imported into the keyring (then the ``*_in_keyring`` flag is set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: str | None = Field(None, title="CA certificate",
                                description="PEM bundle that signed the servers' certificates")
    cert_file: str | None = Field(None, title="Client certificate")
    key_file: str | None = Field(None, title="Client key")
    ca_in_keyring: bool = Field(False, title="CA imported into the keyring")
    cert_in_keyring: bool = Field(False, title="Client certificate imported into the keyring")
    key_in_keyring: bool = Field(False, title="Client key imported into the keyring")
    insecure_skip_verify: bool = Field(
        False, title="Skip certificate verification (INSECURE)",
        description="Accept any certificate the servers present; off unless chosen, and "
                    "flagged wherever the cluster is shown")
    server_name: str | None = Field(None, title="Server name override",
                                    description="Name expected in the servers' certificates")

    @model_validator(mode="after")
    def _one_source_each(self) -> TLSSettings:
        for what in ("ca", "cert", "key"):
            if getattr(self, f"{what}_file") and getattr(self, f"{what}_in_keyring"):
                raise ValueError(f"{what} is both a file and imported into the keyring: "
                                 f"keep one of {what}_file / {what}_in_keyring")
        has_cert = bool(self.cert_file or self.cert_in_keyring)
        has_key = bool(self.key_file or self.key_in_keyring)
        if has_cert != has_key:
            raise ValueError("a client certificate needs its key and vice versa")
        return self


class Profile(BaseModel):
    """One cluster the user watches. Secrets are not fields: they live in the keyring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex, title="Identifier",
                    pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = Field(title="Name", min_length=1, max_length=100)
    endpoints: list[str] = Field(title="Endpoints", min_length=1,
                                 description="host:port or http(s)://host:port, etcdctl style")
    tls: TLSSettings | None = Field(None, title="TLS")
    username: str | None = Field(None, title="User name")
    poll_interval_s: int = Field(5, ge=1, le=60, title="Poll interval (s)")
    timeout_s: float = Field(2.0, gt=0, le=60, title="Call deadline (s)")
    tags: list[str] = Field(default_factory=list, title="Tags",
                            description="e.g. production, staging")
    alert_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict, title="Alert overrides",
        description="rule name -> changed fields (threshold, for, severity, enabled)")
    channels: list[str] = Field(default_factory=list, title="Notification channels",
                                description="ids or names of the channels this cluster's "
                                            "alerts go to (none given: all channels)")

    @field_validator("endpoints")
    @classmethod
    def _valid_endpoints(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                parse_endpoint(text)
            except BadEndpointError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("a name has no leading or trailing spaces")
        return value

    @property
    def production(self) -> bool:
        return "production" in self.tags


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


@dataclass(frozen=True, slots=True)
class ProfileProblem:
    """One thing wrong in a profiles file, located as precisely as possible."""

    file: str
    message: str
    line: int | None = None
    profile: str | None = None  # its name, or "#3" when it has none
    field: str | None = None

    def __str__(self) -> str:
        where = self.file + (f", line {self.line}" if self.line else "")
        what = " ".join(x for x in (
            f"profile {self.profile}" if self.profile else "",
            f"field {self.field!r}" if self.field else "") if x)
        return f"{where}: {what + ': ' if what else ''}{self.message}"


class ProfileStoreError(Exception):
    pass


@dataclass
class LoadResult:
    profiles: list[Profile] = field(default_factory=list)
    problems: list[ProfileProblem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def _node_line(node: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """1-based line of the YAML node at ``path`` (keys and indexes), or of its parent."""
    line = None if node is None else node.start_mark.line + 1
    for step in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
            if child is None:  # an unknown key: point at the key itself
                child = next((k for k, _ in node.value if getattr(k, "value", None) == step),
                             None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and (
                step < len(node.value)):
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
        result.problems.append(ProfileProblem(source, f"not valid YAML: {reason}",
                                              line=mark.line + 1 if mark else None))
        return result
    if data is None:
        return result
    if not isinstance(data, dict):
        result.problems.append(ProfileProblem(
            source, "expected a mapping with schema_version and profiles", line=1))
        return result
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        result.problems.append(ProfileProblem(
            source, f"schema_version must be a whole number, not {version!r}",
            line=_node_line(root, ["schema_version"]), field="schema_version"))
        return result
    if version > SCHEMA_VERSION:
        result.problems.append(ProfileProblem(
            source, f"written by a newer etcdmon-gui (schema_version {version}; this version "
            f"reads up to {SCHEMA_VERSION}): upgrade etcdmon-gui to use it",
            line=_node_line(root, ["schema_version"]), field="schema_version"))
        return result
    while version < SCHEMA_VERSION:
        migrate = MIGRATIONS.get(version)
        if migrate is None:
            result.problems.append(ProfileProblem(
                source, f"schema_version {version} is too old to migrate", field="schema_version"))
            return result
        data = migrate(data)
        version += 1
        data["schema_version"] = version
    try:
        document = _Document.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            result.problems.append(ProfileProblem(
                source, err["msg"], line=_node_line(root, [str(x) for x in err["loc"]]),
                field=".".join(str(x) for x in err["loc"])))
        return result
    names: set[str] = set()
    for index, raw in enumerate(document.profiles):
        label = raw.get("name") if isinstance(raw.get("name"), str) else f"#{index + 1}"
        try:
            profile = Profile.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = list(err["loc"])
                result.problems.append(ProfileProblem(
                    source, _message(err), line=_node_line(root, ["profiles", index, *loc]),
                    profile=label, field=".".join(str(x) for x in loc) or None))
            continue
        if profile.name in names:
            result.problems.append(ProfileProblem(
                source, "another profile already has this name",
                line=_node_line(root, ["profiles", index, "name"]), profile=label,
                field="name"))
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
        "profiles": [{"id": p.id, "name": p.name,
                      **p.model_dump(mode="json", exclude_defaults=True)} for p in profiles],
    }
    text: str = yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    return header + text


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` all at once; a crash leaves the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
            return LoadResult(problems=[ProfileProblem(str(self.path),
                                                       f"cannot read: {exc.strerror}")])
        except UnicodeDecodeError as exc:
            return LoadResult(problems=[ProfileProblem(
                str(self.path), f"not UTF-8 text (byte {exc.start}): was it saved by "
                "another program?")])
        return parse_document(text, str(self.path))

    def _load_clean(self) -> list[Profile]:
        result = self.load()
        if not result.clean:
            listing = "\n  ".join(str(p) for p in result.problems)
            raise ProfileStoreError(
                f"{self.path} has problems, so it is left untouched; fix or move it first:"
                f"\n  {listing}")
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
        raise ProfileStoreError(f"no profile named {name!r} (known: {known}); "
                                f"add one with `etcdmon profile add`")

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
        fields += [f"tls_{w}" for w in ("ca", "cert", "key")
                   if getattr(profile.tls, f"{w}_in_keyring")]
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
        header += ("# After importing, enter these secrets again "
                   "(etcdmon profile edit NAME ...):\n" + "\n".join(notes) + "\n")
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
                        f"({secrets.info.name}); import it again")
                return value.encode()
            return None

        tls = TLSConfig(ca=material("ca", "CA certificate"),
                        cert=material("cert", "client certificate"),
                        key=material("key", "client key"), server_name=t.server_name,
                        insecure_skip_verify=t.insecure_skip_verify)
    password = None
    if profile.username:
        password = secrets.get(profile.id, "password")
        if password is None:
            raise ProfileStoreError(
                f"no password for user {profile.username!r} of profile {profile.name!r} in "
                f"{secrets.info.name}: set it with `etcdmon profile edit {profile.name} "
                "--password-stdin`")
    text = ",".join(profile.endpoints)
    if tls is not None:
        text = ",".join(e if "://" in e else f"https://{e}" for e in profile.endpoints)
    return ConnectionConfig(parse_endpoints(text), tls=tls, user=profile.username,
                            password=password, timeout_s=profile.timeout_s,
                            key=f"profile:{profile.id}")
