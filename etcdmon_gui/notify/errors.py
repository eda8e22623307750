"""The one error a channel raises, and the scrubbing that keeps secrets out of texts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit


class ChannelError(Exception):
    """A delivery attempt failed; the message is readable and holds no secret.

    ``permanent`` says that trying again cannot help (a refused login, a 4xx answer, a
    missing secret): the dispatcher then fails the delivery at once instead of
    retrying. ``retry_after`` is the server's requested wait in seconds, if it gave one.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: enough to recognise the server, nothing of the path,
    query or credentials (a webhook's path is its password)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not host:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return f"{parts.scheme}://{netloc}/…"


def _replacements(secrets: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for secret in secrets:
        if not secret:
            continue
        if "://" in secret:
            out[secret] = redact_url(secret)
            try:
                parts = urlsplit(secret)
            except ValueError:
                continue
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            if len(tail) >= 8:  # the path alone (e.g. quoted by a server) is secret too
                out.setdefault(tail, "/…")
        else:
            out[secret] = "***"
    return out


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced: URLs by their redacted form, anything else
    by ``***``. Longest first, so a secret that contains another goes whole. A very
    short secret is only replaced where it stands as a whole word, so that a
    three-letter password does not shred the rest of the message."""
    for secret, replacement in sorted(
        _replacements(secrets).items(), key=lambda kv: len(kv[0]), reverse=True
    ):
        if secret not in text:
            continue
        if len(secret) < 4:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", replacement, text)
        else:
            text = text.replace(secret, replacement)
    return text
