"""The bench command lines become the right BenchSpec; refusals happen before any I/O."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from etcdmon_gui import cli
from etcdmon_gui.bench.safety import ConfirmationRequiredError
from etcdmon_gui.cli.bench import spec_from_args
from etcdmon_gui.connection_args import connection_config
from etcdmon_gui.model.bench import Workload
from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.store.profiles import ProfileStore
from tests.pki import Pki


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(argv)


def test_put_flags_like_tools_benchmark() -> None:
    spec = spec_from_args(
        parse(
            "bench",
            "put",
            "--clients",
            "100",
            "--conns",
            "10",
            "--total",
            "50000",
            "--key-size",
            "8",
            "--val-size",
            "256",
            "--key-space-size",
            "1000",
            "--sequential-keys",
            "--rate",
            "500",
        )
    )
    assert spec.workload is Workload.PUT
    assert (spec.clients, spec.conns, spec.total, spec.key_size, spec.val_size) == (
        100,
        10,
        50000,
        8,
        256,
    )
    assert (spec.key_space_size, spec.sequential_keys, spec.rate) == (1000, True, 500.0)
    assert spec.duration_s is None and spec.prefix == "/etcdmon-bench/"


def test_range_positional_keys_and_consistency() -> None:
    spec = spec_from_args(
        parse("bench", "range", "foo", "fop", "--consistency", "s", "--limit", "10", "--count-only")
    )
    assert (spec.range_key, spec.range_end, spec.linearizable) == (b"foo", b"fop", False)
    assert (spec.limit, spec.count_only) == (10, True)
    default = spec_from_args(parse("bench", "range"))
    assert default.range_key is None and default.linearizable  # the whole prefix


def test_txn_and_watch_defaults() -> None:
    mixed = spec_from_args(parse("bench", "txn-mixed", "--rw-ratio", "4", "--duration", "30"))
    assert (mixed.rw_ratio, mixed.limit, mixed.duration_s) == (4.0, 1000, 30.0)
    txn = spec_from_args(parse("bench", "txn-put", "--txn-ops", "4", "--key-space-size", "8"))
    assert (txn.txn_ops, txn.key_space_size) == (4, 8)
    watch = spec_from_args(parse("bench", "watch-latency", "--put-rate", "50"))
    assert (watch.put_rate, watch.key_size, watch.val_size) == (50.0, 32, 32)


def test_total_and_duration_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        parse("bench", "put", "--total", "5", "--duration", "5")


def test_check_perf_loads() -> None:
    args = parse("check-perf", "--load", "m", "--duration", "5")
    assert (args.load, args.duration) == ("m", 5.0)
    with pytest.raises(SystemExit):
        parse("check-perf", "--load", "xxl")


def test_production_profile_is_refused_before_connecting(tmp_path: Path) -> None:
    path = tmp_path / "profiles.yaml"
    # nothing listens on port 9: getting past the guard would be a connection error
    ProfileStore(path).add(Profile(name="prod", endpoints=["127.0.0.1:9"], tags=["production"]))
    args = parse(
        "bench", "put", "--profile", "prod", "--profiles-file", str(path), "--secrets", "memory"
    )
    with pytest.raises(ConfirmationRequiredError, match="--confirm 'prod'"):
        args.func(args)


# -- positionals, compaction, output paths -------------------------------------------


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def every_workload_parser() -> dict[str, argparse.ArgumentParser]:
    commands = subparsers(cli.build_parser())
    found = {f"bench {w}": p for w, p in subparsers(commands["bench"]).items()}
    found["check-perf"] = commands["check-perf"]
    return found


def test_no_positional_shares_a_destination_with_an_option() -> None:
    """``bench range KEY`` once landed in ``args.key``, the TLS --key option's."""
    parsers = every_workload_parser()
    assert {f"bench {w.value}" for w in Workload} | {"check-perf"} == set(parsers)
    for name, p in parsers.items():
        options = {a.dest for a in p._actions if a.option_strings}
        positionals = {a.dest for a in p._actions if not a.option_strings}
        assert not positionals & options, f"{name}: {positionals & options}"


@pytest.mark.parametrize("workload", [w.value for w in Workload])
def test_every_workload_reads_its_positionals_and_the_tls_key(
    workload: str, tmp_path: Path
) -> None:
    Pki.create(tmp_path)
    positionals = ["/app/a", "/app/z"] if workload == "range" else []
    args = parse(
        "bench",
        workload,
        *positionals,
        "--endpoints",
        "https://127.0.0.1:2379",
        "--cacert",
        str(tmp_path / "ca.pem"),
        "--cert",
        str(tmp_path / "client.pem"),
        "--key",
        str(tmp_path / "client-key.pem"),
    )
    config = connection_config(args)
    assert config.tls is not None and config.tls.key == (tmp_path / "client-key.pem").read_bytes()
    spec = spec_from_args(args)
    if workload == "range":
        assert (spec.range_key, spec.range_end) == (b"/app/a", b"/app/z")
    else:
        assert spec.range_key is None


def test_compaction_is_opt_in_with_the_reason_in_the_help() -> None:
    assert not spec_from_args(parse("bench", "put")).compact
    assert spec_from_args(parse("bench", "put", "--compact")).compact
    assert not spec_from_args(parse("bench", "txn-put")).compact
    assert parse("check-perf", "--compact").compact and not parse("check-perf").compact
    for name, p in every_workload_parser().items():
        action = next(a for a in p._actions if "--compact" in a.option_strings)
        assert action.help is not None and "watches" in action.help, name
        assert "compacted afterwards" not in p.format_help(), name


UNREACHABLE = ("--endpoints", "127.0.0.1:9")  # nothing listens: past the checks = I/O


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (("--csv", "/nonexistent/x.csv"), "--csv: the directory '/nonexistent' does not exist"),
        (("--summary", "/nonexistent/s.json"), "the directory '/nonexistent' does not exist"),
        (("--summary", "{tmp}"), "is a directory; give a file name in it"),
        (("--csv", "{tmp}/file.txt/x.csv"), "is not a directory"),
        (("--summary", "-"), "--summary needs a file name"),
        (("--csv", "{tmp}/same.csv", "--summary", "{tmp}/same.csv"), "the same file"),
    ],
    ids=[
        "csv-dir-missing",
        "summary-dir-missing",
        "a-directory",
        "parent-a-file",
        "stdout",
        "same",
    ],
)
@pytest.mark.parametrize("command", [("bench", "put"), ("bench", "range"), ("check-perf",)])
def test_unusable_output_paths_are_refused_before_connecting(
    command: tuple[str, ...], flags: tuple[str, ...], problem: str, tmp_path: Path
) -> None:
    (tmp_path / "file.txt").write_text("x")
    argv = [*command, *UNREACHABLE, *(f.format(tmp=tmp_path) for f in flags)]
    args = parse(*argv)
    with pytest.raises(ConfigError) as caught:
        args.func(args)
    assert problem in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]  # nothing written
