"""Where a report goes: a file written whole, or standard output.

``check_output_path`` (``store.files``, shared with the benchmark's outputs) says what
is wrong with a path before any history is read. ``write_export`` runs an export into
a temporary file beside the target, syncs it and renames it over the target: a
cancelled or failed export (``ExportCancelled``, a ``HistoryError``, Ctrl-C) leaves
neither half a file nor a stray temporary one, and an older report of that name stays
as it was. A new file is private (0600): reports name the clusters' endpoints.

``-`` is standard output: written as it goes (UTF-8, the CSV's own CRLF line ends,
whatever the locale), so a cancelled export there has already printed its first rows.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable
from typing import TextIO

from etcdmon_gui.store.files import STDOUT, check_output_path, write_output

__all__ = ["STDOUT", "Export", "check_output_path", "write_export"]

#: An export bound to everything but its stream: writes the report, returns its rows.
Export = Callable[[TextIO], int]


def write_export(path: str, export: Export, *, what: str = "--csv") -> int:
    """Run ``export`` into ``path`` (``-``: standard output); the rows it wrote. A file
    appears only complete (``store.files.write_output``): whatever ``export`` raises,
    ``ExportCancelled`` included, is raised again with nothing written."""
    if path == STDOUT:
        return _to_stdout(export)
    return write_output(path, export, what)


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
