"""Files a benchmark writes its results to: checked before any load, written whole.

A run can take minutes and load a cluster; a typo in an output path must not cost
that: ``check_output_path`` (``store.files``) says what is wrong with a path before
the run starts, and ``write_text`` writes the result whole (``store.files.write_output``).
"""

from __future__ import annotations

import json

from etcdmon_gui.bench.report import summary_csv, summary_json
from etcdmon_gui.model.bench import BenchResult, CheckPerfResult
from etcdmon_gui.store.files import STDOUT, check_output_path, write_output

__all__ = ["STDOUT", "check_output_path", "is_json", "summary_text", "write_text"]


def is_json(path: str) -> bool:
    """A summary is JSON when its file name ends in ``.json``, else CSV."""
    return path.lower().endswith(".json")


def write_text(path: str, text: str, what: str) -> None:
    """Write ``text`` (UTF-8, line ends as given) to ``path`` all at once."""
    write_output(path, lambda fh: fh.write(text), what)


def summary_text(path: str, result: BenchResult, verdict: CheckPerfResult | None = None) -> str:
    """The summary in the format the file name asks for (``.json``, else CSV)."""
    if is_json(path):
        return json.dumps(summary_json(result, verdict), indent=2) + "\n"
    return summary_csv(result, verdict)
