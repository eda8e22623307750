"""Shared pieces of the notification unit tests: alert events, and no leaked threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.unit.notify.notify_events import EventFactory, make_event


@pytest.fixture
def event() -> EventFactory:
    return make_event


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """A dispatcher's workers must be gone when its test ends (close() joins them)."""
    before = set(threading.enumerate())
    yield
    leaked = [t.name for t in threading.enumerate()
              if t not in before and t.is_alive() and t.name.startswith("notify-")]
    assert not leaked, f"notification threads still running after the test: {leaked}"
