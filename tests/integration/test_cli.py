"""The `etcdmon` command as a script would run it: a real subprocess, real clusters."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from etcdmon_gui import cli
from etcdmon_gui.bench.control import BenchError
from etcdmon_gui.bench.safety import ConfirmationRequiredError
from etcdmon_gui.cli.common import UNREACHABLE_CODE, USAGE_CODE
from etcdmon_gui.connection_args import UsageError
from etcdmon_gui.etcd.sandbox import Sandbox, SandboxError, free_ports
from etcdmon_gui.model.errors import (
    AuthenticationError,
    BadEndpointError,
    ConfigError,
    ConnectionRefusedEtcdError,
    DeadlineError,
    NoLeaderError,
    PermissionDeniedError,
    TLSError,
    UnreachableError,
)
from etcdmon_gui.monitor.alert_rules import RulesError
from etcdmon_gui.store.channels import ChannelStoreError
from etcdmon_gui.store.profiles import ProfileStoreError
from etcdmon_gui.store.secrets import SecretStoreError


def etcdmon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


def test_status_json_healthy(shared_cluster: Sandbox) -> None:
    out = etcdmon("status", "--endpoints", shared_cluster.endpoints[1], "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["has_quorum"] is True and doc["split_brain"] is False
    assert isinstance(doc["cluster_id"], str) and int(doc["cluster_id"], 16) > 0
    assert len(doc["members"]) == 3
    leaders = [m for m in doc["members"] if m["is_leader"]]
    assert len(leaders) == 1 and doc["leader"] == leaders[0]["id"]
    required = {
        "id",
        "name",
        "endpoint",
        "reachable",
        "is_leader",
        "is_learner",
        "version",
        "db_size",
        "db_size_in_use",
        "raft_term",
        "raft_index",
        "raft_applied_index",
        "rtt_ms",
        "alarms",
        "error",
    }
    for m in doc["members"]:
        assert required <= m.keys()
        assert m["reachable"] and m["error"] is None and m["version"] == shared_cluster.version


def test_status_table_and_environment(shared_cluster: Sandbox) -> None:
    out = etcdmon("status", env={"ETCDCTL_ENDPOINTS": shared_cluster.endpoints_arg})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("cluster ") and ": HEALTHY" in out.stdout.splitlines()[0]
    assert out.stdout.count("follower") == 2 and out.stdout.count("leader") >= 1
    for url in shared_cluster.endpoints:
        assert url in out.stdout


def test_status_degraded_exit_code(cluster: Sandbox) -> None:
    cluster.kill_member(2)
    out = etcdmon("status", "--endpoints", cluster.endpoints[0], "--json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    down = [m for m in doc["members"] if not m["reachable"]]
    assert len(down) == 1 and down[0]["error"].startswith("connection refused at 127.0.0.1:")


def test_unreachable_exits_3_and_usage_errors_exit_2() -> None:
    port = free_ports(1)[0]
    out = etcdmon("status", "--endpoints", f"127.0.0.1:{port}", "--timeout", "1")
    assert out.returncode == 3
    assert out.stderr.strip() == f"etcdmon: connection refused at 127.0.0.1:{port}"
    bad = etcdmon("status", "--endpoints", "ftp://x:1")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "etcdmon: bad endpoint 'ftp://x:1': scheme 'ftp' is not http or https"
    )
    assert "Traceback" not in bad.stderr
    nopw = etcdmon("status", "--endpoints", f"127.0.0.1:{port}", "--user", "root")
    assert nopw.returncode == 2 and "no password for user 'root'" in nopw.stderr
    missing = etcdmon("status", "--cacert", "/nonexistent/ca.pem")
    assert missing.returncode == 2
    assert "cannot read CA certificate file '/nonexistent/ca.pem'" in missing.stderr
    flag = etcdmon("status", "--no-such-flag")  # argparse's own usage error
    assert flag.returncode == 2 and "unrecognized arguments" in flag.stderr
    profile = etcdmon("status", "--profile", "absent")
    assert profile.returncode == 2 and "no profile named 'absent'" in profile.stderr
    # A command that raises rather than returning a verdict: the same code.
    bench = etcdmon("bench", "put", "--endpoints", f"127.0.0.1:{port}", "--total", "1")
    assert bench.returncode == 3
    assert bench.stderr.strip() == f"etcdmon: connection refused at 127.0.0.1:{port}"


def test_tls_handshake_failure_exits_3(shared_cluster: Sandbox) -> None:
    """https to a plain-http member: the cluster is there, but no handshake."""
    plain = shared_cluster.endpoints[0].removeprefix("http://")
    out = etcdmon("status", "--endpoints", f"https://{plain}", "--timeout", "2")
    assert out.returncode == 3, out.stderr
    assert "TLS handshake failed" in out.stderr or "does not speak TLS" in out.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (UsageError("--profile cannot be combined with --endpoints"), 2),
        (BadEndpointError("bad endpoint"), 2),
        (ConfigError("a client certificate needs its key"), 2),
        (ProfileStoreError("no profile named 'x'"), 2),
        (ChannelStoreError("channels.yaml: not valid YAML"), 2),
        (RulesError("rules.yaml: rule x: field for"), 2),
        (SecretStoreError("wrong master password"), 2),
        (SandboxError("no etcd binary found"), 2),
        (ConfirmationRequiredError("profile 'prod' is tagged production"), 2),
        (ConnectionRefusedEtcdError("connection refused at 127.0.0.1:1"), 3),
        (UnreachableError("cannot reach 10.0.0.1:2379"), 3),
        (DeadlineError("no answer from 10.0.0.1:2379 within 2 s"), 3),
        (TLSError("TLS handshake failed"), 3),
        (AuthenticationError("authentication failed for user 'root'"), 3),
        (PermissionDeniedError("permission denied"), 3),
        (NoLeaderError("the cluster has no leader"), 3),
        (BenchError("the cluster has an active alarm"), 3),
    ],
)
def test_each_error_type_has_one_exit_code(error: Exception, code: int) -> None:
    assert cli.exit_code(error) == code


def test_every_help_states_the_exit_codes() -> None:
    parser = cli.build_parser()
    top = parser.format_help()
    assert USAGE_CODE in top and UNREACHABLE_CODE in top
    assert "  2  unreachable" not in top
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        text = command.format_help()
        assert USAGE_CODE in text, name  # argparse itself exits 2 on a bad flag
        reaches_cluster = name in ("status", "bench", "check-perf", "ops")
        assert (UNREACHABLE_CODE in text) == reaches_cluster, name


def test_sandbox_command_starts_and_stops_on_sigterm(etcd_binary: object) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "etcdmon_gui.cli", "sandbox", "--members", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "ETCDMON_ETCD_BIN": str(etcd_binary)},
    ) as proc:
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(2)]
            endpoints = lines[1].split("endpoints:")[1].strip()
            status = etcdmon("status", "--endpoints", endpoints)
            assert status.returncode == 0, status.stderr
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert proc.returncode == 0
    gone = etcdmon("status", "--endpoints", endpoints, "--timeout", "1")
    assert gone.returncode == 3  # the sandbox's etcd went away with it


def etcdmon_briefly(*args: str) -> subprocess.CompletedProcess[str]:
    """``etcdmon`` against a port nobody listens on, stopped after 20 s (a `watch` that
    wrongly accepted its input would run for ever)."""
    return subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", *args],
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["watch", "--interval", "abc"], "etcdmon: --interval must be a duration between 1s and "),
        (["watch", "--interval", "-5"], "(e.g. 10s), not -5"),
        (["watch", "--interval", "nan"], "(e.g. 10s), not nan"),
        # The URL is shown redacted: webhook URLs often carry a token.
        (["watch", "--webhook", "notaurl"], "etcdmon: --webhook: not an http(s) URL: <invalid"),
        (
            ["watch", "--webhook", "ftp://x/"],
            "--webhook: not an http(s) URL: ftp://x/…; give a URL",
        ),
        (["watch", "--rules", "/nonexistent/rules.yaml"], "--rules /nonexistent/rules.yaml: no "),
        (["status", "--timeout", "nan"], "argument --timeout: a number of seconds above 0 and at"),
        (["status", "--timeout", "inf"], "most 60 (e.g. 2), not 'inf'"),
        (["status", "--timeout", "0"], "argument --timeout: a number of seconds above 0"),
        (["status", "--timeout", "soon"], "not 'soon'"),
    ],
)
def test_bad_input_is_one_readable_line_not_a_traceback(argv: list[str], expected: str) -> None:
    """Issue 15: tracebacks, or input accepted silently (`--timeout nan`)."""
    out = etcdmon_briefly(*argv, "--endpoints", f"127.0.0.1:{free_ports(1)[0]}")
    assert out.returncode == 2, out.stderr
    assert expected in out.stderr
    # One line, after argparse's usage lines for its own errors.
    lines = out.stderr.splitlines()
    assert lines[-1].startswith(("etcdmon: ", "etcdmon status: error: ")), out.stderr
    assert all(line.startswith((" ", "usage: ")) for line in lines[:-1]), out.stderr


@pytest.mark.parametrize("command", ["status", "watch"])
@pytest.mark.parametrize("endpoints", ["", " , "])
def test_empty_endpoints_are_refused_not_taken_for_the_default(
    command: str, endpoints: str
) -> None:
    """Issue 15: `--endpoints ''` quietly meant 127.0.0.1:2379."""
    out = etcdmon_briefly(command, "--endpoints", endpoints)
    assert out.returncode == 2
    assert out.stderr == (
        "etcdmon: --endpoints is empty: give host:port[,host:port...], e.g. --endpoints "
        "127.0.0.1:2379, or leave it out for 127.0.0.1:2379\n"
    )


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("threshold: .nan", "field threshold: threshold is a finite number, not nan"),
        ("repeat: 0.0001s", "field repeat: repeat is 0 (never) or at least 60s (e.g. 1h), not"),
    ],
)
def test_rules_that_cannot_work_are_refused(tmp_path: Path, rule: str, problem: str) -> None:
    """Issue 15: a rule that never fires (nan) or repeats on every sweep was accepted."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"schema_version: 1\nrules:\n- name: etcdMembersDown\n  {rule}\n")
    out = etcdmon_briefly(
        "watch", "--endpoints", f"127.0.0.1:{free_ports(1)[0]}", "--rules", str(rules)
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(f"etcdmon: {rules}: rule etcdMembersDown: {problem}")
    assert len(out.stderr.splitlines()) == 1
