"""X.509 certificates as the monitor shows them, and what one TLS check of a member found.

``CertInfo`` is what a person (or an alert rule) needs of a certificate: names, validity
and identity, never key material. ``CertCheck`` is the outcome of looking at one
member's TLS endpoint: the certificates it presented, whether they verified with the
application's trust settings, and if not, why, in words.
"""

from __future__ import annotations

from dataclasses import dataclass

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class CertInfo:
    """One certificate, reduced to what can be displayed and alerted on.

    ``subject`` and ``issuer`` are RFC 4514 strings (most specific part first, e.g.
    ``CN=etcd-0,O=example``). ``sans`` lists the DNS names and IP addresses of the
    subjectAltName extension as text, in certificate order. Validity bounds are UNIX
    timestamps (UTC). ``serial`` and ``fingerprint_sha256`` are lower-case hex without
    separators; the fingerprint is over the DER encoding. ``self_signed`` means the
    certificate names itself as issuer and its signature checks out with its own key
    (a root CA, or a server certificate nobody signed).
    """

    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: float
    not_after: float
    serial: str
    fingerprint_sha256: str
    self_signed: bool

    def days_left(self, now: float) -> float:
        """Days from ``now`` (UNIX time) until ``not_after``; negative once expired."""
        return (self.not_after - now) / SECONDS_PER_DAY

    def expired(self, now: float) -> bool:
        return now > self.not_after

    def not_yet_valid(self, now: float) -> bool:
        return now < self.not_before


@dataclass(frozen=True, slots=True)
class CertCheck:
    """What one look at a TLS endpoint found, stamped with when it looked.

    ``chain`` holds the certificates that could be read, leaf first; it may end with
    issuers taken from the configured CA bundle rather than from the wire (Python
    before 3.13 only exposes the peer's leaf). It is empty when no handshake completed.
    ``verified`` is true only if the server's certificate verified against the same
    trust as the application uses (CA bundle and host name or server-name override).
    Otherwise ``error`` says why in a readable sentence, and ``chain`` may still show
    what the server presents (e.g. an expired certificate).
    """

    endpoint: str  # the client URL that was checked
    chain: tuple[CertInfo, ...]
    verified: bool
    error: str | None
    checked_at: float  # UNIX time

    @property
    def leaf(self) -> CertInfo | None:
        """The server's own certificate, if it could be read."""
        return self.chain[0] if self.chain else None

    def days_left(self, now: float) -> float | None:
        """Days until the first certificate of the chain expires (None: nothing read).

        Any expired link breaks the connection, so this is the figure to alert on.
        """
        if not self.chain:
            return None
        return min(cert.days_left(now) for cert in self.chain)
