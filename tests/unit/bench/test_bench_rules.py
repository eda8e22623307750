"""Pure rules: rate limiter, key shapes, parameter checks, check perf presets and verdicts,
the production guard, reports."""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import replace

import pytest

from etcdmon_gui.bench import checkperf, report, workloads
from etcdmon_gui.bench.grpc_h2 import grpc_timeout
from etcdmon_gui.bench.limiter import RateLimiter
from etcdmon_gui.bench.safety import ConfirmationRequiredError, require_confirmation
from etcdmon_gui.model.bench import (
    BenchResult,
    BenchSpec,
    CleanupReport,
    ErrorCount,
    HistogramBucket,
    LatencySummary,
    SecondPoint,
    Workload,
)
from etcdmon_gui.model.errors import ConfigError

# -- rate limiter --------------------------------------------------------------------


def test_burst_one_spaces_reservations_evenly() -> None:
    lim = RateLimiter(100.0, 1)
    waits = [lim.reserve(10.0) for _ in range(4)]  # four clients asking at once
    assert waits == pytest.approx([0.0, 0.01, 0.02, 0.03])


def test_an_idle_limiter_holds_one_token_only() -> None:
    lim = RateLimiter(10.0, 1)
    assert lim.reserve(0.0) == 0.0
    assert lim.reserve(5.0) == 0.0  # a long pause does not bank more than the burst
    assert lim.reserve(5.0) == pytest.approx(0.1)


def test_burst_allows_that_many_at_once() -> None:
    lim = RateLimiter(100.0, 100)  # watch-latency's limiter
    assert all(lim.reserve(0.0) == 0.0 for _ in range(100))
    assert lim.reserve(0.0) == pytest.approx(0.01)


def test_grpc_timeout_header() -> None:
    assert grpc_timeout(10) == "10000m"
    assert grpc_timeout(0.0001) == "1m"
    assert grpc_timeout(200_000) == "200000S"


# -- keys and parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "encoded"),
    [(0, "00"), (1, "02"), (63, "7e"), (64, "8001"), (2**62, "808080808080808080" + "01")],
)
def test_keys_use_gos_putvarint(n: int, encoded: str) -> None:
    assert workloads.go_varint(n).hex() == encoded


def test_numbered_keys_live_under_the_prefix_and_have_the_asked_size() -> None:
    key = workloads.numbered_key(b"/p/", 300, 8)
    assert key == b"/p/" + bytes.fromhex("d804") + bytes(6)
    with pytest.raises(ConfigError, match="key size"):
        workloads.numbered_key(b"/p/", 2**40, 4)


def test_prefix_end() -> None:
    assert workloads.prefix_end(b"/etcdmon-bench/") == b"/etcdmon-bench0"
    assert workloads.prefix_end(b"a\xff") == b"b"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prefix": "/"}, "dedicated prefix"),
        ({"prefix": ""}, "dedicated prefix"),
        ({"clients": 0}, "--clients"),
        ({"key_space_size": 0}, "--key-space-size"),
        ({"workload": Workload.TXN_PUT, "txn_ops": 3, "key_space_size": 2}, "--txn-ops"),
        ({"key_size": 1, "key_space_size": 100}, "key size"),
        ({"duration_s": 0.0}, "--duration"),
        ({"val_size": 2_000_000}, "request limit"),
    ],
)
def test_validation_refuses_what_tools_benchmark_refuses(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        workloads.validate(replace(BenchSpec(), **change))  # type: ignore[arg-type]


def test_put_keys_sequential_random_and_check_perf() -> None:
    spec = BenchSpec(key_space_size=3, sequential_keys=True, val_size=4, prefix="/b/")
    src = workloads.PutSource(spec, random.Random(1))
    messages = [src.request(i)[1] for i in range(4)]
    assert messages[0] == messages[3] != messages[1]
    path, message, kind = src.request(0)
    assert (path, kind) == (workloads.KV_PUT, "put")
    assert message[5:].startswith(b"\x0a\x0b/b/" + bytes(8))  # key field, 3 + 8 bytes
    perf = workloads.PutSource(checkperf.check_perf_spec(checkperf.PRESETS["s"]), random.Random(2))
    a, b = perf.request(0)[1], perf.request(1)[1]
    assert a != b and len(a) == len(b) == 5 + 3 + len(b"/etcdmon-bench/") + 256 + 3 + 1024
    assert a.endswith(bytes(1024))  # check perf's values are zeros


def test_txn_put_writes_txn_ops_distinct_keys() -> None:
    from pyetcd import etcdrpc

    spec = BenchSpec(workload=Workload.TXN_PUT, txn_ops=3, key_space_size=5)
    _, message, _ = workloads.TxnPutSource(spec).request(1)
    txn = etcdrpc.TxnRequest.FromString(message[5:])
    keys = [op.request_put.key for op in txn.success]
    assert [workloads.go_varint(n) for n in (3, 4, 0)] == [k[len(spec.prefix) :][:1] for k in keys]


@pytest.mark.parametrize(
    ("txn_ops", "key_space", "key_size", "val_size"),
    [(1, 1, 8, 256), (4, 10, 8, 0), (3, 7, 200, 300), (2, 10**7, 16, 64)],
    ids=["one-put", "empty-value", "long-keys", "uncached-space"],
)
def test_txn_put_bytes_are_what_protobuf_would_build(
    txn_ops: int, key_space: int, key_size: int, val_size: int
) -> None:
    """The hand-encoded txns parse back to, and serialise exactly as, protobuf's."""
    from pyetcd import etcdrpc

    spec = BenchSpec(
        workload=Workload.TXN_PUT,
        txn_ops=txn_ops,
        key_space_size=key_space,
        key_size=key_size,
        val_size=val_size,
        prefix="/bench/é/",
    )
    src = workloads.TxnPutSource(spec)
    for i in (0, 1, 5, 123_457):
        _, message, _ = src.request(i)
        assert message[0] == 0 and int.from_bytes(message[1:5], "big") == len(message) - 5
        txn = etcdrpc.TxnRequest.FromString(message[5:])
        value = txn.success[0].request_put.value
        assert len(value) == val_size
        keys = [
            workloads.numbered_key(spec.prefix.encode(), (i * txn_ops + j) % key_space, key_size)
            for j in range(txn_ops)
        ]
        expected = etcdrpc.TxnRequest(
            success=[
                etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k, value=value)) for k in keys
            ]
        )
        assert message[5:] == expected.SerializeToString()


def test_txn_requests_are_built_once_per_key_like_puts() -> None:
    """A txn-put request is as cheap to make as a put (a cached message), not a new
    protobuf object graph each time: that cost ~4.5 µs of the ~18 µs a request may use."""
    spec = BenchSpec(workload=Workload.TXN_PUT, txn_ops=2, key_space_size=6, val_size=256)
    src = workloads.TxnPutSource(spec)
    assert src.request(1)[1] is src.request(4)[1]  # same first key (2 and 8 % 6 == 2)
    mixed = workloads.TxnMixedSource(
        BenchSpec(workload=Workload.TXN_MIXED, rw_ratio=0.0, key_space_size=3), random.Random(1)
    )
    assert mixed.request(0)[1] is mixed.request(3)[1]  # writes too


def test_txn_mixed_reads_stay_in_the_prefix_and_follow_the_ratio() -> None:
    from pyetcd import etcdrpc

    spec = BenchSpec(workload=Workload.TXN_MIXED, rw_ratio=3.0, limit=1000, key_space_size=10)
    src = workloads.TxnMixedSource(spec, random.Random(3))
    kinds = [src.request(i)[2] for i in range(4000)]
    assert kinds.count("read") / len(kinds) == pytest.approx(0.75, abs=0.03)
    read = next(m for _, m, kind in (src.request(i) for i in range(100)) if kind == "read")
    rng = etcdrpc.TxnRequest.FromString(read[5:]).success[0].request_range
    assert (rng.key, rng.range_end, rng.limit) == (b"/etcdmon-bench/", b"/etcdmon-bench0", 1000)


# -- check perf ----------------------------------------------------------------------


def test_presets_match_etcdctl() -> None:
    assert {k: (p.limit, p.clients, p.duration_s) for k, p in checkperf.PRESETS.items()} == {
        "s": (150, 50, 60),
        "m": (1000, 200, 60),
        "l": (8000, 500, 60),
        "xl": (15000, 1000, 60),
    }
    assert checkperf.preset("xLarge").name == "xl"
    with pytest.raises(ValueError, match="unknown load"):
        checkperf.preset("xxl")
    spec = checkperf.check_perf_spec(checkperf.PRESETS["m"], duration_s=5)
    assert (spec.rate, spec.clients, spec.conns, spec.key_size, spec.val_size) == (
        1000,
        200,
        200,
        256,
        1024,
    )
    assert spec.random_keys and spec.require_empty_prefix
    assert not spec.compact  # etcdctl check perf compacts only with --auto-compact
    assert spec.producer_pacing  # one producer on the limiter, as etcdctl's
    assert spec.duration_s == 5


def latency(max_s: float = 0.02, stddev_s: float = 0.005) -> LatencySummary:
    return LatencySummary(
        count=9000,
        min_s=0.001,
        mean_s=0.004,
        stddev_s=stddev_s,
        max_s=max_s,
        percentiles=((50.0, 0.003), (99.0, 0.015)),
    )


def result(
    rps: float = 150.0,
    errors: tuple[ErrorCount, ...] = (),
    lat: LatencySummary | None = None,
    stop: str | None = None,
) -> BenchResult:
    n_errors = sum(e.count for e in errors)
    return BenchResult(
        cluster_key="k",
        spec=checkperf.check_perf_spec(checkperf.PRESETS["s"]),
        started_at=0.0,
        total=9000 + n_errors,
        errors=n_errors,
        errors_by_code=errors,
        duration_s=60.0,
        requests_per_s=rps,
        latency=lat or latency(),
        histogram=(HistogramBucket(0.001, 1), HistogramBucket(0.02, 8999)),
        series=(
            SecondPoint(100, 150, 0, 0.001, 0.004, 0.02),
            SecondPoint(101, 0, 1, None, None, None),
        ),
        stop_reason=stop,
        revision_before=1,
        revision_after=9001,
        keys_under_prefix=9000,
        cleanup=CleanupReport(9000, 9001),
        endpoints=("http://127.0.0.1:2379",),
    )


def test_check_perf_passes_when_every_rule_holds() -> None:
    verdict = checkperf.judge(checkperf.PRESETS["s"], result())
    assert verdict.passed
    assert [line.text for line in verdict.lines] == [
        "PASS: Throughput is 151 writes/s",
        "PASS: Slowest request took 0.020000s",
        "PASS: Stddev is 0.005000s",
    ]


@pytest.mark.parametrize(
    ("kwargs", "failing"),
    [
        ({"rps": 135.0}, "FAIL: Throughput too low: 136 writes/s"),  # exactly 90 % fails
        ({"lat": latency(max_s=0.5001)}, "Slowest request took too long: 0.500100s"),
        ({"lat": latency(stddev_s=0.1001)}, "Stddev too high: 0.100100s"),
        ({"errors": (ErrorCount("UNAVAILABLE", 2, "leader changed"),)}, "FAIL: too many errors"),
        ({"stop": "NOSPACE"}, "FAIL: the run stopped early: NOSPACE"),
    ],
)
def test_check_perf_fails_on_each_rule(kwargs: dict[str, object], failing: str) -> None:
    verdict = checkperf.judge(checkperf.PRESETS["s"], result(**kwargs))  # type: ignore[arg-type]
    assert not verdict.passed
    assert failing in [line.text for line in verdict.lines if not line.passed]


def test_check_perf_boundaries_pass() -> None:
    verdict = checkperf.judge(
        checkperf.PRESETS["s"], result(rps=135.01, lat=latency(max_s=0.5, stddev_s=0.1))
    )
    assert verdict.passed


# -- production guard ----------------------------------------------------------------


def test_production_needs_the_typed_name() -> None:
    require_confirmation("staging", ["staging"], None)
    require_confirmation("Prod EU", ["production"], "Prod EU")
    with pytest.raises(ConfirmationRequiredError, match="--confirm 'Prod EU'"):
        require_confirmation("Prod EU", ["production"], None)
    with pytest.raises(ConfirmationRequiredError, match="is not its name"):
        require_confirmation("Prod EU", ["production"], "prod eu")


# -- reports -------------------------------------------------------------------------


def test_json_has_the_fields_scripts_rely_on() -> None:
    r = result(errors=(ErrorCount("UNAVAILABLE", 2, "leader changed"),))
    data = json.loads(json.dumps(report.result_json(r)))
    assert data["workload"] == "put" and data["total"] == 9002 and data["errors"] == 2
    assert data["duration_s"] == 60.0 and data["requests_per_s"] == 150.0
    assert set(data["latency_ms"]) >= {"p50", "p90", "p95", "p99", "p999", "max", "mean"}
    assert data["latency_ms"]["p99"] == 15.0 and data["latency_ms"]["max"] == 20.0
    assert data["errors_by_code"] == {"UNAVAILABLE": {"count": 2, "message": "leader changed"}}


def test_csv_is_the_per_second_series() -> None:
    rows = list(csv.reader(io.StringIO(report.csv_text(result()))))
    assert rows[0] == list(report.CSV_HEADER)
    assert rows[1] == ["100", "1.0000", "4.0000", "20.0000", "150", "0"]
    assert rows[2] == ["101", "", "", "", "0", "1"]


def test_text_report_reads_like_tools_benchmark() -> None:
    text = report.render_text(result(errors=(ErrorCount("UNAVAILABLE", 2, "leader changed"),)))
    for part in (
        "Summary:",
        "  Total:\t60.0000 secs.",
        "  Slowest:\t0.0200 secs.",
        "Requests/sec:\t150.0000",
        "Response time histogram:",
        "Latency distribution:",
        "  99% in 0.0150 secs.",
        "Error distribution:",
        "  [2]\tUNAVAILABLE: leader changed",
        "Cleanup: deleted 9000 keys",
    ):
        assert part in text
    assert "∎" * 40 in text
    verdict = checkperf.judge(checkperf.PRESETS["s"], result())
    assert report.render_check_perf(verdict).splitlines()[-1] == "PASS"
