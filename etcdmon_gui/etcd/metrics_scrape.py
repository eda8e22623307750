"""Fetch and parse one etcd member's ``/metrics`` page.

Promises:

* ``filter_page`` keeps exactly the ``# HELP``/``# TYPE`` lines and sample lines of the
  families in ``WANTED`` (histogram ``_bucket``/``_sum``/``_count`` lines included) and
  drops everything else, without parsing; it is several times cheaper than parsing.
* ``parse_page`` turns a page into a ``RawScrape`` using ``prometheus_client``'s text
  parser on the filtered page only. Families a server version does not export are
  simply absent from the result.
* ``MetricsScraper.scrape`` fetches a metrics URL over one long-lived keep-alive HTTP/1.1
  client and either returns a ``RawScrape`` or raises ``MetricsError`` carrying a
  readable one-line message (``metrics at <url>: <reason>``), never a raw exception
  repr. One scraper may be used concurrently from several threads.
"""

from __future__ import annotations

import logging
import math
import ssl
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Final

import httpx
from prometheus_client.parser import text_string_to_metric_families

from etcdmon_gui.model.metrics import Histogram, RawScrape
from etcdmon_gui.net import describe_network_error, first_line, seconds

__all__ = [
    "GRPC_HANDLED",
    "MAX_PAGE_BYTES",
    "WANTED",
    "MetricsError",
    "MetricsScraper",
    "filter_page",
    "parse_page",
    "sample_key",
]

_log = logging.getLogger(__name__)

GRPC_HANDLED: Final = "grpc_server_handled_total"

#: Metric families the monitor reads. ``etcd_debugging_mvcc_db_total_size_in_bytes`` is
#: the pre-3.4 name of the db size, still exported next to the new name by 3.4 and gone
#: in 3.5; ``derive`` falls back to it.
WANTED: Final[tuple[str, ...]] = (
    "etcd_server_has_leader",
    "etcd_server_is_leader",
    "etcd_server_leader_changes_seen_total",
    "etcd_server_proposals_committed_total",
    "etcd_server_proposals_applied_total",
    "etcd_server_proposals_pending",
    "etcd_server_proposals_failed_total",
    "etcd_server_quota_backend_bytes",
    "etcd_server_heartbeat_send_failures_total",
    "etcd_disk_wal_fsync_duration_seconds",
    "etcd_disk_backend_commit_duration_seconds",
    "etcd_mvcc_db_total_size_in_bytes",
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "etcd_debugging_mvcc_db_total_size_in_bytes",
    "etcd_network_peer_round_trip_time_seconds",
    "etcd_network_peer_sent_failures_total",
    GRPC_HANDLED,
    "process_resident_memory_bytes",
)

#: A page larger than this is refused (etcd's pages are ~160 KB).
MAX_PAGE_BYTES: Final = 32 * 1024 * 1024


#: Sample names of the wanted families, histogram series included.
_SAMPLE_NAMES: Final = frozenset(
    f"{family}{suffix}" for family in WANTED for suffix in ("", "_bucket", "_sum", "_count")
)
_FAMILIES: Final = frozenset(WANTED)


class MetricsError(Exception):
    """A metrics page could not be fetched or parsed; ``str()`` is one readable line."""


def filter_page(text: str, *, keep_zero_grpc: bool = False) -> str:
    """Keep only the HELP/TYPE and sample lines of the ``WANTED`` families.

    Each line's metric name is cut out and looked up in a set, which costs a third of
    matching every line against every wanted prefix.

    ``grpc_server_handled_total`` samples whose value is exactly ``0`` are dropped unless
    ``keep_zero_grpc``: etcd pre-initialises one series per method and code (~700 lines,
    nearly all zero, half of a page) and a zero counter means the same as an absent one
    to every rate computed from it, so dropping them is lossless and makes parsing
    several times cheaper.
    """
    kept: list[str] = []
    keep = kept.append
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] == "#":
            if line[2:7] in ("HELP ", "TYPE ") and line[7 : line.find(" ", 7)] in _FAMILIES:
                keep(line)
            continue
        brace = line.find("{")
        name = line[:brace] if brace > 0 else line[: line.find(" ")]
        if name in _SAMPLE_NAMES and (
            keep_zero_grpc or name != GRPC_HANDLED or not line.endswith(" 0")
        ):
            keep(line)
    kept.append("")
    return "\n".join(kept)


def _escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample_key(name: str, labels: Mapping[str, str]) -> str:
    """The ``RawScrape`` key of a sample: ``name`` or ``name{a="x",b="y"}``.

    Labels are sorted by name; values are escaped as in the exposition format.
    """
    if not labels:
        return name
    inner = ",".join(f'{k}="{_escape_label_value(labels[k])}"' for k in sorted(labels))
    return f"{name}{{{inner}}}"


class _HistogramParts:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets: dict[float, float] = {}
        self.count: float | None = None
        self.sum: float = 0.0

    def build(self) -> Histogram:
        buckets = dict(self.buckets)
        if math.inf not in buckets:
            # Malformed page: the +Inf bucket is mandatory; synthesize it from _count.
            top = max(buckets.values(), default=0.0)
            buckets[math.inf] = max(top, self.count or 0.0)
        bounds = tuple(sorted(buckets))
        counts = tuple(buckets[b] for b in bounds)
        total = self.count if self.count is not None else counts[-1]
        return Histogram(bounds=bounds, counts=counts, total=total, sum=self.sum)


def parse_page(text: str, taken_at: float) -> RawScrape:
    """Parse the wanted families of a ``/metrics`` page into a ``RawScrape``.

    Histogram samples go to ``histograms``, ``grpc_server_handled_total`` to
    ``grpc_handled`` (summed over ``grpc_service``), every other sample to ``scalars``.
    Raises ``ValueError`` on a malformed page.
    """
    scalars: dict[str, float] = {}
    parts: dict[str, _HistogramParts] = {}
    grpc: dict[tuple[str, str, str], float] = {}
    for family in text_string_to_metric_families(filter_page(text)):
        if family.type == "histogram":
            bucket_name = family.name + "_bucket"
            sum_name = family.name + "_sum"
            for sample in family.samples:
                labels = dict(sample.labels)
                le = labels.pop("le", None)
                part = parts.setdefault(sample_key(family.name, labels), _HistogramParts())
                if sample.name == bucket_name and le is not None:
                    part.buckets[float(le)] = float(sample.value)
                elif sample.name == sum_name:
                    part.sum = float(sample.value)
                else:
                    part.count = float(sample.value)
            continue
        for sample in family.samples:
            if sample.name == GRPC_HANDLED:
                lab = sample.labels
                key = (
                    lab.get("grpc_method", ""),
                    lab.get("grpc_type", ""),
                    lab.get("grpc_code", ""),
                )
                grpc[key] = grpc.get(key, 0.0) + float(sample.value)
            else:
                scalars[sample_key(sample.name, sample.labels)] = float(sample.value)
    histograms = {key: part.build() for key, part in parts.items()}
    return RawScrape(taken_at=taken_at, scalars=scalars, histograms=histograms, grpc_handled=grpc)


class MetricsScraper:
    """Fetches ``/metrics`` pages over one shared keep-alive HTTP/1.1 client.

    ``verify`` is an ``ssl.SSLContext`` (CA, and client certificate for mTLS) or a bool;
    ``timeout`` bounds every phase of a request and the whole body download;
    ``sni_hostname`` overrides the TLS server name (and the name the certificate is
    verified against) when the URL's host is an IP address or an alias. Environment
    proxies are ignored (``trust_env=False``): members are scraped directly.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 2.0,
        sni_hostname: str | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._timeout = timeout
        self._extensions: dict[str, str] = {}
        if sni_hostname:
            self._extensions["sni_hostname"] = sni_hostname
        self._client = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(timeout),
            http1=True,
            http2=False,
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=32, keepalive_expiry=60.0
            ),
            headers={"Accept": "text/plain;version=0.0.4;q=1,*/*;q=0.1"},
        )

    @property
    def timeout(self) -> float:
        return self._timeout

    def fetch_text(self, url: str) -> str:
        """The page body at ``url`` as text; raises ``MetricsError`` on any failure."""
        deadline = time.monotonic() + self._timeout
        try:
            with self._client.stream("GET", url, extensions=self._extensions) as resp:
                if resp.status_code != 200:
                    phrase = f" {resp.reason_phrase}" if resp.reason_phrase else ""
                    raise MetricsError(f"metrics at {url}: HTTP {resp.status_code}{phrase}")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > MAX_PAGE_BYTES:
                        raise MetricsError(
                            f"metrics at {url}: page larger than {MAX_PAGE_BYTES} bytes"
                        )
                    if time.monotonic() > deadline:
                        raise MetricsError(
                            f"metrics at {url}: timed out after {seconds(self._timeout)} s"
                        )
                    chunks.append(chunk)
        except MetricsError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
            reason, _ = describe_network_error(exc, self._timeout)
            _log.debug("metrics fetch %s failed: %r", url, exc)
            raise MetricsError(f"metrics at {url}: {reason}") from exc
        # The text exposition format is UTF-8 by definition.
        return b"".join(chunks).decode("utf-8", errors="replace")

    def scrape(self, url: str) -> RawScrape:
        """Fetch and parse ``url``; the ``RawScrape`` is stamped with ``time.monotonic()``
        taken when the response arrived."""
        text = self.fetch_text(url)
        taken_at = time.monotonic()
        try:
            return parse_page(text, taken_at)
        except (ValueError, KeyError, IndexError) as exc:
            _log.debug("metrics parse %s failed: %r", url, exc)
            detail = first_line(str(exc)) or type(exc).__name__
            raise MetricsError(f"metrics at {url}: malformed page ({detail})") from exc

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> MetricsScraper:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
