"""Where a report goes: a file written whole, or standard output.

``check_output_path`` says what is wrong with a path (a directory, a missing or
read-only directory, a read-only file) before any history is read, as
``bench.output`` does for a benchmark's files (``bench`` is a sibling layer, so its
checks are repeated here rather than imported). ``write_export`` runs an export into a
temporary file beside the target, syncs it and renames it over the target: a
cancelled or failed export (``ExportCancelled``, a ``HistoryError``, Ctrl-C) leaves
neither half a file nor a stray temporary one, and an older report of that name stays
as it was. A new file is private (0600): reports name the clusters' endpoints; a file
that is replaced keeps its permissions.

``-`` is standard output: written as it goes (UTF-8, the CSV's own CRLF line ends,
whatever the locale), so a cancelled export there has already printed its first rows.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from etcdmon_gui.model.errors import ConfigError

STDOUT = "-"

#: An export bound to everything but its stream: writes the report, returns its rows.
Export = Callable[[TextIO], int]


def check_output_path(path: str, what: str) -> Path:
    """``path`` as a file we can create or replace; ``ConfigError`` saying why not.

    ``what`` names the option or the export in the message (e.g. ``--csv``).
    """
    if not path.strip():
        raise ConfigError(f"{what}: the file name is empty")
    target = Path(path).expanduser()
    if target.is_dir():
        raise ConfigError(
            f"{what}: {str(target)!r} is a directory; give a file name in it, "
            f"e.g. {str(target / 'report.csv')!r}"
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


def write_export(path: str, export: Export, *, what: str = "--csv") -> int:
    """Run ``export`` into ``path`` (``-``: standard output); the rows it wrote.

    A file appears only complete: whatever ``export`` raises (``ExportCancelled``
    included) is raised again with nothing written. A file that cannot be written
    is a ``ConfigError`` naming it.
    """
    if path == STDOUT:
        return _to_stdout(export)
    target = check_output_path(path, what)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # newline="": the csv module writes its own CRLF, which must not be translated.
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            rows = export(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if target.exists():  # keep its permissions; a new file stays private (0600)
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
    return rows


def _to_stdout(export: Export) -> int:
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a stream without bytes under it (tests): written as it is
        return export(sys.stdout)
    stream = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        rows = export(stream)
        stream.flush()
    finally:
        with contextlib.suppress(OSError, ValueError):
            stream.detach()  # sys.stdout keeps its buffer
    return rows
