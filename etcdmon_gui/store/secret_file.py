"""Files that hold one secret: ``etcdmon serve``'s bearer token, an etcd user's password,
a PostgreSQL password. One reader, one rule for all of them: the secret is the file's
first line without spaces around it; a file every user of the machine may read or write
guards nothing and is refused (``chmod 600``), and so is an empty one.
"""

from __future__ import annotations

import stat
from pathlib import Path

from etcdmon_gui.scrub import remember_secret

MAX_SECRET_FILE_BYTES = 4096


class SecretFileError(Exception):
    """The file cannot be used; the message names it and says how to fix it, and never
    holds the secret."""


def read_secret_file(path: Path, what: str) -> str:
    """The secret in ``path`` (``what`` names it for messages, e.g. "token file"): its
    first line, without spaces around it. Registered with ``scrub.remember_secret``.
    ``SecretFileError`` when the file is missing, unreadable, readable or writable by
    every user, too large, not UTF-8, or its first line is empty."""
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IROTH | stat.S_IWOTH):
            raise SecretFileError(
                f"{what} {path}: readable or writable by every user on this machine, so it "
                f"guards nothing; make it private: chmod 600 {path}"
            )
        if info.st_size > MAX_SECRET_FILE_BYTES:
            raise SecretFileError(
                f"{what} {path}: {info.st_size} bytes is too large for a secret (one line)"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretFileError(
            f"{what} {path}: no such file; create it holding one line, readable by this "
            f"user only (chmod 600 {path})"
        ) from None
    except UnicodeDecodeError:
        raise SecretFileError(f"{what} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise SecretFileError(
            f"{what} {path}: cannot be read ({exc.strerror or exc}); check that this user "
            "may read it"
        ) from None
    lines = text.splitlines()
    secret = lines[0].strip() if lines else ""  # spaces around it: an editor's, not its
    if not secret:
        raise SecretFileError(f"{what} {path}: its first line is empty; put the secret there")
    remember_secret(secret)  # kept out of every log line from now
    return secret


def group_may_read(path: Path) -> bool:
    """Whether the file's group may read it (worth a warning, not a refusal)."""
    try:
        return bool(path.stat().st_mode & stat.S_IRGRP)
    except OSError:
        return False
