"""One health sweep of one cluster: every member asked in parallel, each with a deadline.

A sweep asks every configured endpoint, and every member earlier sweeps discovered, for
MemberList (so endpoints from two different clusters are noticed, not merged), and
sends each member, at its own client URL, a Status, a small linearizable Range and a
``/metrics`` scrape, all at once. gRPC calls run as futures on gRPC's own threads;
scrapes on a small pool. A hung member therefore costs one deadline, not one per call
or per member. Because discovered members are remembered, one configured endpoint going
down does not hide the rest of the cluster (as ``etcdctl --cluster`` and Prometheus'
per-member scraping see it); a cluster is unreachable only when no known member answers,
and then every known member is reported down.

Authentication uses a token sent as per-call metadata rather than gRPC call
credentials, which refuse to travel over a plain-text channel; that case is reported
as a warning because the password and token then cross the network unencrypted.
Authenticate is a raft proposal and needs quorum (and the right password); MemberList
and Status need neither, so when it fails the sweep goes on without a token and says
why in ``RawSweep.auth_error``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from pyetcd import etcdrpc

from etcdmon_gui.etcd import messages
from etcdmon_gui.etcd import tls as tls_mod
from etcdmon_gui.etcd.errors import from_rpc_error
from etcdmon_gui.etcd.metrics_scrape import MetricsError, MetricsScraper
from etcdmon_gui.etcd.tls_inspect import cert_info, client_cert_info, inspect_server
from etcdmon_gui.model.certs import CertCheck
from etcdmon_gui.model.connection import ConnectionConfig, Endpoint, parse_endpoint
from etcdmon_gui.model.errors import (
    AuthenticationError,
    BadEndpointError,
    DeadlineError,
    EtcdError,
    PermissionDeniedError,
    UnreachableError,
)
from etcdmon_gui.model.metrics import RawScrape
from etcdmon_gui.model.raw import MemberInfo, MemberProbe, RawSweep
from etcdmon_gui.model.snapshot import AlarmInfo

log = logging.getLogger(__name__)

CERT_CHECK_INTERVAL_S = 600  # certificates change rarely; a handshake per sweep is waste


def _alarms_from_errors(errors: Sequence[str]) -> tuple[AlarmInfo, ...]:
    """Status.errors carries each active alarm as ``memberID:N alarm:NAME``."""
    alarms = []
    for text in errors:
        fields = dict(part.split(":", 1) for part in text.split() if ":" in part)
        if "alarm" in fields and "memberID" in fields and fields["memberID"].isdigit():
            alarms.append(AlarmInfo(int(fields["memberID"]), fields["alarm"]))
    return tuple(alarms)


class _Timed:
    """A gRPC future plus the moment its answer arrived, for an honest round-trip time."""

    def __init__(self, future: grpc.Future, started: float) -> None:
        self.started = started  # taken before the call was made: it may be done already
        self.done_at: float | None = None
        self.future = future
        future.add_done_callback(self._done)

    def _done(self, _: grpc.Future) -> None:
        self.done_at = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return (self.done_at or time.perf_counter()) - self.started


def _closed_error() -> EtcdError:
    return EtcdError("the connection has been closed")


@dataclass(frozen=True, slots=True)
class _Calls:
    """The calls in flight to one member endpoint during a sweep."""

    endpoint: Endpoint
    status: _Timed
    range: _Timed
    scrape: Future[RawScrape]
    cert: Future[CertCheck] | None  # a fresh certificate check, when one is due


class ClusterProbe:
    """Talks to one cluster. Thread-safe for one sweep at a time; ``close()`` when done."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._tls = config.tls
        ssl_ctx = tls_mod.ssl_context(config.tls) if config.uses_tls else None
        self._grpc_creds = tls_mod.grpc_credentials(config.tls) if config.uses_tls else None
        self._scraper = MetricsScraper(
            verify=ssl_ctx if ssl_ctx is not None else True,
            timeout=config.timeout_s,
            sni_hostname=config.tls.server_name if config.tls else None,
        )
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="etcdmon-scrape")
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()
        self._token: str | None = None
        self._closed = False
        self._closing: Future[None] = Future()  # resolved by close(): ends every wait
        self._certs: dict[str, CertCheck] = {}  # last check per https endpoint
        # Every member the last answered MemberList named, by (cluster id, member id).
        self._known: dict[tuple[int, int], MemberInfo] = {}
        self._auth_error: str | None = None
        self._client_cert = client_cert_info(config.tls)

    # -- plumbing -------------------------------------------------------------------

    def _channel(self, ep: Endpoint) -> grpc.Channel:
        with self._lock:
            if self._closed:
                raise _closed_error()
            ch = self._channels.get(ep.url)
        if ch is not None:
            return ch
        options: list[tuple[str, Any]] = [
            # One TCP connection per member, never shared with another client.
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2_000),
            *tls_mod.grpc_options(self._tls),
        ]
        if ep.secure and self._tls is not None and self._tls.insecure_skip_verify:
            # A handshake to read the certificate: outside the lock, so close() never
            # waits for it.
            creds, name = self._pinned(ep)
            options.append(("grpc.ssl_target_name_override", name))
            ch = grpc.secure_channel(ep.target, creds, options=options)
        elif ep.secure:
            assert self._grpc_creds is not None
            ch = grpc.secure_channel(ep.target, self._grpc_creds, options=options)
        else:
            ch = grpc.insecure_channel(ep.target, options=options)
        with self._lock:
            if self._closed:
                ch.close()
                raise _closed_error()
            existing = self._channels.setdefault(ep.url, ch)
        if existing is not ch:  # another thread made one meanwhile: keep that one
            ch.close()
        return existing

    def _pinned(self, ep: Endpoint) -> tuple[grpc.ChannelCredentials, str]:
        """insecure-skip-verify: trust exactly the certificate the member presents now.

        gRPC cannot switch verification off; pinning the presented certificate as the
        only root, under the name it carries, is the equivalent.
        """
        assert self._tls is not None
        try:
            pem = tls_mod.fetch_server_certificate(
                ep.host, ep.port, self._tls, self.config.timeout_s
            )
        except (OSError, ValueError) as exc:
            raise UnreachableError(f"cannot read the certificate of {ep.target}: {exc}") from None
        leaf = cert_info(pem)
        name = self._tls.server_name or next(iter(leaf.sans), None) or ep.host
        creds = grpc.ssl_channel_credentials(
            root_certificates=pem, private_key=self._tls.key, certificate_chain=self._tls.cert
        )
        return creds, name

    def _metadata(self) -> tuple[tuple[str, str], ...] | None:
        return (("token", self._token),) if self._token else None

    def _future(self, ep: Endpoint, stub_cls: Any, method: str, request: Message) -> _Timed:
        stub = stub_cls(self._channel(ep))
        started = time.perf_counter()
        try:
            call = getattr(stub, method).future(
                request, timeout=self.config.timeout_s, metadata=self._metadata()
            )
        except ValueError:  # "Cannot invoke RPC on closed channel!"
            raise _closed_error() from None
        return _Timed(call, started)

    def _result(self, timed: _Timed, ep: Endpoint) -> Any:
        try:
            return timed.future.result()
        except grpc.RpcError as exc:
            raise from_rpc_error(
                exc, ep.target, user=self.config.user, timeout=self.config.timeout_s
            ) from None

    def _authenticate(self, seeds: Sequence[Endpoint]) -> str | None:
        """Get a token, asking every endpoint at once (one deadline at most); why none
        was had, or None."""
        assert self.config.user is not None
        assert self.config.password is not None
        self._token = None
        req = etcdrpc.AuthenticateRequest(name=self.config.user, password=self.config.password)
        calls = [(ep, self._future(ep, etcdrpc.AuthStub, "Authenticate", req)) for ep in seeds]
        errors: list[EtcdError] = []
        for ep, call in calls:
            try:
                resp = self._result(call, ep)
            except EtcdError as exc:
                errors.append(exc)
                continue
            self._token = resp.token
            return None
        wrong = [e for e in errors if isinstance(e, AuthenticationError)]
        if wrong:
            return str(wrong[0])
        return f"as {self.config.user!r}: {errors[0]}" if errors else None

    def _seeds(self) -> list[Endpoint]:
        """The configured endpoints, then each known member's client URL, once each."""
        seeds = list(self.config.endpoints)
        urls = {ep.url for ep in seeds}
        for info in self._known.values():
            ep = _first_endpoint(info)
            if ep is not None and ep.url not in urls:
                seeds.append(ep)
                urls.add(ep.url)
        return seeds

    # -- the sweep ------------------------------------------------------------------

    def warnings(self) -> tuple[str, ...]:
        found = []
        if self.config.password and any(not e.secure for e in self.config.endpoints):
            found.append(
                "the password and auth token travel unencrypted over plain http; "
                "use https:// endpoints with --cacert"
            )
        if self._tls is not None and self._tls.insecure_skip_verify:
            found.append(
                "TLS certificates are NOT verified (insecure-skip-verify): anyone "
                "between you and the cluster could pose as it"
            )
        return tuple(found)

    def sweep(self) -> RawSweep:
        started_wall, t0 = time.time(), time.perf_counter()
        members: tuple[MemberProbe, ...] = ()
        try:
            try:
                members, error = self._sweep_once()
            except AuthenticationError as exc:
                if self._token is None or "invalid auth token" not in str(exc):
                    raise
                self._token = None  # expired token: get a fresh one and try once more
                members, error = self._sweep_once()
        except EtcdError as exc:
            error = str(exc)
        return RawSweep(
            started_wall,
            time.perf_counter() - t0,
            members,
            error,
            self.warnings(),
            self._client_cert,
            self._auth_error,
        )

    def _sweep_once(self) -> tuple[tuple[MemberProbe, ...], str | None]:
        """Discover and probe in one overlapping wave, so a hung endpoint costs one deadline.

        Every configured endpoint and every known member gets MemberList and the member
        probes at once; members that MemberList reveals at other URLs are probed the
        moment they are known. Returns the probes and, when no member answered, why.
        """
        seeds = self._seeds()
        if self.config.user and self.config.password is not None and self._token is None:
            self._auth_error = self._authenticate(seeds)
        launched = {ep.url: self._launch(ep) for ep in seeds}
        done: queue.SimpleQueue[tuple[Endpoint, _Timed]] = queue.SimpleQueue()
        for ep in seeds:
            call = self._future(ep, etcdrpc.ClusterStub, "MemberList", etcdrpc.MemberListRequest())
            call.future.add_done_callback(lambda _, ep=ep, call=call: done.put((ep, call)))
        infos: dict[tuple[int, int], MemberInfo] = {}
        owner: dict[tuple[int, int], str] = {}  # member -> URL of the calls that probe it
        unanswered: list[tuple[Endpoint, EtcdError]] = []
        for _ in seeds:
            ep, call = done.get()  # each call ends by its deadline
            try:
                resp = self._result(call, ep)
            except EtcdError as exc:
                unanswered.append((ep, exc))
                continue
            cid = resp.header.cluster_id
            owner.setdefault((cid, resp.header.member_id), ep.url)
            for m in resp.members:
                info = messages.member_info(m, cid)
                infos.setdefault((cid, m.ID), info)
                if (cid, m.ID) not in owner and info.client_urls:
                    url = self._launch_member(info, launched)
                    if url:
                        owner[(cid, m.ID)] = url
        if not infos:
            errors = [exc for _, exc in unanswered]
            auth = [e for e in errors if isinstance(e, AuthenticationError)]
            why = (
                str((auth or errors)[0])
                if auth or len(errors) == 1
                else "no endpoint answered: " + "; ".join(str(e) for e in errors)
            )
            if not self._known:
                if auth or len(errors) == 1:
                    raise (auth or errors)[0]
                raise EtcdError(why)
            return self._known_down(dict(unanswered)), f"no known member answered: {why}"
        self._known = dict(infos)
        probes = []
        for key, info in infos.items():
            if key in owner:
                probes.append(self._collect(info, launched[owner[key]]))
            else:
                why = (
                    "no client URL (not started yet?)"
                    if not info.client_urls
                    else (f"unusable client URL {info.client_urls[0]!r}")
                )
                probes.append(MemberProbe(info, None, status_error=f"member {info.id:x}: {why}"))
        # A configured endpoint that answered nothing and is no known member's URL.
        owned = set(owner.values())
        configured = {ep.url for ep in self.config.endpoints}
        for ep, failure in unanswered:
            if ep.url in configured and ep.url not in owned:
                info = MemberInfo(0, "", (), (ep.url,), False, None)
                probes.append(
                    MemberProbe(
                        info,
                        ep.url,
                        status_error=str(failure),
                        unresponsive=isinstance(failure, DeadlineError),
                    )
                )
        return tuple(probes), None

    def _known_down(self, failures: dict[Endpoint, EtcdError]) -> tuple[MemberProbe, ...]:
        """Every member known from earlier sweeps, down, each with what its URL said."""
        probes = []
        for info in self._known.values():
            ep = _first_endpoint(info)
            failure = failures.get(ep) if ep is not None else None
            probes.append(
                MemberProbe(
                    info,
                    ep.url if ep is not None else None,
                    status_error=str(failure) if failure else "no answer",
                    unresponsive=isinstance(failure, DeadlineError),
                )
            )
        return tuple(probes)

    def _launch_member(self, info: MemberInfo, launched: dict[str, _Calls]) -> str | None:
        """Start probing a member at its client URL unless that URL already is; its URL."""
        ep = _first_endpoint(info)
        if ep is None:
            return None
        if ep.url not in launched:
            launched[ep.url] = self._launch(ep)
        return ep.url

    def _launch(self, ep: Endpoint) -> _Calls:
        range_req = etcdrpc.RangeRequest(key=self.config.probe_key, limit=1, count_only=True)
        return _Calls(
            ep,
            self._future(ep, etcdrpc.MaintenanceStub, "Status", etcdrpc.StatusRequest()),
            self._future(ep, etcdrpc.KVStub, "Range", range_req),
            self._submit_scrape(ep),
            self._submit_cert_check(ep),
        )

    def _submit_cert_check(self, ep: Endpoint) -> Future[CertCheck] | None:
        last = self._certs.get(ep.url)
        if not ep.secure or (last and time.time() - last.checked_at < CERT_CHECK_INTERVAL_S):
            return None
        try:
            return self._pool.submit(inspect_server, ep, self._tls, self.config.timeout_s)
        except RuntimeError:
            raise _closed_error() from None

    def _submit_scrape(self, ep: Endpoint) -> Future[RawScrape]:
        try:
            return self._pool.submit(self._scraper.scrape, self._metrics_url(ep))
        except RuntimeError:  # "cannot schedule new futures after shutdown"
            raise _closed_error() from None

    def _metrics_url(self, ep: Endpoint) -> str:
        return self.config.metrics_urls.get(ep.url) or f"{ep.url}/metrics"

    def _collect(self, info: MemberInfo, calls: _Calls) -> MemberProbe:
        ep, status, rng, scrape = calls.endpoint, calls.status, calls.range, calls.scrape
        status_answer = status_error = probe_s = probe_error = raw = scrape_error = None
        unresponsive = False
        try:
            status_answer = messages.status_answer(self._result(status, ep), status.elapsed)
        except EtcdError as exc:
            status_error, unresponsive = str(exc), isinstance(exc, DeadlineError)
        denied = False
        try:
            self._result(rng, ep)
            probe_s = rng.elapsed
        except PermissionDeniedError as exc:
            probe_s = rng.elapsed  # answered: the member works, but we may not read
            probe_error, denied = str(exc), True
        except AuthenticationError as exc:
            probe_error, denied = str(exc), "invalid auth token" not in str(exc)
        except EtcdError as exc:
            probe_error = str(exc)
        if self._token is not None and probe_error and "invalid auth token" in probe_error:
            raise AuthenticationError(probe_error)  # sweep() re-authenticates once
        self._wait(scrape, self.config.timeout_s + 1.0)
        if not scrape.done():
            scrape_error = f"metrics at {self._metrics_url(ep)}: " + (
                "cancelled" if self._closed else "timed out"
            )
        elif isinstance(scrape.exception(), MetricsError):
            scrape_error = str(scrape.exception())
        else:
            raw = scrape.result()
        if calls.cert is not None:
            self._wait(calls.cert, 2 * self.config.timeout_s + 1.0)  # may retry unverified
            if calls.cert.done() and calls.cert.exception() is None:
                self._certs[ep.url] = calls.cert.result()
        alarms = _alarms_from_errors(status_answer.errors) if status_answer else ()
        return MemberProbe(
            info,
            ep.url,
            status_answer,
            status_error,
            unresponsive,
            alarms,
            probe_s,
            probe_error,
            denied,
            raw,
            scrape_error,
            self._certs.get(ep.url),
        )

    def _wait(self, future: Future[Any], timeout: float) -> None:
        """Wait for a pool task until it ends, ``timeout`` passes, or ``close()``."""
        either: list[Future[Any]] = [future, self._closing]
        wait(either, timeout=timeout, return_when=FIRST_COMPLETED)

    def close(self) -> None:
        """Close channels and the scrape pool; safe to call twice, from any thread.

        A sweep in progress on another thread returns promptly: closing a channel ends
        its calls at once, and the wait for scrapes ends with ``_closing``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._closing.set_result(None)
            channels, self._channels = list(self._channels.values()), {}
        for ch in channels:
            ch.close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._scraper.close()

    def __enter__(self) -> ClusterProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_endpoint(info: MemberInfo) -> Endpoint | None:
    """The first usable client URL of a member."""
    for url in info.client_urls:
        try:
            return parse_endpoint(url)
        except BadEndpointError:
            continue
    return None
