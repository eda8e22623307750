"""An internal error as the user is told about it: the crash report (already scrubbed
of secrets) and how often the same error came back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CrashReport:
    """A written (or, when the disk refused, only composed) crash report.

    ``path`` is None when the file could not be written; ``text`` is the whole report,
    scrubbed. ``log_dir`` is the folder of the log file and the reports, if known.
    """

    path: Path | None
    text: str
    where: str = ""
    log_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class CrashNotice:
    """One report of the crash handler: the report, where the error happened, and how
    many times this same error (same traceback) has happened since its report was
    written (1: just now, the first time)."""

    report: CrashReport
    where: str
    count: int = 1
