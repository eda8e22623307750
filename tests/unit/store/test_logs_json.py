"""``--log-format json``: one JSON object per line, scrubbed like the text lines."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from etcdmon_gui.scrub import remember_secret
from etcdmon_gui.store.logs import remove_logging, setup_logging


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the JSON stderr handler writes."""
    setup_logging("INFO", file=False, log_format="json")
    out = io.StringIO()
    handlers = [
        h
        for h in logging.getLogger().handlers
        if type(h) is logging.StreamHandler and h.formatter.__class__.__name__ == "JsonFormatter"
    ]
    assert len(handlers) == 1
    handlers[0].setStream(out)
    yield out
    remove_logging()


def test_json_lines(json_log: io.StringIO) -> None:
    remember_secret("s3cr3t-value-for-json")
    log = logging.getLogger("etcdmon_gui.test")
    log.info("plain %s", "message")
    try:
        raise ValueError("boom with s3cr3t-value-for-json")
    except ValueError:
        log.exception("failed: password=hunter2")
    first, second = (json.loads(x) for x in json_log.getvalue().splitlines())
    assert set(first) == {"time", "level", "logger", "thread", "message", "exception"}
    assert first["message"] == "plain message" and first["level"] == "INFO"
    assert first["logger"] == "etcdmon_gui.test" and first["thread"] == "MainThread"
    assert first["time"].endswith("Z") and first["exception"] is None
    assert second["level"] == "ERROR" and "ValueError" in second["exception"]
    assert "s3cr3t-value-for-json" not in json_log.getvalue()
    assert "hunter2" not in json_log.getvalue()


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="text or json"):
        setup_logging("INFO", file=False, log_format="xml")
