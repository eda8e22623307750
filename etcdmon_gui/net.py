"""Readable reasons for network failures, shared by the ``/metrics`` scraper (``etcd/``)
and the notification channels (``notify/``), which must not know each other."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import httpx


def seconds(value: float) -> str:
    """``0.3``, ``2.0``, ``0.25``: a timeout as people set it."""
    text = f"{value:.1f}"
    return text if float(text) == value else f"{value:g}"


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or during, each once."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def first_line(text: str) -> str:
    """The first line of a message, without its full stop, lower-cased unless it starts
    with an acronym."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = line.rstrip(".")
    return line[:1].lower() + line[1:] if line[:2] != line[:2].upper() else line


def describe_network_error(exc: BaseException, timeout: float) -> tuple[str, bool]:
    """A short lower-case reason for a failed request (without the URL), and whether it
    is permanent (retrying cannot help)."""
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {seconds(timeout)} s", False
    for link in exception_chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            reason = link.verify_message or link.reason or "unknown reason"
            return f"certificate verify failed: {first_line(str(reason))}", True
        if isinstance(link, ssl.SSLError):
            reason = (link.reason or "").replace("_", " ").lower()
            return f"TLS error: {reason or first_line(str(link))}", False
        if isinstance(link, ConnectionRefusedError):
            return "connection refused", False
        if isinstance(link, socket.gaierror):
            return f"cannot resolve host ({first_line(link.strerror or str(link))})", False
        if isinstance(link, TimeoutError):
            return f"timed out after {seconds(timeout)} s", False
        if isinstance(link, OSError) and link.strerror:
            return first_line(link.strerror), False
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return f"invalid URL ({first_line(str(exc))})", True
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"protocol error ({first_line(str(exc))})", False
    return first_line(str(exc)) or type(exc).__name__, False
