"""A connection profile as the user edits it: validated, with the field titles that
label the profile dialog. Secrets are not fields: they live in the keyring, keyed by
the profile's id. Reading and writing profiles is ``store.profiles``'s job."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from etcdmon_gui.model.connection import parse_endpoint
from etcdmon_gui.model.errors import BadEndpointError
from etcdmon_gui.model.validators import plain_name


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


class Profile(BaseModel):
    """One cluster the user watches. Secrets are not fields: they live in the keyring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        title="Identifier",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
    )
    name: str = Field(title="Name", min_length=1, max_length=100)
    endpoints: list[str] = Field(
        title="Endpoints",
        min_length=1,
        description="host:port or http(s)://host:port, etcdctl style",
    )
    tls: TLSSettings | None = Field(None, title="TLS")
    username: str | None = Field(None, title="User name")
    poll_interval_s: int = Field(5, ge=1, le=60, title="Poll interval (s)")
    timeout_s: float = Field(2.0, gt=0, le=60, title="Call deadline (s)")
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

    @property
    def production(self) -> bool:
        return "production" in self.tags


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
        what = " ".join(
            x
            for x in (
                f"profile {self.profile}" if self.profile else "",
                f"field {self.field!r}" if self.field else "",
            )
            if x
        )
        return f"{where}: {what + ': ' if what else ''}{self.message}"


@dataclass
class LoadResult:
    profiles: list[Profile] = field(default_factory=list)
    problems: list[ProfileProblem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems
