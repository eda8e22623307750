"""Tests for etcdmon_gui.etcd.metrics_scrape: filtering, parsing, fetching over HTTP(S)."""

from __future__ import annotations

import http.server
import math
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from etcdmon_gui.etcd.metrics_scrape import (
    WANTED,
    MetricsError,
    MetricsScraper,
    filter_page,
    parse_page,
    sample_key,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "metrics"
PAGES = sorted(FIXTURES.glob("etcd-*.txt"))
LOCALHOST = "127.0.0.1"

REQUIRED = {
    "etcd_server_has_leader",
    "etcd_server_is_leader",
    "etcd_server_leader_changes_seen_total",
    "etcd_server_proposals_committed_total",
    "etcd_server_proposals_applied_total",
    "etcd_server_proposals_pending",
    "etcd_server_proposals_failed_total",
    "etcd_server_quota_backend_bytes",
    "etcd_disk_wal_fsync_duration_seconds",
    "etcd_disk_backend_commit_duration_seconds",
    "etcd_mvcc_db_total_size_in_bytes",
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "etcd_network_peer_round_trip_time_seconds",
    "etcd_network_peer_sent_failures_total",
    "etcd_server_heartbeat_send_failures_total",
    "grpc_server_handled_total",
    "process_resident_memory_bytes",
}


def test_fixtures_present() -> None:
    assert [p.name for p in PAGES] == [
        "etcd-3.4.23-a.txt",
        "etcd-3.4.23-b.txt",
        "etcd-3.5.1-a.txt",
        "etcd-3.5.1-b.txt",
    ]


def test_wanted_lists_the_required_families() -> None:
    assert set(WANTED) >= REQUIRED
    assert len(set(WANTED)) == len(WANTED)


# ------------------------------------------------------------------ filter_page

Samples = dict[str, set[tuple[str, tuple[tuple[str, str], ...], float]]]


def wanted_samples(text: str) -> Samples:
    """Samples per family of the wanted families, parsing the whole text."""
    # prometheus_client names a counter family without its _total suffix.
    aliases = {w.removesuffix("_total"): w for w in WANTED} | {w: w for w in WANTED}
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        name = aliases.get(fam.name)
        if name is None:
            continue
        out.setdefault(name, set()).update(
            (s.name, tuple(sorted(s.labels.items())), s.value) for s in fam.samples
        )
    return out


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_filter_keeps_exactly_the_wanted_families(path: Path) -> None:
    text = path.read_text()
    full = wanted_samples(text)
    filtered_text = filter_page(text, keep_zero_grpc=True)
    assert wanted_samples(filtered_text) == full
    # ... and nothing else: every family in the filtered page is a wanted one.
    names = {fam.name for fam in text_string_to_metric_families(filtered_text)}
    assert names <= {w.removesuffix("_total") for w in WANTED} | set(WANTED)
    assert len(filtered_text.splitlines()) < len(text.splitlines()) * 0.6
    # Families present in the page: all required ones except peer sent failures, which
    # etcd prints only after a first failure.
    assert set(full) >= REQUIRED - {"etcd_network_peer_sent_failures_total"}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_filter_drops_only_zero_grpc_handled_by_default(path: Path) -> None:
    text = path.read_text()
    full = wanted_samples(text)
    grpc = full.pop("grpc_server_handled_total")
    nonzero = {s for s in grpc if s[2] != 0}
    assert 0 < len(nonzero) < 20 < len(grpc)  # the page is mostly zero gRPC series
    filtered = wanted_samples(filter_page(text))
    assert filtered.pop("grpc_server_handled_total") == nonzero
    assert filtered == full
    assert len(filter_page(text).splitlines()) < len(text.splitlines()) * 0.15


def test_filter_is_exact_about_names() -> None:
    text = "\n".join(
        [
            "# HELP etcd_server_has_leader Whether or not a leader exists.",
            "# TYPE etcd_server_has_leader gauge",
            "etcd_server_has_leader 1",
            "# HELP etcd_server_has_leader_extra a family whose name extends a wanted one",
            "# TYPE etcd_server_has_leader_extra gauge",
            "etcd_server_has_leader_extra 7",
            "process_resident_memory_bytes_max 9",
            "# a comment",
            "go_goroutines 12",
            'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 3',
            'etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 4',
            "etcd_disk_wal_fsync_duration_seconds_sum 0.5",
            "etcd_disk_wal_fsync_duration_seconds_count 4",
            'grpc_server_handled_total{grpc_code="OK",grpc_method="Put"} 0',
            'grpc_server_handled_total{grpc_code="OK",grpc_method="Range"} 10',
        ]
    )
    assert filter_page(text).splitlines() == [
        "# HELP etcd_server_has_leader Whether or not a leader exists.",
        "# TYPE etcd_server_has_leader gauge",
        "etcd_server_has_leader 1",
        'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 3',
        'etcd_disk_wal_fsync_duration_seconds_bucket{le="+Inf"} 4',
        "etcd_disk_wal_fsync_duration_seconds_sum 0.5",
        "etcd_disk_wal_fsync_duration_seconds_count 4",
        'grpc_server_handled_total{grpc_code="OK",grpc_method="Range"} 10',
    ]


# ------------------------------------------------------------------ parse_page


def test_sample_key_format() -> None:
    assert sample_key("up", {}) == "up"
    assert sample_key("x", {"b": "2", "a": 'q"\\'}) == 'x{a="q\\"\\\\",b="2"}'


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_parse_page_on_recorded_page(path: Path) -> None:
    text = path.read_text()
    raw = parse_page(text, 42.0)
    assert raw.taken_at == 42.0
    leader = re.search(r"^etcd_server_has_leader (\S+)$", text, re.MULTILINE)
    assert leader is not None
    assert raw.scalars["etcd_server_has_leader"] == float(leader.group(1))
    committed = re.search(r"^etcd_server_proposals_committed_total (\S+)$", text, re.MULTILINE)
    assert committed is not None
    assert raw.scalars["etcd_server_proposals_committed_total"] == float(committed.group(1))
    assert raw.scalars["etcd_server_quota_backend_bytes"] == 2 * 1024**3
    # No stray families.
    assert not any(k.startswith(("go_", "etcd_debugging_mvcc_put")) for k in raw.scalars)

    wal = raw.histograms["etcd_disk_wal_fsync_duration_seconds"]
    les = re.findall(
        r'^etcd_disk_wal_fsync_duration_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.MULTILINE
    )
    assert wal.bounds == tuple(sorted(float(le) for le, _ in les))
    assert len(wal.bounds) == 15
    assert wal.bounds[0] == 0.001
    assert wal.bounds[-1] == math.inf
    assert wal.counts == tuple(float(v) for _, v in les)
    assert all(a <= b for a, b in zip(wal.counts, wal.counts[1:], strict=False))
    count = re.search(r"^etcd_disk_wal_fsync_duration_seconds_count (\S+)$", text, re.MULTILINE)
    assert count is not None
    assert wal.total == float(count.group(1)) == wal.counts[-1]
    assert wal.sum > 0

    peers = re.findall(
        r'^etcd_network_peer_round_trip_time_seconds_count\{To="([^"]+)"\}', text, re.MULTILINE
    )
    assert len(peers) == 2
    for peer in peers:
        rtt = raw.histograms[f'etcd_network_peer_round_trip_time_seconds{{To="{peer}"}}']
        assert len(rtt.bounds) == 17
        assert rtt.bounds[0] == 0.0001
        assert rtt.bounds[-1] == math.inf

    puts = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("grpc_server_handled_total{")
        and 'grpc_method="Put"' in line
        and 'grpc_code="OK"' in line
    )
    assert puts > 0
    assert raw.grpc_handled[("Put", "unary", "OK")] == puts
    assert all(v > 0 for v in raw.grpc_handled.values())
    assert not any(k.startswith("grpc_server_handled_total") for k in raw.scalars)


def test_parse_page_sums_grpc_services_and_keys_labels() -> None:
    text = "\n".join(
        [
            "# TYPE grpc_server_handled_total counter",
            'grpc_server_handled_total{grpc_code="OK",grpc_method="Watch",'
            'grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} 3',
            'grpc_server_handled_total{grpc_code="OK",grpc_method="Watch",'
            'grpc_service="other.Watch",grpc_type="bidi_stream"} 4',
            "# TYPE etcd_network_peer_sent_failures_total counter",
            'etcd_network_peer_sent_failures_total{To="b"} 2',
            'etcd_network_peer_sent_failures_total{To="a"} 1',
            "",
        ]
    )
    raw = parse_page(text, 0.0)
    assert raw.grpc_handled == {("Watch", "bidi_stream", "OK"): 7.0}
    assert raw.scalars == {
        'etcd_network_peer_sent_failures_total{To="a"}': 1.0,
        'etcd_network_peer_sent_failures_total{To="b"}': 2.0,
    }


def test_parse_page_without_inf_bucket_synthesises_it() -> None:
    text = "\n".join(
        [
            "# TYPE etcd_disk_wal_fsync_duration_seconds histogram",
            'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.002"} 2',
            'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 1',
            "etcd_disk_wal_fsync_duration_seconds_sum 0.01",
            "etcd_disk_wal_fsync_duration_seconds_count 5",
            "",
        ]
    )
    h = parse_page(text, 0.0).histograms["etcd_disk_wal_fsync_duration_seconds"]
    assert h.bounds == (0.001, 0.002, math.inf)
    assert h.counts == (1.0, 2.0, 5.0)
    assert h.total == 5.0
    assert h.sum == 0.01


def test_parse_page_rejects_garbage() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - prometheus_client raises bare ValueError
        parse_page('etcd_server_has_leader{x="1" 1\n', 0.0)


# ------------------------------------------------------------------ MetricsScraper


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.client_ports.append(self.client_address[1])
        if self.path.startswith("/metrics"):
            body, status = self.server.page, 200
        elif self.path == "/secret":
            body, status = b"Unauthorized\n", 401
        else:
            body, status = b"not found\n", 404
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, page: bytes) -> None:
        super().__init__((LOCALHOST, 0), _Handler)
        self.page = page
        self.client_ports: list[int] = []

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client hanging up mid-handshake is expected in the TLS tests


@contextmanager
def serving(page: bytes, tls: ssl.SSLContext | None = None) -> Iterator[_Server]:
    server = _Server(page)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def url_of(server: _Server, path: str = "/metrics", scheme: str = "http") -> str:
    return f"{scheme}://{LOCALHOST}:{server.server_address[1]}{path}"


PAGE_35 = (FIXTURES / "etcd-3.5.1-b.txt").read_bytes()


def test_scrape_fetches_and_parses_over_one_connection() -> None:
    with serving(PAGE_35) as server, MetricsScraper(timeout=5.0) as scraper:
        first = scraper.scrape(url_of(server))
        second = scraper.scrape(url_of(server))
        ports = list(server.client_ports)
    expected = parse_page(PAGE_35.decode(), 0.0)
    assert first.scalars == expected.scalars
    assert first.histograms == expected.histograms
    assert first.grpc_handled == expected.grpc_handled
    assert second.taken_at >= first.taken_at
    assert len(ports) == 2
    assert ports[0] == ports[1], "keep-alive: both requests on one connection"


def test_scrape_concurrently_from_a_pool() -> None:
    with serving(PAGE_35) as server, MetricsScraper(timeout=5.0) as scraper:
        urls = [url_of(server, f"/metrics?member={i}") for i in range(8)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(scraper.scrape, urls))
    assert len(results) == 8
    assert all(r.scalars["etcd_server_has_leader"] == 1.0 for r in results)


def test_http_error_status() -> None:
    with serving(PAGE_35) as server, MetricsScraper(timeout=5.0) as scraper:
        url = url_of(server, "/secret")
        with pytest.raises(MetricsError) as info:
            scraper.scrape(url)
    assert str(info.value).startswith(f"metrics at {url}: HTTP 401")


def test_connection_refused() -> None:
    # A bound but not listening socket: the port is ours, and connecting is refused.
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        url = f"http://{LOCALHOST}:{sock.getsockname()[1]}/metrics"
        with MetricsScraper(timeout=5.0) as scraper, pytest.raises(MetricsError) as info:
            scraper.scrape(url)
    assert str(info.value) == f"metrics at {url}: connection refused"


def test_server_that_never_answers_times_out() -> None:
    # Listening but never accepting: the kernel completes the handshake, nobody replies.
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        sock.listen(4)
        url = f"http://{LOCALHOST}:{sock.getsockname()[1]}/metrics"
        with MetricsScraper(timeout=0.3) as scraper, pytest.raises(MetricsError) as info:
            scraper.scrape(url)
    assert str(info.value) == f"metrics at {url}: timed out after 0.3 s"


def test_malformed_page() -> None:
    with (
        serving(b'etcd_server_has_leader{x="1" 1\n') as server,
        MetricsScraper(timeout=5.0) as scraper,
    ):
        url = url_of(server)
        with pytest.raises(MetricsError) as info:
            scraper.scrape(url)
    assert str(info.value).startswith(f"metrics at {url}: malformed page")


def test_invalid_url() -> None:
    with MetricsScraper(timeout=1.0) as scraper, pytest.raises(MetricsError) as info:
        scraper.scrape("ftp://127.0.0.1/metrics")
    assert str(info.value).startswith("metrics at ftp://127.0.0.1/metrics: invalid URL")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    return ctx


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ca.configure_trust(ctx)
    return ctx


def test_tls_scrape_with_trusted_ca(ca: trustme.CA) -> None:
    with (
        serving(PAGE_35, tls_server_context(ca, LOCALHOST)) as server,
        MetricsScraper(verify=client_context(ca), timeout=5.0) as scraper,
    ):
        raw = scraper.scrape(url_of(server, scheme="https"))
    assert raw.scalars["etcd_server_has_leader"] == 1.0


def test_tls_untrusted_certificate(ca: trustme.CA) -> None:
    untrusted = ssl.create_default_context()  # system CAs only, not our test CA
    with (
        serving(PAGE_35, tls_server_context(ca, LOCALHOST)) as server,
        MetricsScraper(verify=untrusted, timeout=5.0) as scraper,
    ):
        url = url_of(server, scheme="https")
        with pytest.raises(MetricsError) as info:
            scraper.scrape(url)
    assert str(info.value) == (
        f"metrics at {url}: certificate verify failed: unable to get local issuer certificate"
    )


def test_tls_sni_hostname_override(ca: trustme.CA) -> None:
    # The certificate names only etcd.test; we connect to the IP address.
    tls = tls_server_context(ca, "etcd.test")
    with serving(PAGE_35, tls) as server:
        url = url_of(server, scheme="https")
        with (
            MetricsScraper(verify=client_context(ca), timeout=5.0) as plain,
            pytest.raises(MetricsError) as info,
        ):
            plain.scrape(url)
        with MetricsScraper(
            verify=client_context(ca), timeout=5.0, sni_hostname="etcd.test"
        ) as named:
            raw = named.scrape(url)
    message = str(info.value)
    assert message.startswith(f"metrics at {url}: certificate verify failed: ")
    assert "mismatch" in message
    assert "\n" not in message
    assert raw.scalars["etcd_server_has_leader"] == 1.0


def test_https_url_against_plain_http_server() -> None:
    with serving(PAGE_35) as server, MetricsScraper(timeout=5.0) as scraper:
        url = url_of(server, scheme="https")
        with pytest.raises(MetricsError) as info:
            scraper.scrape(url)
    message = str(info.value)
    assert message.startswith(f"metrics at {url}: TLS error: ")
    assert "Error(" not in message
    assert "<" not in message
