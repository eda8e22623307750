"""A connection profile as the user edits it: validated, with the field titles that
label the profile dialog. Secrets are not fields: they live in the keyring, keyed by
the profile's id. Reading and writing profiles is ``store.profiles``'s job."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from etcdmon_gui.model.connection import parse_endpoint
from etcdmon_gui.model.errors import BadEndpointError
from etcdmon_gui.model.validators import plain_name

#: Characters that are not shown as themselves: controls, invisible formatting (the
#: bidi overrides such as U+202E, zero-width spaces), line separators, unassigned.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def hidden_character(text: str) -> str | None:
    """The first character of ``text`` that would not be shown as itself, as
    ``U+202E RIGHT-TO-LEFT OVERRIDE``; None when every character is visible."""
    for ch in text:
        if unicodedata.category(ch) in _HIDDEN:
            return f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}"
    return None


def printable(text: str) -> str:
    """``text`` with every character that would not be shown as itself escaped, so a
    name read from a file can be printed without reordering or hiding the line."""
    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in _HIDDEN else ch for ch in text
    )


def _visible(what: str, value: str) -> str:
    hidden = hidden_character(value)
    if hidden is not None:
        raise ValueError(
            f"{what} has a character that is not shown as itself ({hidden}): it could "
            "make the text display as something else; type it again without it"
        )
    return value


class TLSSettings(BaseModel):
    """How to verify the servers and identify ourselves. Files are referenced by path,
    or imported into the keyring (then the ``*_in_keyring`` flag is set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca_file: str | None = Field(
        None, title="CA certificate", description="PEM bundle that signed the servers' certificates"
    )
    cert_file: str | None = Field(None, title="Client certificate")
    key_file: str | None = Field(None, title="Client key")
    ca_in_keyring: bool = Field(False, title="CA imported into the keyring")
    cert_in_keyring: bool = Field(False, title="Client certificate imported into the keyring")
    key_in_keyring: bool = Field(False, title="Client key imported into the keyring")
    insecure_skip_verify: bool = Field(
        False,
        title="Skip certificate verification (INSECURE)",
        description="Accept any certificate the servers present; off unless chosen, and "
        "flagged wherever the cluster is shown",
    )
    server_name: str | None = Field(
        None, title="Server name override", description="Name expected in the servers' certificates"
    )

    @model_validator(mode="after")
    def _one_source_each(self) -> TLSSettings:
        for what in ("ca", "cert", "key"):
            if getattr(self, f"{what}_file") and getattr(self, f"{what}_in_keyring"):
                raise ValueError(
                    f"{what} is both a file and imported into the keyring: "
                    f"keep one of {what}_file / {what}_in_keyring"
                )
        has_cert = bool(self.cert_file or self.cert_in_keyring)
        has_key = bool(self.key_file or self.key_in_keyring)
        if has_cert != has_key:
            raise ValueError("a client certificate needs its key and vice versa")
        return self


#: The bounds of the numeric fields, said the same way in the model and in messages.
NAME_MAX = 100
TAG_MAX = 40
POLL_INTERVAL_S = (1, 60)  # whole seconds, both included
TIMEOUT_MAX_S = 60.0  # more than 0, at most this


class Profile(BaseModel):
    """One cluster the user watches. Secrets are not fields: they live in the keyring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        title="Identifier",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
    )
    name: str = Field(title="Name", min_length=1, max_length=NAME_MAX)
    endpoints: list[str] = Field(
        title="Endpoints",
        min_length=1,
        description="host:port or http(s)://host:port, etcdctl style",
    )
    tls: TLSSettings | None = Field(None, title="TLS")
    username: str | None = Field(None, title="User name")
    poll_interval_s: int = Field(
        5, ge=POLL_INTERVAL_S[0], le=POLL_INTERVAL_S[1], title="Poll interval (s)"
    )
    timeout_s: float = Field(2.0, gt=0, le=TIMEOUT_MAX_S, title="Call deadline (s)")
    tags: list[str] = Field(
        default_factory=list, title="Tags", description="e.g. production, staging"
    )
    alert_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        title="Alert overrides",
        description="rule name -> changed fields (threshold, for, severity, enabled)",
    )
    channels: list[str] = Field(
        default_factory=list,
        title="Notification channels",
        description="ids or names of the channels this cluster's "
        "alerts go to (none given: all channels)",
    )

    @field_validator("endpoints")
    @classmethod
    def _valid_endpoints(cls, value: list[str]) -> list[str]:
        for text in value:
            try:
                parse_endpoint(text)
            except BadEndpointError as exc:
                raise ValueError(str(exc)) from None
        return value

    _plain_name = field_validator("name")(plain_name)

    @field_validator("name")
    @classmethod
    def _visible_name(cls, value: str) -> str:
        return _visible("a name", value)

    @field_validator("username")
    @classmethod
    def _no_password_in_user(cls, value: str | None) -> str | None:
        # etcdctl reads "user:password"; a name with ':' could never log in, and older
        # versions stored the password there (store.profiles moves it to the keyring).
        if value is not None and ":" in value:
            raise ValueError(
                "a user name has no ':' (the password is kept in the secret store, "
                "not with the user name)"
            )
        return None if value is None else _visible("a user name", value)

    @field_validator("tags")
    @classmethod
    def _plain_tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag.strip():
                raise ValueError("a tag cannot be empty")
            if tag != tag.strip():
                raise ValueError(f"tag {tag.strip()!r} has leading or trailing spaces")
            if "," in tag:
                raise ValueError(f"tag {tag!r} has a comma: give each tag on its own")
            if len(tag) > TAG_MAX:
                raise ValueError(f"a tag has at most {TAG_MAX} characters, not {len(tag)}")
            _visible("a tag", tag)
        return value

    @property
    def key(self) -> str:
        """The connection key its snapshots, alerts and history rows carry."""
        return f"profile:{self.id}"

    @property
    def production(self) -> bool:
        return "production" in self.tags


def describe_error(err: Mapping[str, Any]) -> str:
    """One pydantic error of a ``Profile`` (or its ``TLSSettings``) as a sentence in the
    user's words: what is wrong and what is expected, never pydantic's wording. It never
    repeats a user name (an old file may hold a password there)."""
    loc = tuple(str(x) for x in err.get("loc", ()))
    kind = str(err.get("type", ""))
    value = err.get("input")
    name, nested = (loc[0] if loc else ""), len(loc) > 1
    if kind == "extra_forbidden":
        return "unknown field (misspelt?)"
    if kind == "value_error":  # our own validators already speak plainly
        return str(err.get("msg", "")).removeprefix("Value error, ")
    if name == "name":
        if kind == "string_too_long" and isinstance(value, str):
            return f"a name has at most {NAME_MAX} characters, not {len(value)}"
        if kind in ("missing", "string_too_short"):
            return "a profile needs a name"
        return "a name is text, e.g. prod-eu"
    if name == "endpoints":
        if nested:
            return "an endpoint is text such as host:2379"
        if kind in ("missing", "too_short"):
            return "a profile needs at least one endpoint, e.g. host:2379"
        return "endpoints are a list such as [host:2379, https://host2:2379]"
    if name == "tls":
        if not nested:
            return "tls holds ca_file, cert_file, key_file, server_name and the like"
        if loc[1].endswith(("_in_keyring", "_verify")):
            return f"{loc[1]} is true or false"
        return f"{loc[1]} is text (a file path or a host name)"
    if kind == "missing":
        return f"{name} is required"
    low, high = POLL_INTERVAL_S
    sentences = {
        "id": "an identifier has 1 to 64 letters, digits, '-' or '_'",
        "username": "a user name is text",
        "poll_interval_s": f"the poll interval is a whole number of seconds from {low} "
        f"to {high}, not {value!r}",
        "timeout_s": "the call deadline is a number of seconds above 0 and at most "
        f"{TIMEOUT_MAX_S:g}, not {value!r}",
        "tags": "a tag is text such as production"
        if nested
        else "tags are a list of words such as [production, eu]",
        "alert_overrides": "alert overrides map a rule name to the fields it changes, "
        "e.g. {etcdMembersDown: {for: 5m}}",
        "channels": "channels are a list of notification channel names or ids",
    }
    return sentences.get(name, str(err.get("msg", "")))


@dataclass(frozen=True, slots=True)
class ProfileProblem:
    """One thing wrong in a profiles file, located as precisely as possible."""

    file: str
    message: str
    line: int | None = None
    profile: str | None = None  # its name, or "#3" when it has none
    field: str | None = None

    def __str__(self) -> str:
        where = printable(self.file) + (f", line {self.line}" if self.line else "")
        what = " ".join(
            x
            for x in (
                f"profile {printable(self.profile)}" if self.profile else "",
                f"field {self.field!r}" if self.field else "",
            )
            if x
        )
        return f"{where}: {what + ': ' if what else ''}{self.message}"


@dataclass
class LoadResult:
    """A profiles file as read: the usable profiles, what is wrong, and ``notices``:
    what loading changed on its own (a password moved into the keyring), to tell the
    user. None of it holds a secret."""

    profiles: list[Profile] = field(default_factory=list)
    problems: list[ProfileProblem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import of profiles did: the names ``added`` and ``replaced`` (in the
    file's order), the secrets each imported profile needs entered on this machine
    (``needs``: name -> secret fields; an export never holds them), and ``notices``
    from reading the file (a password left out). ``dropped_ids`` are the ids of
    replaced profiles that are no longer in the file: their secrets are nobody's now.
    ``path`` is the profiles file written. None of it holds a secret."""

    source: str
    path: str
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    dropped_ids: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.added) + len(self.replaced)
