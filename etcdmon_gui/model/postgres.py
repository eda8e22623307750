"""Naming a PostgreSQL history (a team's database that several ``etcdmon serve`` write
to and desktops read): where it is and who connects, never the password.

``PgSettings`` is what a YAML config and the settings dialog hold::

    history:
      postgres:
        host: db.example.org
        port: 5432
        dbname: etcdmon
        user: etcdmon
        sslmode: verify-full

The password comes from elsewhere (the keyring, or a file the config names) and is
handed to the store beside these settings, so no file written from them holds it.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SslMode(enum.StrEnum):
    """libpq's ``sslmode``, the useful ones: ``prefer`` encrypts when the server can (no
    check of who it is), ``require`` always encrypts, ``verify-full`` also checks the
    server's certificate and name against ``sslrootcert`` (or the system's CAs)."""

    DISABLE = "disable"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_FULL = "verify-full"


class PgSettings(BaseModel):
    """Where a PostgreSQL history is and who connects to it (no password: given apart)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(
        min_length=1,
        title="Host",
        description="The PostgreSQL server's host name or address",
    )
    port: int = Field(5432, ge=1, le=65535, title="Port")
    dbname: str = Field("etcdmon", min_length=1, title="Database")
    user: str = Field("etcdmon", min_length=1, title="User")
    sslmode: SslMode = Field(
        SslMode.PREFER,
        title="TLS",
        description="prefer: encrypt when the server can; verify-full: encrypt and check "
        "the server's certificate and name",
    )
    sslrootcert: str | None = Field(
        None,
        title="CA certificate",
        description="The CA file that signed the server's certificate (verify-full); "
        "empty: the system's",
    )

    @field_validator("host", "dbname", "user")
    @classmethod
    def _plain(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("no leading or trailing spaces")
        return value

    @property
    def where(self) -> str:
        """``user@host:port/dbname``: the database in words (no secret)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.port}/{self.dbname}"

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"
