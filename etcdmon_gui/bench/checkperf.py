"""``etcdctl check perf``, reproduced: the same presets, load and PASS rules.

A preset is a write rate, a number of clients (each on its own connection, as etcdctl
makes one client per worker) and 60 s. The load is puts of 256-byte keys (a random
63-bit number as a Go varint at the front, zeros after) and 1 KiB zero values under a
prefix that must be empty, at the preset's rate with a burst of 1, paced as etcdctl
paces it: one producer waits on the limiter and hands each put to an idle client
(``BenchSpec.producer_pacing``), so a loaded client machine sends less than the rate,
as etcdctl does, instead of catching up and pushing etcd harder. PASS needs all of:
no errors; throughput above 90 % of the rate; slowest request at most 0.5 s; standard
deviation at most 0.1 s.
"""

from __future__ import annotations

from etcdmon_gui.model.bench import (
    DEFAULT_PREFIX,
    BenchResult,
    BenchSpec,
    CheckLine,
    CheckPerfPreset,
    CheckPerfResult,
    Workload,
)

PRESETS: dict[str, CheckPerfPreset] = {
    "s": CheckPerfPreset("s", limit=150, clients=50),
    "m": CheckPerfPreset("m", limit=1000, clients=200),
    "l": CheckPerfPreset("l", limit=8000, clients=500),
    "xl": CheckPerfPreset("xl", limit=15000, clients=1000),
}
ALIASES = {
    "s": "s",
    "small": "s",
    "m": "m",
    "medium": "m",
    "l": "l",
    "large": "l",
    "xl": "xl",
    "xLarge": "xl",
}
KEY_SIZE, VALUE_SIZE = 256, 1024
MIN_THROUGHPUT_SHARE = 0.9
MAX_SLOWEST_S = 0.5
MAX_STDDEV_S = 0.1


def preset(load: str) -> CheckPerfPreset:
    """The preset for ``s|m|l|xl`` (or etcdctl's long names); ValueError otherwise."""
    name = ALIASES.get(load)
    if name is None:
        raise ValueError(f"unknown load option {load!r}: choose s, m, l or xl")
    return PRESETS[name]


def check_perf_spec(
    p: CheckPerfPreset,
    *,
    prefix: str = DEFAULT_PREFIX,
    duration_s: float | None = None,
    compact: bool = False,
    defragment: bool = False,
    call_timeout_s: float = 10.0,
) -> BenchSpec:
    """The benchmark that ``etcdctl check perf --load NAME`` runs (``duration_s`` may
    shorten it, e.g. for tests)."""
    return BenchSpec(
        workload=Workload.PUT,
        clients=p.clients,
        conns=p.clients,
        rate=float(p.limit),
        producer_pacing=True,
        duration_s=float(duration_s if duration_s is not None else p.duration_s),
        key_size=KEY_SIZE,
        val_size=VALUE_SIZE,
        random_keys=True,
        prefix=prefix,
        require_empty_prefix=True,
        cleanup=True,
        compact=compact,
        defragment=defragment,
        call_timeout_s=call_timeout_s,
        label=f"check perf {p.name}",
    )


def judge(p: CheckPerfPreset, result: BenchResult) -> CheckPerfResult:
    """etcdctl's verdict, line by line (its wording, so the output reads the same)."""
    lines: list[CheckLine] = []
    if result.stop_reason:
        lines.append(CheckLine(False, f"FAIL: the run stopped early: {result.stop_reason}"))
    if result.errors:
        lines.append(CheckLine(False, "FAIL: too many errors"))
        for e in result.errors_by_code:
            lines.append(CheckLine(False, f"FAIL: ERROR({e.code}: {e.message}) -> {e.count}"))
    writes = int(result.requests_per_s) + 1
    if result.requests_per_s / p.limit <= MIN_THROUGHPUT_SHARE:
        lines.append(CheckLine(False, f"FAIL: Throughput too low: {writes} writes/s"))
    else:
        lines.append(CheckLine(True, f"PASS: Throughput is {writes} writes/s"))
    lat = result.latency
    if lat is None:
        lines.append(CheckLine(False, "FAIL: no request succeeded"))
    else:
        if lat.max_s > MAX_SLOWEST_S:
            lines.append(CheckLine(False, f"Slowest request took too long: {lat.max_s:f}s"))
        else:
            lines.append(CheckLine(True, f"PASS: Slowest request took {lat.max_s:f}s"))
        if lat.stddev_s > MAX_STDDEV_S:
            lines.append(CheckLine(False, f"Stddev too high: {lat.stddev_s:f}s"))
        else:
            lines.append(CheckLine(True, f"PASS: Stddev is {lat.stddev_s:f}s"))
    passed = all(line.passed for line in lines)
    return CheckPerfResult(preset=p, passed=passed, lines=tuple(lines), result=result)
