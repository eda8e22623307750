"""Shared pieces of the notification unit tests: alert events."""

from __future__ import annotations

import pytest

from tests.unit.notify.notify_events import EventFactory, make_event


@pytest.fixture
def event() -> EventFactory:
    return make_event
