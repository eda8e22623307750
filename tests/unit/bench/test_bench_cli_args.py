"""The bench command lines become the right BenchSpec; refusals happen before any I/O."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from etcdmon_gui import cli
from etcdmon_gui.bench.safety import ConfirmationRequiredError
from etcdmon_gui.cli.bench import spec_from_args
from etcdmon_gui.model.bench import Workload
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.store.profiles import ProfileStore


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
