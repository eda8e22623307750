"""Files a benchmark writes its results to: checked before any load, written whole.

A run can take minutes and load a cluster; a typo in an output path must not cost
that. ``check_output_path`` says what is wrong with a path (a directory, a missing or
read-only directory, a read-only file) before the run starts; ``write_output`` writes
UTF-8 bytes to a temporary file beside the target and renames it over the target, so
a failed write never leaves half a file (or a stray temporary one). A new file is
private (0600): results name the cluster's endpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from etcdmon_gui.bench.report import summary_csv, summary_json
from etcdmon_gui.model.bench import BenchResult, CheckPerfResult
from etcdmon_gui.model.errors import ConfigError

STDOUT = "-"


def is_json(path: str) -> bool:
    """A summary is JSON when its file name ends in ``.json``, else CSV."""
    return path.lower().endswith(".json")


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
            f"e.g. {str(target / 'bench.csv')!r}"
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
            f"directory you can write to"
        )
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(f"{what}: {str(target)!r} exists and is read-only")
    return target


def write_output(path: str, text: str, what: str) -> None:
    """Write ``text`` (UTF-8, line ends as given) to ``path`` all at once."""
    target = check_output_path(path, what)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        if target.exists():  # keep its permissions; a new file stays private (0600)
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"{what}: cannot write {str(target)!r}: {exc.strerror or exc}") from None


def summary_text(path: str, result: BenchResult, verdict: CheckPerfResult | None = None) -> str:
    """The summary in the format the file name asks for (``.json``, else CSV)."""
    if is_json(path):
        return json.dumps(summary_json(result, verdict), indent=2) + "\n"
    return summary_csv(result, verdict)
