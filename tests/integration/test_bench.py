"""The benchmark engine and its CLI against real etcd clusters (3.5 and 3.4).

Every workload must reach the server (its revision and counters say so), leave nothing
under its prefix, stop within a second when cancelled, refuse what it must refuse
(an occupied prefix, a production profile without the typed name) and notice the
NOSPACE alarm.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import trustme

from etcdmon_gui import cli
from etcdmon_gui.bench.checkperf import PRESETS, check_perf_spec, judge
from etcdmon_gui.bench.control import BenchError
from etcdmon_gui.bench.engine import Benchmark
from etcdmon_gui.bench.safety import ConfirmationRequiredError
from etcdmon_gui.bench.workloads import prefix_end
from etcdmon_gui.etcd.control import ControlClient
from etcdmon_gui.etcd.sandbox import Sandbox, SandboxTLS
from etcdmon_gui.model.bench import BenchProgress, BenchResult, BenchSpec, Phase, Workload
from etcdmon_gui.model.connection import ConnectionConfig, TLSConfig, parse_endpoints
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.store.history import default_path as default_history_path
from etcdmon_gui.store.history.reader import HistoryReader
from etcdmon_gui.store.profiles import ProfileStore
from tests.pki import Pki


def config_for(sandbox: Sandbox, **kw: object) -> ConnectionConfig:
    return ConnectionConfig(endpoints=parse_endpoints(sandbox.endpoints), **kw)  # type: ignore[arg-type]


def keys_under(sandbox: Sandbox, prefix: str) -> tuple[int, int]:
    with ControlClient(config_for(sandbox)) as control:
        return control.count(prefix.encode(), prefix_end(prefix.encode()))


def metric_total(sandbox: Sandbox, name: str) -> float:
    total = 0.0
    with httpx.Client(timeout=5) as http:
        for url in sandbox.endpoints:
            for line in http.get(f"{url}/metrics").text.splitlines():
                if line.startswith(name + " "):
                    total += float(line.split()[1])
    return total


def history_error(sandbox: Sandbox, revision: int) -> str | None:
    """None while etcd still serves reads at ``revision``, else its error: a watch from
    that revision would be cancelled the same way (ErrCompacted)."""
    from pyetcd import etcdrpc

    request = etcdrpc.RangeRequest(key=b"\0", range_end=b"\0", count_only=True, revision=revision)
    with ControlClient(config_for(sandbox)) as control:
        try:
            control._any(etcdrpc.KVStub, "Range", request)
        except EtcdError as exc:
            return str(exc)
    return None


def check_consistent(result: BenchResult) -> None:
    """The report adds up: latencies, histogram and series all count the successes."""
    assert result.latency is not None
    assert result.latency.count == result.successes
    assert sum(b.count for b in result.histogram) == result.successes
    assert sum(p.count for p in result.series) == result.successes
    assert result.latency.min_s <= result.latency.percentile(50.0) <= result.latency.max_s  # type: ignore[operator]
    assert result.requests_per_s == pytest.approx(result.successes / result.duration_s)


def test_check_perf_s_passes_on_a_sandbox(shared_cluster: Sandbox) -> None:
    """First in the module, on a fresh cluster: etcdctl's rules allow no 0.5 s stall."""
    preset = PRESETS["s"]
    spec = check_perf_spec(preset, prefix="/etcdmon-bench-test/check-perf/", duration_s=5)
    result = Benchmark(config_for(shared_cluster), spec).run()
    verdict = judge(preset, result)
    assert verdict.passed, [line.text for line in verdict.lines]
    # never above the rate; a little below when the client wakes late, as etcdctl's
    assert 150 * 5 * 0.9 < result.total <= 150 * 5
    assert result.keys_under_prefix == result.successes  # random keys: one key per put
    assert keys_under(shared_cluster, spec.prefix)[0] == 0


@pytest.mark.parametrize(
    ("spec", "writes", "keys"),
    [
        (
            BenchSpec(
                Workload.PUT,
                clients=20,
                conns=4,
                total=3000,
                key_space_size=50,
                sequential_keys=True,
                val_size=64,
            ),
            3000,
            50,
        ),
        (
            BenchSpec(
                Workload.TXN_PUT, clients=8, conns=2, total=400, txn_ops=3, key_space_size=30
            ),
            400,
            30,
        ),
        (BenchSpec(Workload.WATCH_LATENCY, clients=6, conns=2, total=60, put_rate=300), 60, 1),
    ],
    ids=["put", "txn-put", "watch-latency"],
)
def test_writing_workloads_reach_the_server_and_clean_up(
    shared_cluster: Sandbox, spec: BenchSpec, writes: int, keys: int
) -> None:
    prefix = f"/etcdmon-bench-test/{spec.workload.value}/"
    result = Benchmark(config_for(shared_cluster), replace(spec, prefix=prefix)).run()
    assert result.errors == 0, result.errors_by_code
    assert result.revision_before is not None and result.revision_after is not None
    assert result.revision_after - result.revision_before == writes  # one revision per write
    assert result.keys_under_prefix == keys
    assert result.cleanup.deleted == keys and result.cleanup.error is None
    assert result.cleanup.compacted_revision is None  # compaction is opt-in
    assert keys_under(shared_cluster, prefix)[0] == 0
    check_consistent(result)
    if spec.workload is Workload.WATCH_LATENCY:
        assert result.total == spec.total * spec.clients  # an event per watcher per put
        assert {k.kind: k.total for k in result.by_kind} == {"event": 360, "put": 60}
    else:
        assert result.total == spec.total


def test_txn_mixed_reads_and_writes(shared_cluster: Sandbox) -> None:
    prefix = "/etcdmon-bench-test/txn-mixed/"
    # etcd counts a one-operation txn as that operation, not as a txn
    ranges = metric_total(shared_cluster, "etcd_mvcc_range_total")
    puts = metric_total(shared_cluster, "etcd_mvcc_put_total")
    result = Benchmark(
        config_for(shared_cluster),
        BenchSpec(
            Workload.TXN_MIXED,
            clients=10,
            conns=2,
            total=1000,
            key_space_size=40,
            rw_ratio=1.0,
            limit=100,
            prefix=prefix,
            seed=5,
        ),
    ).run()
    kinds = {k.kind: k for k in result.by_kind}
    assert result.errors == 0 and result.total == 1000
    assert kinds["read"].total + kinds["write"].total == 1000
    assert 350 < kinds["write"].total < 650
    assert result.revision_after - result.revision_before == kinds["write"].total  # type: ignore[operator]
    assert metric_total(shared_cluster, "etcd_mvcc_range_total") - ranges >= kinds["read"].total
    assert metric_total(shared_cluster, "etcd_mvcc_put_total") - puts >= kinds["write"].total
    assert keys_under(shared_cluster, prefix)[0] == 0
    check_consistent(result)


@pytest.mark.parametrize("linearizable", [True, False], ids=["linearizable", "serializable"])
def test_range_reads_reach_the_server_and_write_nothing(
    shared_cluster: Sandbox, linearizable: bool
) -> None:
    ranges = metric_total(shared_cluster, "etcd_mvcc_range_total")
    result = Benchmark(
        config_for(shared_cluster),
        BenchSpec(
            Workload.RANGE,
            clients=10,
            conns=3,
            total=2000,
            linearizable=linearizable,
            count_only=True,
            prefix="/etcdmon-bench-test/range/",
        ),
    ).run()
    assert result.errors == 0 and result.total == 2000
    assert result.revision_after == result.revision_before  # reads write nothing
    assert metric_total(shared_cluster, "etcd_mvcc_range_total") - ranges >= 2000
    check_consistent(result)


def test_large_values_need_flow_control(shared_cluster: Sandbox) -> None:
    """200 kB values: several DATA frames each, and the server's window is 64 kB."""
    prefix = "/etcdmon-bench-test/large/"
    result = Benchmark(
        config_for(shared_cluster),
        BenchSpec(
            Workload.PUT,
            clients=8,
            conns=1,
            total=40,
            key_space_size=40,
            sequential_keys=True,
            val_size=200_000,
            prefix=prefix,
        ),
    ).run()
    assert result.errors == 0, result.errors_by_code
    assert result.revision_after - result.revision_before == 40  # type: ignore[operator]
    assert keys_under(shared_cluster, prefix)[0] == 0


def test_cancel_stops_the_load_within_a_second_and_cleans_up(shared_cluster: Sandbox) -> None:
    prefix = "/etcdmon-bench-test/cancel/"
    running = threading.Event()
    seen: list[BenchProgress] = []

    def progress(p: BenchProgress) -> None:
        seen.append(p)
        if p.phase is Phase.RUNNING and p.done > 100:
            running.set()

    revision = keys_under(shared_cluster, prefix)[1]
    bench = Benchmark(
        config_for(shared_cluster),
        BenchSpec(
            Workload.PUT,
            clients=50,
            conns=5,
            duration_s=60,
            key_space_size=1000,
            val_size=128,
            prefix=prefix,
        ),
        on_progress=progress,
    )
    bench.start()
    assert running.wait(15)
    cancelled_at, cancelled_wall = time.monotonic(), time.time()
    threading.Thread(target=bench.cancel).start()  # from another thread
    result = bench.wait(10)
    assert result is not None
    elapsed = time.monotonic() - cancelled_at
    assert result.cancelled and result.stop_reason == "cancelled by the user"
    started = [p.unix_second for p in result.series if p.count or p.errors]
    assert max(started) <= cancelled_wall + 1.0  # nothing started a second after cancel
    assert result.duration_s < 60
    assert elapsed < 5, "cancel + cleanup took too long"
    assert result.cleanup.deleted == result.keys_under_prefix > 0
    assert result.cleanup.compacted_revision is None  # a cancelled run compacts nothing
    assert history_error(shared_cluster, revision) is None
    assert keys_under(shared_cluster, prefix)[0] == 0
    phases = [p.phase for p in seen]
    assert phases[0] is Phase.PREPARING and phases[-1] is Phase.DONE
    assert Phase.CLEANING in phases
    running_reports = [p.timestamp for p in seen if p.phase is Phase.RUNNING]
    # at most ~5 a second
    assert all(b - a >= 0.15 for a, b in itertools.pairwise(running_reports))


def test_an_occupied_prefix_is_refused_and_left_alone(shared_cluster: Sandbox) -> None:
    prefix = "/etcdmon-bench-test/occupied/"
    config = config_for(shared_cluster)
    from pyetcd import etcdrpc

    with ControlClient(config) as control:
        control._any(
            etcdrpc.KVStub,
            "Put",
            etcdrpc.PutRequest(key=prefix.encode() + b"mine", value=b"precious"),
        )
    with pytest.raises(BenchError, match="has 1 keys"):
        Benchmark(config, BenchSpec(Workload.PUT, total=10, prefix=prefix)).run()
    assert keys_under(shared_cluster, prefix)[0] == 1
    with ControlClient(config) as control:
        control.delete(prefix.encode(), prefix_end(prefix.encode()))


def test_nospace_alarm_stops_the_run_and_says_so(etcd_binary: Path) -> None:
    quota = ("--quota-backend-bytes=4000000",)  # about 4 MB
    with Sandbox(1, binary=etcd_binary, extra_args=quota) as sandbox:
        prefix = "/etcdmon-bench-test/nospace/"
        result = Benchmark(
            config_for(sandbox),
            BenchSpec(
                Workload.PUT,
                clients=4,
                conns=1,
                total=400,
                key_space_size=400,
                sequential_keys=True,
                val_size=100_000,
                prefix=prefix,
            ),
        ).run()
        assert result.stop_reason is not None and "NOSPACE" in result.stop_reason
        assert "RESOURCE_EXHAUSTED" in {e.code for e in result.errors_by_code}
        assert result.total < 400  # stopped early
        assert result.cleanup.error is None and keys_under(sandbox, prefix)[0] == 0
        with ControlClient(config_for(sandbox)) as control:
            assert any("NOSPACE" in a for a in control.alarms())
            with pytest.raises(BenchError, match="active alarm"):  # no second run on top
                Benchmark(config_for(sandbox), BenchSpec(prefix=prefix)).run()


def test_tls_with_client_certificates_and_password(etcd_binary: Path, tmp_path: Path) -> None:
    """The HTTP/2 client over TLS (ALPN h2), with a client certificate and a token."""
    from pyetcd import etcdrpc

    ca = trustme.CA()
    server, client = ca.issue_cert("127.0.0.1"), ca.issue_cert("etcdmon")
    for name, blob in (
        ("ca.pem", ca.cert_pem),
        ("server.pem", server.cert_chain_pems[0]),
        ("server-key.pem", server.private_key_pem),
        ("client.pem", client.cert_chain_pems[0]),
        ("client-key.pem", client.private_key_pem),
    ):
        blob.write_to_path(str(tmp_path / name))
    tls_files = SandboxTLS(
        tmp_path / "server.pem",
        tmp_path / "server-key.pem",
        tmp_path / "ca.pem",
        client_cert_auth=True,
        client_cert_file=tmp_path / "client.pem",
        client_key_file=tmp_path / "client-key.pem",
    )
    tls = TLSConfig(
        ca=ca.cert_pem.bytes(),
        cert=client.cert_chain_pems[0].bytes(),
        key=client.private_key_pem.bytes(),
    )
    with Sandbox(1, binary=etcd_binary, tls=tls_files) as sandbox:
        config = config_for(sandbox, tls=tls)
        with ControlClient(config) as control:
            auth = etcdrpc.AuthStub
            control._any(
                auth, "UserAdd", etcdrpc.AuthUserAddRequest(name="root", password="s3cret-pw")
            )
            control._any(
                auth, "UserGrantRole", etcdrpc.AuthUserGrantRoleRequest(user="root", role="root")
            )
            control._any(auth, "AuthEnable", etcdrpc.AuthEnableRequest())
        config = config_for(sandbox, tls=tls, user="root", password="s3cret-pw")
        result = Benchmark(
            config,
            BenchSpec(
                Workload.PUT, clients=10, conns=2, total=500, prefix="/etcdmon-bench-test/tls/"
            ),
        ).run()
        assert result.errors == 0, result.errors_by_code
        assert result.revision_after - result.revision_before == 500  # type: ignore[operator]
        assert result.cleanup.deleted == 1
        wrong = config_for(sandbox, tls=tls, user="root", password="wrong")
        with pytest.raises(Exception, match="authentication failed"):
            Benchmark(wrong, BenchSpec(prefix="/etcdmon-bench-test/tls/")).run()


# -- the command line ------------------------------------------------------------------


def run_cli(*argv: str) -> tuple[int, str]:
    args = cli.build_parser().parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.func(args)
    return code, out.getvalue()


@pytest.fixture
def profiles(tmp_path: Path, shared_cluster: Sandbox) -> Path:
    path = tmp_path / "profiles.yaml"
    store = ProfileStore(path)
    store.add(Profile(name="Prod EU", endpoints=shared_cluster.endpoints, tags=["production"]))
    store.add(Profile(name="lab", endpoints=shared_cluster.endpoints, tags=["staging"]))
    return path


def test_production_profile_needs_the_typed_name(shared_cluster: Sandbox, profiles: Path) -> None:
    prefix = "/etcdmon-bench-test/prod/"
    common = (
        "bench",
        "put",
        "--profiles-file",
        str(profiles),
        "--secrets",
        "memory",
        "--total",
        "100",
        "--prefix",
        prefix,
    )
    before = keys_under(shared_cluster, prefix)[1]
    with pytest.raises(ConfirmationRequiredError, match="--confirm 'Prod EU'"):
        run_cli(*common, "--profile", "Prod EU")
    with pytest.raises(ConfirmationRequiredError, match="is not its name"):
        run_cli(*common, "--profile", "Prod EU", "--confirm", "lab")
    assert keys_under(shared_cluster, prefix)[1] == before  # not one write happened
    code, _ = run_cli(*common, "--profile", "Prod EU", "--confirm", "Prod EU", "--json")
    assert code == 0
    code, _ = run_cli(*common, "--profile", "lab", "--json")  # no tag, no question
    assert code == 0
    assert keys_under(shared_cluster, prefix)[1] >= before + 200


def test_cli_json_csv_and_text(shared_cluster: Sandbox, tmp_path: Path) -> None:
    csv_file = tmp_path / "series.csv"
    code, out = run_cli(
        "bench",
        "put",
        "--endpoints",
        shared_cluster.endpoints_arg,
        "--clients",
        "10",
        "--conns",
        "2",
        "--total",
        "500",
        "--val-size",
        "32",
        "--json",
        "--csv",
        str(csv_file),
        "--prefix",
        "/etcdmon-bench-test/cli/",
    )
    data = json.loads(out)
    assert code == 0
    assert (data["workload"], data["total"], data["errors"]) == ("put", 500, 0)
    assert data["requests_per_s"] > 0 and data["duration_s"] > 0
    assert all(
        data["latency_ms"][k] > 0 for k in ("p50", "p90", "p95", "p99", "p999", "max", "mean")
    )
    assert csv_file.read_text().startswith("UNIX-SECOND,MIN-LATENCY-MS,AVG-LATENCY-MS")
    code, out = run_cli(
        "bench",
        "range",
        "--endpoints",
        shared_cluster.endpoints_arg,
        "--total",
        "200",
        "--consistency",
        "s",
    )
    assert code == 0 and "Summary:" in out and "Latency distribution:" in out
    code, out = run_cli(
        "check-perf",
        "--endpoints",
        shared_cluster.endpoints_arg,
        "--load",
        "s",
        "--duration",
        "2",
        "--prefix",
        "/etcdmon-bench-test/cp/",
    )
    assert code == 0 and out.splitlines()[-1] == "PASS"
    assert re.search(r"PASS: Throughput is \d+ writes/s", out)
    # Each run is kept in the app's history, whose benchmark dialog lists them.
    reader = HistoryReader(default_history_path())
    try:
        runs = reader.bench_runs()
    finally:
        reader.close()
    assert [(r.workload, r.verdict, r.errors) for r in runs] == [
        ("put", "PASS", 0),
        ("range", None, 0),
        ("put", None, 0),
    ]
    check, _range, put = runs
    assert check.label == "check perf s"
    assert put.requests_per_s == pytest.approx(data["requests_per_s"], abs=0.001)
    assert put.p99_ms == data["latency_ms"]["p99"]
    assert put.summary["total_requests"] == 500


def test_a_member_dying_mid_run_costs_errors_not_the_run(cluster: Sandbox) -> None:
    """Its connections fail over to the other members, as grpc's channels would."""
    prefix = "/etcdmon-bench-test/failover/"
    config = config_for(cluster, timeout_s=1.0)
    running = threading.Event()

    def progress(p: BenchProgress) -> None:
        if p.done > 200:
            running.set()

    bench = Benchmark(
        config,
        BenchSpec(
            Workload.PUT,
            clients=12,
            conns=3,
            duration_s=4,
            key_space_size=100,
            prefix=prefix,
            call_timeout_s=2.0,
        ),
        on_progress=progress,
    )
    bench.start()
    assert running.wait(15)
    killed_at = time.time()
    cluster.kill_member(2)
    result = bench.wait(30)
    assert result is not None and not result.cancelled
    after = [p for p in result.series if p.unix_second >= killed_at + 1.5]
    assert after and all(p.count > 0 for p in after)  # the load went on elsewhere
    assert any("re-established" in w for w in result.warnings)
    assert result.successes > 1000
    assert result.cleanup.error is None and keys_under(cluster, prefix)[0] == 0


def test_runs_leave_the_history_alone_unless_asked_to_compact(shared_cluster: Sandbox) -> None:
    """Compaction is cluster-wide: it ends other clients' watches behind it, so a run
    only deletes its keys unless --compact asks for more (etcd's tools never compact)."""
    prefix = "/etcdmon-bench-test/history/"
    revision = keys_under(shared_cluster, prefix)[1]
    argv = (
        "bench",
        "put",
        "--endpoints",
        shared_cluster.endpoints_arg,
        "--clients",
        "10",
        "--total",
        "300",
        "--key-space-size",
        "50",
        "--sequential-keys",
        "--prefix",
        prefix,
        "--json",
    )
    code, out = run_cli(*argv)
    data = json.loads(out)
    assert code == 0 and data["cleanup"]["deleted"] == 50
    assert data["cleanup"]["compacted_revision"] is None and not data["settings"]["compact"]
    assert history_error(shared_cluster, revision) is None
    assert keys_under(shared_cluster, prefix)[0] == 0

    code, out = run_cli(*argv, "--compact")
    data = json.loads(out)
    assert code == 0 and data["cleanup"]["compacted_revision"] == data["revision_after"] + 1
    assert "compacted" in (history_error(shared_cluster, revision) or "")


@pytest.mark.parametrize(
    ("command", "flags", "problem"),
    [
        (("bench", "put"), ("--csv", "/nonexistent/x.csv"), "'/nonexistent' does not exist"),
        (("check-perf", "--load", "s"), ("--summary", "{tmp}"), "is a directory"),
    ],
    ids=["bench-csv", "check-perf-summary"],
)
def test_an_unusable_output_path_costs_no_load(
    shared_cluster: Sandbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
    flags: tuple[str, ...],
    problem: str,
) -> None:
    prefix = "/etcdmon-bench-test/no-load/"
    before = keys_under(shared_cluster, prefix)[1]
    code = cli.main(
        [
            *command,
            "--endpoints",
            shared_cluster.endpoints_arg,
            "--prefix",
            prefix,
            *(f.format(tmp=tmp_path) for f in flags),
        ]
    )
    assert code == 2
    assert problem in capsys.readouterr().err
    assert keys_under(shared_cluster, prefix)[1] == before  # not one write happened


def test_summary_files_hold_what_json_prints(shared_cluster: Sandbox, tmp_path: Path) -> None:
    """One run, --json on stdout and --summary in a file: the same figures."""
    common = ("--endpoints", shared_cluster.endpoints_arg, "--json")
    target = tmp_path / "mixed.csv"
    code, out = run_cli(
        "bench",
        "txn-mixed",
        *common,
        "--clients",
        "8",
        "--total",
        "600",
        "--key-space-size",
        "20",
        "--prefix",
        "/etcdmon-bench-test/summary/",
        "--summary",
        str(target),
    )
    assert code == 0
    data = json.loads(out)
    raw = target.read_bytes()
    assert raw.count(b"\r\n") == 2 and raw.endswith(b"\r\n")
    header, values = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    row = dict(zip(header, values, strict=True))
    assert float(row["requests_per_s"]) == data["requests_per_s"]
    assert int(row["total_requests"]) == data["total"] == 600
    for name, value in data["latency_ms"].items():
        assert float(row[f"latency_{name}_ms"]) == value
    for kind in ("read", "write"):
        assert float(row[f"{kind}_latency_p99_ms"]) == data["by_kind"][kind]["latency_ms"]["p99"]
    assert row["workload"] == "txn-mixed" and row["rw_ratio"] == "1.0"

    target = tmp_path / "check.json"
    code, out = run_cli(
        "check-perf",
        *common,
        "--load",
        "s",
        "--duration",
        "1",
        "--prefix",
        "/etcdmon-bench-test/summary-cp/",
        "--summary",
        str(target),
    )
    data = json.loads(out)
    summary = json.loads(target.read_text(encoding="utf-8"))
    assert summary == {k: v for k, v in data.items() if k != "series"}
    assert summary["passed"] == (code == 0) and summary["settings"]["label"] == "check perf s"


def test_every_workload_over_tls_through_the_real_cli(etcd_binary: Path, tmp_path: Path) -> None:
    """``python -m etcdmon_gui.cli bench WORKLOAD`` with a client key (--key) and, for
    range, the KEY END positionals: each goes where it belongs."""
    pki = Pki.create(tmp_path)
    tls = (
        "--cacert",
        str(tmp_path / "ca.pem"),
        "--cert",
        str(tmp_path / "client.pem"),
        "--key",
        str(tmp_path / "client-key.pem"),
    )
    small = {
        "put": ("--total", "100", "--key-space-size", "10"),
        "range": (
            "/etcdmon-bench-test/tls-cli/a",
            "/etcdmon-bench-test/tls-cli/z",
            "--total",
            "50",
        ),
        "txn-put": ("--total", "50", "--txn-ops", "2", "--key-space-size", "4"),
        "txn-mixed": ("--total", "100", "--key-space-size", "10"),
        "watch-latency": ("--total", "5", "--put-rate", "50", "--clients", "2"),
    }
    assert set(small) == {w.value for w in Workload}
    with Sandbox(1, binary=etcd_binary, tls=pki.sandbox_tls()) as sandbox:
        endpoint = sandbox.endpoints[0]
        for workload, args in small.items():
            summary = tmp_path / f"{workload}.json"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "etcdmon_gui.cli",
                    "bench",
                    workload,
                    "--endpoints",
                    endpoint,
                    *tls,
                    *args,
                    "--prefix",
                    f"/etcdmon-bench-test/tls-cli/{workload}/",
                    "--summary",
                    str(summary),
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert proc.returncode == 0, (workload, proc.stderr)
            data = json.loads(summary.read_text(encoding="utf-8"))
            assert data["errors"] == 0 and data["endpoints"] == [endpoint]
            if workload == "range":
                assert data["settings"]["range_key"] == "/etcdmon-bench-test/tls-cli/a"
                assert data["settings"]["range_end"] == "/etcdmon-bench-test/tls-cli/z"


# -- check perf's pacing -------------------------------------------------------------


def test_check_perf_s_keeps_to_the_presets_rate(shared_cluster: Sandbox) -> None:
    code, out = run_cli(
        "check-perf",
        "--endpoints",
        shared_cluster.endpoints_arg,
        "--load",
        "s",
        "--duration",
        "3",
        "--json",
        "--prefix",
        "/etcdmon-bench-test/cp-rate/",
    )
    data = json.loads(out)
    assert data["requests_per_s"] <= 150 * 1.02, "faster than etcdctl's limiter allows"
    assert data["requests_per_s"] > 150 * 0.9 and code == 0, data["lines"]


def test_check_perf_loses_the_time_a_busy_client_stalls_as_etcdctl_does(
    shared_cluster: Sandbox,
) -> None:
    """etcdctl reserves one token at a time (burst 1) in one producer: when it wakes
    late the time beyond one token is lost, so a busy client sends less than the rate
    (and etcd answers it faster) instead of catching up. Here the engine's loop stalls
    60 ms at each progress report (about five a second): the sleep is the stimulus, a
    busy client machine, not a wait for a result."""
    stalls: list[float] = []

    def busy(p: BenchProgress) -> None:
        if p.phase is Phase.RUNNING:
            stalls.append(p.elapsed_s)
            time.sleep(0.06)

    spec = check_perf_spec(PRESETS["s"], prefix="/etcdmon-bench-test/cp-stall/", duration_s=3)
    config = config_for(shared_cluster)
    result = Benchmark(config, spec, on_progress=busy).run()
    assert len(stalls) >= 8 and result.errors == 0
    assert result.requests_per_s < 150 * 0.9, "the stalls were made up: not etcdctl's pacing"
    # tools/benchmark's pacing (each client waits on the limiter) makes them up
    stalls.clear()
    queued = Benchmark(
        config,
        replace(spec, producer_pacing=False, prefix="/etcdmon-bench-test/cp-stall-2/"),
        on_progress=busy,
    ).run()
    assert len(stalls) >= 8 and queued.requests_per_s > 150 * 0.97
