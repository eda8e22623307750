"""What the views need to know about where secrets are kept (not the secrets), the
error a keyring operation raises, the secrets an edit brings, and where the user asks
to move them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Where secrets can live: the OS keyring, keyrings.cryptfile's file, session memory.
BackendKind = Literal["keyring", "encrypted-file", "memory"]


@dataclass(frozen=True, slots=True)
class BackendInfo:
    name: str  # e.g. "SecretService Keyring", "encrypted file", "memory (this session)"
    secure: bool  # a real OS keyring, or the encrypted file
    persistent: bool  # survives a restart
    problem: str | None = None  # why no OS keyring is usable, and what to do
    kind: BackendKind = "keyring"
    #: The name of an OS keyring that works now, when the secrets are elsewhere (None:
    #: none works, or not asked); what "Move secrets…" may offer.
    os_keyring: str | None = None


class SecretStoreError(Exception):
    """A keyring operation failed; the message says what to do, never the secret.

    A model type so that code reading secrets through a protocol (the notification
    channels) can tell this failure apart without importing the keyring module.
    """


@dataclass(frozen=True, slots=True)
class SecretEdits:
    """The secrets an edit of a profile or a channel brings, as typed into its dialog.

    ``values``: field -> new value; a field left out (or blank) keeps what is stored.
    ``files``: what to read from files and keep in the keyring, keyed as the settings
    store names it (a profile's TLS materials: "ca", "cert", "key") -> path.
    ``copy_from``: the owner whose stored secrets a new item starts from (a clone).
    """

    values: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    copy_from: str | None = None


@dataclass(frozen=True, slots=True)
class MoveTarget:
    """Where the user asks to move every secret: the OS keyring, or the encrypted file
    with its master password (kept out of ``repr``: the request is the only place it
    travels)."""

    kind: Literal["keyring", "encrypted-file"]
    master_password: str = field(default="", repr=False)
