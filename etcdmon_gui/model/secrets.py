"""What the views need to know about where secrets are kept (not the secrets)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackendInfo:
    name: str  # e.g. "SecretService Keyring", "encrypted file", "memory (this session)"
    secure: bool  # a real OS keyring, or the encrypted file
    persistent: bool  # survives a restart
    problem: str | None = None  # why no OS keyring is usable, and what to do
