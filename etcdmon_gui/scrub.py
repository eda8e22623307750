"""Keeping secrets out of texts: logs, crash reports, delivery errors.

Two kinds of scrubbing, both pure text work (no Qt, no I/O), so every layer may use it:

* known values: ``scrub(text, secrets)`` replaces the given secret values; the
  process-wide registry (``remember_secret``) holds every value the process has read or
  written through ``store.secrets.SecretStore``, and ``scrub_text`` replaces those;
* shapes: ``scrub_patterns`` replaces what looks like a credential whatever its value:
  ``scheme://user:password@`` in URLs, ``Authorization: Bearer …`` / ``Basic …``,
  ``password=…``-like pairs (also quoted, as JSON or Python reprs write them) and PEM
  private key blocks.

``scrub_text`` does both and is what the log handlers and crash reports use. Nothing
here logs or raises with a secret in it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

MASK = "***"


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
            out[secret] = MASK
    return out


def _apply(text: str, ordered: Iterable[tuple[str, str]]) -> str:
    for secret, replacement in ordered:
        if secret not in text:
            continue
        if len(secret) < 4:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", replacement, text)
        else:
            text = text.replace(secret, replacement)
    return text


def _ordered(secrets: Iterable[str]) -> list[tuple[str, str]]:
    return sorted(_replacements(secrets).items(), key=lambda kv: len(kv[0]), reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced: URLs by their redacted form, anything else
    by ``***``. Longest first, so a secret that contains another goes whole. A very
    short secret is only replaced where it stands as a whole word, so that a
    three-letter password does not shred the rest of the message."""
    return _apply(text, _ordered(secrets))


# -- the process-wide registry of secret values ------------------------------------------


class _Registry:
    """Every secret value seen in this process; thread-safe, only ever grows (a deleted
    secret may still stand in an older text)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._ordered: list[tuple[str, str]] = []

    def add(self, value: str) -> None:
        forms = {value, value.strip()}
        escaped = repr(value)[1:-1]  # as a repr (a traceback's locals, a dataclass) shows it
        forms.add(escaped)
        forms.discard("")
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            self._ordered = _ordered(self._values)

    def ordered(self) -> list[tuple[str, str]]:
        with self._lock:
            return self._ordered

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._ordered = []


_registry = _Registry()


def remember_secret(value: str | bytes | None) -> None:
    """Scrub ``value`` from every log record and crash report from now on."""
    if value is None:
        return
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value.strip():
        _registry.add(value)


def forget_all_secrets() -> None:
    """Empty the registry (tests)."""
    _registry.clear()


# -- shapes of credentials -----------------------------------------------------------------

_KEY_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|"
    r"private[_-]?key|routing[_-]?key|credentials?|auth[_-]?key|master[_-]?password"
)
_KEY = rf"[\w.-]*(?:{_KEY_WORDS})[\w.-]*"

_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # PEM private keys, whole (also as a repr with "\n" escapes), or cut off at the end.
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----"
            r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*\Z)",
            re.DOTALL,
        ),
        rf"-----BEGIN \1PRIVATE KEY----- {MASK} -----END \1PRIVATE KEY-----",
    ),
    # scheme://user:password@host -> scheme://user:***@host; scheme://token@ -> ***@
    (
        re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s/@:'\"]*):[^\s/@'\"]*@"),
        rf"\g<scheme>\g<user>:{MASK}@",
    ),
    (
        re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^\s/@:'\"]+@"),
        rf"\g<scheme>{MASK}@",
    ),
    # Authorization headers, and a bare "Bearer <token>" / "Basic <base64>".
    (
        re.compile(
            r"(?P<head>\b(?:Proxy-)?Authorization\b['\"]?\s*[:=]\s*['\"]?)"
            r"(?:(?P<scheme>Bearer|Basic|Token|Digest|Negotiate)\s+)?[^\s'\",;}\]]+",
            re.IGNORECASE,
        ),
        lambda m: f"{m['head']}{m['scheme'] + ' ' if m['scheme'] else ''}{MASK}",
    ),
    (
        re.compile(r"\b(?P<scheme>Bearer|Basic)\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]{6,}"),
        rf"\g<scheme> {MASK}",
    ),
    # "password": "x" / 'token': 'x' (JSON, Python reprs of dicts)
    (
        re.compile(
            rf"(?P<key>(?P<q>['\"]){_KEY}(?P=q)\s*:\s*)(?P<vq>['\"])(?:\\.|(?!(?P=vq)).)*(?P=vq)",
            re.IGNORECASE,
        ),
        rf"\g<key>\g<vq>{MASK}\g<vq>",
    ),
    # password=x, token='x', secret="x" (query strings, reprs, command lines)
    (
        re.compile(
            rf"(?P<key>\b{_KEY}\s*=\s*)(?:'(?:\\.|[^'])*'|\"(?:\\.|[^\"])*\"|[^\s&,;'\")\]}}]+)",
            re.IGNORECASE,
        ),
        rf"\g<key>{MASK}",
    ),
    # X-Auth-Token: abc, X-Api-Key: abc (HTTP headers named for a secret)
    (
        re.compile(r"(?P<key>\bX-[\w-]*(?:Token|Key|Secret|Password)\s*:\s*)\S+", re.IGNORECASE),
        rf"\g<key>{MASK}",
    ),
)


def scrub_patterns(text: str) -> str:
    """``text`` with everything shaped like a credential masked (see the module)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without any registered secret, any of ``secrets``, nor anything shaped
    like a credential."""
    extra = list(secrets)
    if extra:
        text = scrub(text, extra)
    text = _apply(text, _registry.ordered())
    return scrub_patterns(text)
