"""Files on the user's disk: where they live, reading the ones users name, writing ours
atomically, and the output files users name (benchmark results, reports): checked
before the work that fills them, then written whole."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO, TypeVar

import platformdirs

from etcdmon_gui.model.errors import ConfigError

APP_NAME = "etcdmon-gui"


def config_dir() -> Path:
    return platformdirs.user_config_path(APP_NAME)


def data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME)


def read_file(path: str | os.PathLike[str], what: str) -> bytes:
    """Read a TLS file, with an error that names the file and the flag."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file {os.fspath(path)!r}: {exc.strerror}") from None


def atomic_write(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text`` (UTF-8 when a ``str``) all at once; a crash leaves
    the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


STDOUT = "-"
T = TypeVar("T")


def check_output_path(path: str, what: str) -> Path:
    """``path`` as a file we can create or replace; ``ConfigError`` saying why not
    (a directory, a missing or read-only directory, a read-only file). ``what`` names
    the option or the export in the message (e.g. ``--csv``)."""
    if not path.strip():
        raise ConfigError(f"{what}: the file name is empty")
    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigError(
            f"{what}: {str(target)!r} is a directory; give a file name in it, "
            f"e.g. {str(target / 'results.csv')!r}"
        )
    parent = target.parent
    if not parent.exists():
        raise ConfigError(
            f"{what}: the directory {str(parent)!r} does not exist; create it first or "
            f"choose another place for {target.name!r}"
        )
    if not parent.is_dir():
        raise ConfigError(f"{what}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{what}: no permission to create files in {str(parent)!r}; choose a "
            "directory you can write to"
        )
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(f"{what}: {str(target)!r} exists and is read-only")
    return target


def write_output(path: str, write: Callable[[TextIO], T], what: str) -> T:
    """Run ``write`` on a UTF-8 stream (line ends as written) into a temporary file
    beside ``path``, sync it and rename it over ``path``; what ``write`` returns.

    The file appears only complete: whatever ``write`` raises (a cancel included) is
    raised again with nothing left behind, and an older file of that name stays as it
    was. A new file is private (0600: results name endpoints); a replaced one keeps its
    permissions. A file that cannot be written is a ``ConfigError`` naming it.
    """
    target = check_output_path(path, what)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            result = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"{what}: cannot write {str(target)!r}: {exc.strerror or exc}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return result
