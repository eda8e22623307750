"""A real Prometheus (Debian's ``prometheus``) on loopback for tests, and what the
tests read of the Grafana dashboard (its PromQL expressions and the metric names in
them)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from etcdmon_gui.etcd.sandbox import free_ports

DASHBOARD = Path(__file__).parents[1] / "packaging" / "grafana" / "etcdmon-dashboard.json"
HOW = "apt-get install prometheus (Debian's Prometheus 2.x), or set PROMETHEUS_BIN"
BINARY = Path("/usr/bin/prometheus")
START_S = 30.0


def find_prometheus() -> Path:
    """The Prometheus binary, or a test failure saying how to install it."""
    env = os.environ.get("PROMETHEUS_BIN")
    for path in (Path(env) if env else None, BINARY, shutil.which("prometheus")):
        if path is not None and Path(path).is_file():
            return Path(path)
    pytest.fail(f"prometheus is needed by this test but was not found: {HOW}", pytrace=False)


class Prometheus:
    """One Prometheus process scraping ``targets`` (host:port) every second, its TSDB in
    a temporary folder that ``stop`` removes."""

    def __init__(self, targets: list[str], *, metrics_path: str = "/metrics") -> None:
        self.binary = find_prometheus()
        self.targets = targets
        self.metrics_path = metrics_path
        self.dir = Path(tempfile.mkdtemp(prefix="etcdmon-prometheus-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(timeout=5.0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Prometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Prometheus:
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": "etcdmon",
                    "metrics_path": self.metrics_path,
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }
        (self.dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        for attempt in range(3):  # the chosen port can be taken before Prometheus binds it
            (self.port,) = free_ports(1)
            log = (self.dir / "prometheus.log").open("wb")
            self.proc = subprocess.Popen(
                [
                    str(self.binary),
                    f"--config.file={self.dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            log.close()
            if self._wait_ready():
                return self
            text = self.log_tail()
            self._terminate()
            if "address already in use" not in text or attempt == 2:
                self.stop()
                raise RuntimeError(f"Prometheus did not become ready:\n{text}")
        raise AssertionError("unreachable")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_S
        assert self.proc is not None
        while time.monotonic() < deadline and self.proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return True
            time.sleep(0.05)
        return False

    def log_tail(self, size: int = 4000) -> str:
        path = self.dir / "prometheus.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def _terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        self._terminate()
        self.client.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the HTTP API -----------------------------------------------------------------

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector; a refused query raises with Prometheus'
        reason (a PromQL syntax error, say)."""
        response = self.client.get(f"{self.url}/api/v1/query", params={"query": expr})
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus refused {expr!r}: {body.get('error')}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def wait_for(
        self,
        expr: str,
        check: Callable[[list[dict[str, Any]]], bool],
        timeout: float = 20.0,
    ) -> list[dict[str, Any]]:
        """Poll ``expr`` until ``check`` accepts its result; fail with the last one and
        the scrape targets' state."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if check(result):
                return result
            if time.monotonic() > deadline:
                targets = self.targets_state()
                raise AssertionError(f"{expr!r} gave {result} for {timeout} s; targets: {targets}")
            time.sleep(0.2)

    def targets_state(self) -> list[dict[str, Any]]:
        """Each scrape target's health and last error."""
        body = self.client.get(f"{self.url}/api/v1/targets").json()
        return [
            {k: t.get(k) for k in ("scrapeUrl", "health", "lastError")}
            for t in body["data"]["activeTargets"]
        ]


# -- the Grafana dashboard ----------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "Inf", "NaN"}
)


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    found: list[dict[str, Any]] = []
    for panel in dashboard()["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query target."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard_panels()
        for target in panel.get("targets", [])
    ]


def runnable(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced by what Prometheus
    accepts: every cluster, a 1-minute rate window."""
    return (
        expr.replace("$__rate_interval", "1m")
        .replace("$__interval", "1m")
        .replace("$cluster", ".*")
    )


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers left once strings,
    label matchers, range selectors, grouping clauses, function calls and keywords are
    taken out."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    return {m for m in _IDENT.findall(text) if m not in _KEYWORDS}
