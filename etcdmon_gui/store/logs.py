"""The application's log file and crash reports, both kept free of secrets.

``setup_logging`` puts three handlers on the root logger: a rotating file in the user
log folder (platformdirs; 1 MiB x 5 files, UTF-8, readable by the user only, UTC ISO
times and thread names), stderr (the short format the app always had) and a small
in-memory ring of the latest records that crash reports quote. A ``ScrubFilter`` on
each replaces every secret the process knows (``etcdmon_gui.scrub``: what
``SecretStore`` read or wrote) and anything shaped like a credential, in the message and
in the traceback. A log file that cannot be opened does not stop the app: it logs to
stderr only and says which file and why.

``write_crash_report`` writes one internal error as a file beside the log
(``crash-<UTC time>-<pid>.txt``, user-only, at most ``MAX_CRASH_REPORTS`` kept): the
versions, the thread, where it happened, the traceback and the latest log records,
scrubbed. It never raises: a report it could not write still comes back as text.

``log_format="json"`` (``etcdmon serve --log-format json``) writes every record as one
JSON object per line (``JsonFormatter``: time in UTC, level, logger, thread, message,
exception), scrubbed like the text lines, for log collectors.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import logging
import logging.handlers
import os
import platform
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import platformdirs

from etcdmon_gui import __version__
from etcdmon_gui.model.crash import CrashReport
from etcdmon_gui.scrub import scrub_text
from etcdmon_gui.store.files import APP_NAME

log = logging.getLogger(__name__)

LOG_FILE_NAME = "etcdmon-gui.log"
MAX_BYTES = 1024 * 1024
BACKUP_COUNT = 4  # the file and 4 older ones: 5 files
MAX_CRASH_REPORTS = 20
RING_SIZE = 100

FILE_FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"


def log_dir() -> Path:
    """Where the log file and the crash reports live (platformdirs' user log folder)."""
    return platformdirs.user_log_path(APP_NAME)


def parse_level(level: str | int) -> int:
    """``"warning"``, ``"DEBUG"``, ``30`` -> a logging level; ValueError otherwise."""
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.strip().upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}: DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return value


class UtcFormatter(logging.Formatter):
    """Times as UTC ISO 8601 to the millisecond (``2024-05-01T12:00:00.123Z``)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = datetime.fromtimestamp(record.created, tz=UTC)
        return f"{stamp:%Y-%m-%dT%H:%M:%S}.{int(record.msecs):03d}Z"


class ScrubFilter(logging.Filter):
    """Replaces secrets in a record's final message, traceback and stack text (the
    record itself, so every handler after this one sees the scrubbed text too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format: the handler reports it (without the args)
            record.args = None
            message = str(record.msg)
        record.msg = scrub_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return True


_PLAIN = logging.Formatter()

LOG_FORMATS = ("text", "json")


class JsonFormatter(UtcFormatter):
    """One JSON object per record and line: ``time`` (UTC ISO 8601 to the
    millisecond), ``level``, ``logger``, ``thread``, ``message`` and ``exception`` (the
    traceback, or null). The ``ScrubFilter`` on the handler has scrubbed the record."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        exception = record.exc_text
        if record.exc_info and not exception:
            exception = scrub_text(self.formatException(record.exc_info))
        if record.stack_info:
            exception = "\n".join(x for x in (exception, record.stack_info) if x)
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "thread": record.threadName,
                "message": message,
                "exception": exception or None,
            },
            ensure_ascii=False,
        )


class RingHandler(logging.Handler):
    """The latest ``size`` records, formatted, for crash reports."""

    def __init__(self, size: int = RING_SIZE) -> None:
        super().__init__()
        self._lines: collections.deque[str] = collections.deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def lines(self) -> list[str]:
        return list(self._lines)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file whose every generation is created readable by the user only."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)  # a file left by an older version may be wider
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


@dataclass
class _State:
    handlers: list[logging.Handler]
    level: int = logging.WARNING
    directory: Path | None = None
    file: Path | None = None  # the log file in use (None: stderr only)


_lock = threading.RLock()
_state = _State(handlers=[])
_ring = RingHandler()


def _root_level(level: int) -> int:
    # The ring keeps INFO records for crash reports even when the log shows warnings only.
    return min(level, logging.INFO)


def setup_logging(
    level: str | int = "WARNING",
    directory: Path | None = None,
    *,
    stderr: bool = True,
    file: bool = True,
    log_format: str = "text",
) -> Path:
    """Log to a rotating file in ``directory`` (default ``log_dir()``), to stderr and to
    the ring crash reports quote; returns the log file's path. ``file=False``: stderr
    and the ring only (a server under systemd or in a container). ``log_format``
    "json": the file and stderr get one JSON object per line (``JsonFormatter``).

    Calling it again replaces the handlers it installed (never duplicates them). When
    the file cannot be opened (a read-only folder, a path below a file), records go to
    stderr only (even with ``stderr=False``) and a warning says which file and why;
    the path returned is then the one that failed (``log_file()`` is None).
    """
    value = parse_level(level)
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r}: text or json")
    as_json = log_format == "json"
    folder = directory if directory is not None else log_dir()
    path = folder / LOG_FILE_NAME
    scrubber = ScrubFilter()
    with _lock:
        remove_logging()
        handlers: list[logging.Handler] = []
        problem: str | None = None
        if file:
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                file_handler = PrivateRotatingFileHandler(
                    path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
                )
            except OSError as exc:
                problem = exc.strerror or str(exc)
            else:
                file_handler.setFormatter(JsonFormatter() if as_json else UtcFormatter(FILE_FORMAT))
                handlers.append(file_handler)
        if stderr or problem is not None or not file:
            err = logging.StreamHandler(sys.stderr)
            err.setFormatter(JsonFormatter() if as_json else logging.Formatter(STDERR_FORMAT))
            handlers.append(err)
        _ring.setFormatter(UtcFormatter(FILE_FORMAT))
        handlers.append(_ring)
        root = logging.getLogger()
        for handler in handlers:
            handler.addFilter(scrubber)
            handler.setLevel(value if handler is not _ring else _root_level(value))
            root.addHandler(handler)
        root.setLevel(_root_level(value))
        _state.handlers = handlers
        _state.level = value
        _state.directory = folder
        _state.file = None if problem is not None or not file else path
    if problem is not None:
        log.warning("cannot write the log file %s (%s): logging to stderr only", path, problem)
    return path


def set_level(level: str | int) -> None:
    """Change the level of the log at run time (the settings dialog)."""
    value = parse_level(level)
    with _lock:
        _state.level = value
        for handler in _state.handlers:
            handler.setLevel(value if handler is not _ring else _root_level(value))
        logging.getLogger().setLevel(_root_level(value))


def current_level() -> int:
    return _state.level


def log_file() -> Path | None:
    """The log file being written, or None (not set up, or stderr only)."""
    return _state.file


def remove_logging() -> None:
    """Take the handlers ``setup_logging`` installed off the root logger and close them
    (tests; a second ``setup_logging`` does it itself)."""
    with _lock:
        root = logging.getLogger()
        for handler in _state.handlers:
            root.removeHandler(handler)
            handler.filters.clear()
            if handler is not _ring:
                handler.close()
        _state.handlers = []
        _state.file = None


def recent_records() -> list[str]:
    """The latest log records (formatted, scrubbed), oldest first."""
    return _ring.lines()


# -- crash reports -----------------------------------------------------------------------


def crash_dir() -> Path:
    """Where crash reports go: the log's folder (set up or default)."""
    return _state.directory if _state.directory is not None else log_dir()


def compose_crash_report(
    exc: BaseException,
    *,
    where: str,
    versions: Mapping[str, str] | None = None,
    thread: str | None = None,
    now: datetime | None = None,
) -> str:
    """The text of a crash report, scrubbed."""
    stamp = now or datetime.now(tz=UTC)
    lines = [
        "etcdmon-gui crash report",
        f"time: {stamp:%Y-%m-%dT%H:%M:%SZ}",
        f"where: {where}",
        f"thread: {thread or threading.current_thread().name}",
        f"pid: {os.getpid()}",
        f"etcdmon-gui: {__version__}",
        f"Python: {platform.python_version()} ({platform.python_implementation()})",
        f"platform: {platform.platform()}",
    ]
    lines += [f"{name}: {value}" for name, value in (versions or {}).items()]
    current = _state.file
    lines.append(f"log file: {current if current is not None else '(stderr only)'}")
    lines += ["", "".join(traceback.format_exception(exc)).rstrip()]
    records = recent_records()
    lines += ["", f"Latest log records ({len(records)}):", *records]
    return scrub_text("\n".join(lines) + "\n")


def write_crash_report(
    exc: BaseException,
    *,
    where: str,
    directory: Path | None = None,
    versions: Mapping[str, str] | None = None,
    thread: str | None = None,
) -> CrashReport:
    """Write a crash report for ``exc`` (see the module); never raises. The report's
    ``path`` is None when the file could not be written (the text is still there)."""
    folder = directory if directory is not None else crash_dir()
    now = datetime.now(tz=UTC)
    try:
        text = compose_crash_report(exc, where=where, versions=versions, thread=thread, now=now)
    except Exception as failure:  # pragma: no cover - a last resort, still scrubbed
        text = _last_resort(exc, where, failure)
    try:
        path = _write_private(folder, f"crash-{now:%Y%m%dT%H%M%SZ}-{os.getpid()}", text)
    except Exception as failure:
        with contextlib.suppress(Exception):
            log.warning("could not write a crash report in %s: %s", folder, failure)
        return CrashReport(None, text, where, folder)
    with contextlib.suppress(Exception):
        prune_crash_reports(folder)
    return CrashReport(path, text, where, folder)


def _last_resort(exc: BaseException, where: str, failure: BaseException) -> str:
    try:
        body = "".join(traceback.format_exception(exc))
    except Exception:
        body = f"{type(exc).__name__}"
    return scrub_text(
        f"etcdmon-gui crash report (incomplete: {type(failure).__name__})\nwhere: {where}\n\n{body}"
    )


def _write_private(folder: Path, stem: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for n in range(1, 100):
        path = folder / (f"{stem}.txt" if n == 1 else f"{stem}-{n}.txt")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with open(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path
    raise FileExistsError(f"too many crash reports named {stem}* in {folder}")


def crash_reports(folder: Path | None = None) -> list[Path]:
    """The crash reports in ``folder`` (default ``crash_dir()``), oldest first."""
    where = folder if folder is not None else crash_dir()
    found: list[tuple[int, str, Path]] = []
    for path in where.glob("crash-*.txt"):
        with contextlib.suppress(OSError):
            found.append((path.stat().st_mtime_ns, path.name, path))
    return [p for _, _, p in sorted(found)]


def prune_crash_reports(folder: Path, keep: int = MAX_CRASH_REPORTS) -> None:
    """Delete all but the newest ``keep`` crash reports."""
    reports = crash_reports(folder)
    for path in reports[: max(0, len(reports) - keep)]:
        with contextlib.suppress(OSError):
            path.unlink()
