"""One JSON POST with a deadline, readable failures, and no secret URL in any log.

A Slack or generic webhook URL *is* a credential, so it must not reach a log line or an
error text. httpx logs every request's full URL at INFO (logger ``httpx``); a filter on
that logger redacts the URLs of requests made here (marked per thread while they run),
and leaves every other httpx user's log lines alone. Errors name the server only as
``scheme://host/…``.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import httpx

from etcdmon_gui.net import describe_network_error
from etcdmon_gui.notify.errors import ChannelError, redact_url
from etcdmon_gui.notify.payloads import USER_AGENT

log = logging.getLogger(__name__)

_marked = threading.local()


class _RedactNotifyUrls(logging.Filter):
    """Replaces URL arguments of httpx's records logged while a notify request runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_marked, "active", False) and isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


_FILTER = _RedactNotifyUrls()
logging.getLogger("httpx").addFilter(_FILTER)  # addFilter ignores a second add


@contextlib.contextmanager
def _redacting() -> Iterator[None]:
    before = getattr(_marked, "active", False)
    _marked.active = True
    try:
        yield
    finally:
        _marked.active = before


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    text: str  # the start of the body, for error messages
    retry_after: float | None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def post(
    url: str,
    body: bytes,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    verify: bool | ssl.SSLContext = True,
) -> Answer:
    """POST ``body`` as JSON; raise ``ChannelError`` for a network failure or a non-2xx
    answer (permanent for 4xx other than 408/429). Redirects are not followed: the
    body would go to a server the user did not configure. ``verify``: check the
    server's certificate (True), not (False), or with this context (a private CA)."""
    shown = redact_url(url)
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    try:
        with (
            _redacting(),
            httpx.Client(
                timeout=httpx.Timeout(timeout), verify=verify, follow_redirects=False
            ) as client,
        ):
            response = client.post(url, content=body, headers=all_headers)
            text = response.text[:300]
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        reason, permanent = describe_network_error(exc, timeout)
        raise ChannelError(f"POST {shown}: {reason}", permanent=permanent) from None
    answer = Answer(
        response.status_code,
        response.reason_phrase,
        text.strip(),
        _retry_after(response.headers.get("Retry-After")),
    )
    if 200 <= answer.status < 300:
        return answer
    detail = f": {answer.text.splitlines()[0][:200]}" if answer.text else ""
    message = f"POST {shown} answered {answer.status} {answer.reason}{detail}"
    if 300 <= answer.status < 400:
        raise ChannelError(message + " (redirects are not followed: check the URL)", permanent=True)
    transient = answer.status in (408, 425, 429) or answer.status >= 500
    raise ChannelError(message, permanent=not transient, retry_after=answer.retry_after)
