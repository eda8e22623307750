"""The REST API of ``etcdmon serve`` (FastAPI; the schema at ``/openapi.json``).

Per cluster under ``/api/v1/clusters/{name}/...``, and the same routes unprefixed
(``/api/v1/cluster/status``, ``/api/v1/alerts``, ...) for the first cluster, as the
original etcd-monitor backend had. Bodies reuse ``etcdmon status --json``'s snapshot
and member model (``reports.snapshot_json``) and ``bench --json``'s report.

Handlers never block the event loop: snapshots and alerts are read from memory (the
runtime's published views); history questions run on the runtime's reader thread,
acknowledgements and silences on its alert thread, and benchmark starts in the
threadpool.

Security: a bearer token (compared with ``hmac.compare_digest``) on every request
when the server listens beyond loopback (except ``GET /health``, which then answers
only its status, uptime and last sweep's age), and on every state-changing request
(ack, silences, benchmark) always. Errors are RFC 7807 ``application/problem+json``; an
internal error is logged and answered without its traceback. Expected failures are
503s with one warning line: the history cannot be read (the ``HistoryError``'s
sentence), the alert thread did not answer in time (``Retry-After``; ``POST /silences``
takes a client-given ``id``, so a retry never adds a second silence).

A cluster whose sweeps stalled is still answered from its last snapshot, marked
``"stale": true`` with ``last_sweep_age_s``; ``/health`` then says "degraded" (200), or
"stalled" (503) when every cluster's sweeps stalled.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from etcdmon_gui import __version__
from etcdmon_gui.model.alerts import Alert, AlertEvent, Silence
from etcdmon_gui.model.bench import DEFAULT_PREFIX, BenchSpec, Workload
from etcdmon_gui.model.history import AlertQuery, HistoryError, MetricsQuery, Series
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.alert_rules import parse_duration
from etcdmon_gui.monitor.history_signals import signal as signal_def
from etcdmon_gui.monitor.history_signals import snapshot_samples
from etcdmon_gui.reports.snapshot_json import hex_id, member_json, quantiles_json, snapshot_json
from etcdmon_gui.server.benchmarks import BenchRefused
from etcdmon_gui.server.clusters import ClusterTarget
from etcdmon_gui.server.runtime import ServerRuntime
from etcdmon_gui.server.state import ClusterView
from etcdmon_gui.store.history.reader import HistoryBackend

log = logging.getLogger(__name__)

T = TypeVar("T")

PROBLEM = "application/problem+json"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_POINTS = 10_000
MAX_SKIP = 1_000_000  # events a cursor may skip within one timestamp (this server gives few)
MAX_SPAN_S = 400 * 86_400.0
DEFAULT_SPAN_S = 3600.0
RETRY_AFTER_S = 5  # the alert thread was busy: when to ask again
HEALTHY = frozenset({"ok", "degraded"})  # /health's statuses answered with 200
SILENCE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
CURSOR_KEYS = frozenset({"from", "until", "skip"})


class Auth:
    """The bearer token (None: none configured) and whether every request needs it
    (a bind beyond loopback). The reload replaces ``token``."""

    def __init__(self, token: str | None, loopback: bool) -> None:
        self.token = token
        self.loopback = loopback

    def trusted(self, request: Request) -> bool:
        """The request may read everything: the bind is loopback, or it has the token."""
        return self.loopback or self._token_matches(request)

    def _token_matches(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return (
            self.token is not None
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), self.token.encode())
        )

    def check(self, request: Request) -> JSONResponse | None:
        """None when the request may go on, else the problem to answer. ``GET /health``
        always goes on (probes and container health checks carry no token); it says
        less to a caller that is not ``trusted``."""
        if request.method not in MUTATING and (self.loopback or request.url.path == "/health"):
            return None
        if self.token is None:
            return problem(
                request,
                403,
                "Token required",
                (
                    "this call changes the server's state"
                    if request.method in MUTATING
                    else "reading this server from beyond its own machine"
                )
                + ", which needs a bearer token, and none "
                "is configured: start etcdmon serve with --token-file FILE (or token_file "
                "in its configuration) and send Authorization: Bearer <token>",
            )
        if self._token_matches(request):
            return None
        given = request.headers.get("authorization", "").partition(" ")[2]
        return problem(
            request,
            401,
            "Unauthorized",
            "a bearer token is required: send Authorization: Bearer <the token in the "
            "server's --token-file>"
            if not given
            else "the bearer token is wrong",
            headers={"WWW-Authenticate": 'Bearer realm="etcdmon"'},
        )


class Problem(Exception):
    """An RFC 7807 answer from a handler."""

    def __init__(
        self,
        status: int,
        detail: str,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers
        self.extra = extra


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), ensure_ascii=False, separators=(",", ":")).encode()


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return SafeJSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


# -- JSON of what the API answers -------------------------------------------------------


def alert_json(a: Alert, last_seen: float | None = None) -> dict[str, Any]:
    forever = a.silenced_until is not None and math.isinf(a.silenced_until)
    return {
        "fingerprint": a.fingerprint,
        "rule": a.rule,
        "severity": a.severity.name.lower(),
        "state": a.state.value,
        "cluster": a.cluster_name,
        "cluster_key": a.cluster,
        "member": a.member,
        "value": a.value,
        "summary": a.summary,
        "since": a.since,
        "first_seen": a.active_at if a.active_at is not None else a.since,
        "last_seen": last_seen,
        "fires_at": a.fires_at,
        "fired_at": a.fired_at,
        "resolved_at": a.resolved_at,
        "acknowledged": a.acknowledged,
        "silenced": a.silenced_until is not None or a.silenced_by is not None,
        "silenced_until": None if forever else a.silenced_until,
        "silenced_until_resolved": forever,
        "silence_reason": a.silence_reason,
        "silenced_by": None if a.silenced_by is None else a.silenced_by.id,
        "labels": dict(a.labels),
    }


def silence_json(s: Silence, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    return {
        "id": s.id,
        "rule": s.rule,
        "cluster_key": s.cluster,
        "cluster": s.cluster_name,
        "member": s.member,
        "starts": s.starts,
        "ends": s.ends,
        "reason": s.reason,
        "created_at": s.created_at,
        "active": s.is_active(now),
        "expired": s.is_expired(now),
    }


def series_json(s: Series) -> dict[str, Any]:
    return {
        "member": s.member or None,
        "signal": s.signal,
        "resolution": s.resolution.label,
        "step_s": s.step_s,
        "ts": s.ts.tolist(),
        "min": s.min.tolist(),
        "avg": s.avg.tolist(),
        "max": s.max.tolist(),
        "last": s.last.tolist(),
    }


def parse_time(text: str, name: str) -> float:
    """UNIX seconds or an RFC 3339 time with its zone; ``Problem`` 400 otherwise."""
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value) or value < 0:
            raise Problem(400, f"{name}={text!r}: not a time; give UNIX seconds or RFC 3339")
        return value
    fixed = text.strip()
    if len(fixed) > 19 and fixed[-6] == " ":  # a "+01:00" zone sent unencoded
        fixed = fixed[:-6] + "+" + fixed[-5:]
    try:
        when = datetime.fromisoformat(fixed)
    except ValueError:
        raise Problem(
            400,
            f"{name}={text!r}: not a time; give UNIX seconds (1714557600) or RFC 3339 "
            "(2024-05-01T10:00:00Z)",
        ) from None
    if when.tzinfo is None:
        raise Problem(400, f"{name}={text!r}: an RFC 3339 time needs its zone (Z or +02:00)")
    return when.timestamp()


def _range(start: str | None, end: str | None) -> tuple[float, float]:
    now = time.time()
    until = parse_time(end, "to") if end is not None else now
    since = parse_time(start, "from") if start is not None else until - DEFAULT_SPAN_S
    if since >= until:
        raise Problem(400, f"from ({since:.3f}) must be before to ({until:.3f})")
    if until - since > MAX_SPAN_S:
        raise Problem(400, "the range is longer than 400 days; ask for less at a time")
    return since, until


def _encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _number(value: Any, none: bool = False) -> bool:
    """A finite JSON number (not a boolean), or null when ``none``."""
    if value is None:
        return none
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _decode_cursor(text: str) -> dict[str, Any]:
    """The cursor's keys, each checked (exactly ``CURSOR_KEYS``): ``Problem`` 400 for
    anything this server did not give."""
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if (
            not isinstance(data, dict)
            or set(data) != CURSOR_KEYS
            or not _number(data["until"])
            or not _number(data["from"], none=True)
            or not isinstance(data["skip"], int)
            or isinstance(data["skip"], bool)
            or not 0 <= data["skip"] <= MAX_SKIP
        ):
            raise ValueError(data)
        return data
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem(
            400, "cursor: not a cursor this server gave; start again without it"
        ) from None


# -- request bodies ---------------------------------------------------------------------


class SilenceRequest(BaseModel):
    """A silence of this cluster's alerts: every given matcher must match."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        None,
        pattern=SILENCE_ID,
        description="the client's id for this silence (letters, digits, _ . : -; up to 64): "
        "a retry with the same id answers the silence already added (200) instead of adding "
        "a second one; none: the server makes one",
    )
    rule: str | None = Field(None, description="rule name (none: any rule)")
    member: str | None = Field(None, description="member name (none: any member)")
    starts: str | None = Field(None, description="RFC 3339 or UNIX seconds (default: now)")
    ends: str | None = Field(None, description="RFC 3339 or UNIX seconds")
    duration: str | None = Field(None, description="instead of ends: 30m, 2h, 1d")
    reason: str = Field(min_length=1, max_length=500)


class BenchmarkRequest(BaseModel):
    """One benchmark run, with ``etcdmon bench``'s parameters (etcd's tools/benchmark)."""

    model_config = ConfigDict(extra="forbid")

    workload: Literal["put", "range", "txn-put", "txn-mixed", "watch-latency"] = "put"
    clients: int = Field(1, ge=1, le=1000)
    conns: int = Field(1, ge=1, le=100)
    total: int = Field(1000, ge=1, le=10_000_000)
    duration_s: float | None = Field(None, gt=0, le=3600)
    rate: float = Field(0.0, ge=0)
    key_size: int = Field(8, ge=1, le=1_000_000)
    val_size: int = Field(8, ge=0, le=1_500_000)
    key_space_size: int = Field(1, ge=1)
    sequential_keys: bool = False
    prefix: str = Field(DEFAULT_PREFIX, min_length=2)
    linearizable: bool = True
    limit: int = Field(0, ge=0)
    txn_ops: int = Field(1, ge=1, le=128)
    rw_ratio: float = Field(1.0, ge=0)
    put_rate: float = Field(100.0, gt=0)
    compact: bool = False
    defragment: bool = False
    seed: int | None = None
    confirm: str | None = Field(None, description="the cluster's name, for one tagged production")

    def spec(self) -> BenchSpec:
        return BenchSpec(
            workload=Workload(self.workload),
            clients=self.clients,
            conns=self.conns,
            total=self.total,
            duration_s=self.duration_s,
            rate=self.rate,
            key_size=self.key_size,
            val_size=self.val_size,
            key_space_size=self.key_space_size,
            sequential_keys=self.sequential_keys,
            prefix=self.prefix,
            linearizable=self.linearizable,
            limit=self.limit,
            txn_ops=self.txn_ops,
            rw_ratio=self.rw_ratio,
            put_rate=self.put_rate,
            compact=self.compact,
            defragment=self.defragment,
            seed=self.seed,
        )


# -- the application ---------------------------------------------------------------------


def create_app(
    runtime: ServerRuntime, auth: Auth, render_metrics: Callable[[], tuple[bytes, str]]
) -> FastAPI:
    """The API over ``runtime``; ``render_metrics`` answers ``/metrics`` (the exporter)."""
    app = FastAPI(
        title="etcdmon serve",
        version=__version__,
        description="etcd clusters' health, metrics, alerts and benchmarks (etcdmon).",
        default_response_class=SafeJSONResponse,
        docs_url="/docs",
        redoc_url=None,
    )

    @app.middleware("http")
    async def bearer(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        refused = auth.check(request)
        if refused is not None:
            return refused
        return await call_next(request)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> Response:
        return problem(request, exc.status, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.url.path}; the API is described at /openapi.json"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        return problem(
            request,
            exc.status_code,
            HTTPStatus(exc.status_code).phrase,
            detail,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "where": ".".join(str(x) for x in e.get("loc", ())),
                "reason": str(e.get("msg", "invalid")),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['reason']}" for e in errors)
        return problem(request, 422, "Invalid request", detail, errors=errors)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception) -> Response:
        log.error("internal error answering %s %s", request.method, request.url.path, exc_info=exc)
        return problem(
            request, 500, "Internal error", "the server failed to answer; its log says why"
        )

    # -- the server itself -------------------------------------------------------------

    @app.get(
        "/health",
        tags=["server"],
        summary="The server itself: ok; degraded when some clusters' sweeps stalled; "
        "503 when no sweep goes on",
    )
    async def health(request: Request) -> Response:
        body = runtime.health()
        if not auth.trusted(request):  # no cluster names or versions without the token
            body = {k: body[k] for k in ("status", "uptime_s", "last_sweep_age_s")}
        return SafeJSONResponse(body, status_code=200 if body["status"] in HEALTHY else 503)

    @app.get("/metrics", tags=["server"], summary="Prometheus text format")
    def metrics() -> Response:
        page, content_type = render_metrics()
        return Response(page, media_type=content_type)

    @app.get("/api/v1/clusters", tags=["server"], summary="The clusters watched")
    async def clusters() -> dict[str, Any]:
        out = []
        for v in runtime.clusters():
            snap = v.snapshot
            out.append(
                {
                    "name": v.name,
                    "key": v.key,
                    "production": v.production,
                    "cluster_id": None if snap is None else hex_id(snap.cluster_id),
                    "verdict": None if snap is None else snap.verdict.name.lower(),
                    "taken_at": None if snap is None else snap.taken_at,
                    **_freshness(v),
                    "alerts_firing": sum(a.state.value == "firing" for a in v.alerts),
                    "href": f"/api/v1/clusters/{v.name}",
                }
            )
        return {"clusters": out}

    def by_name(name: str) -> ClusterTarget:
        target = runtime.target(name)
        if target is None:
            known = ", ".join(t.name for t in runtime.targets()) or "none"
            raise Problem(404, f"no cluster named {name!r} is watched (watched: {known})")
        return target

    def first() -> ClusterTarget:
        targets = runtime.targets()
        if not targets:
            raise Problem(404, "no cluster is watched; the unprefixed routes are the first's")
        return targets[0]

    for dep, prefix, tag in (
        (by_name, "/api/v1/clusters/{name}", "cluster"),
        (first, "/api/v1", "first cluster"),
    ):
        app.include_router(_router(runtime, dep), prefix=prefix, tags=[tag])
    return app


def _router(runtime: ServerRuntime, dep: Callable[..., ClusterTarget]) -> APIRouter:
    router = APIRouter()

    def view_of(target: ClusterTarget) -> ClusterView:
        """The cluster's view as ``clusters()`` stamps it now (stale or not)."""
        view = _find(runtime.clusters(), target.key)
        if view is None:
            raise Problem(404, f"cluster {target.name!r} is no longer watched")
        return view

    def snapshot_of(target: ClusterTarget) -> tuple[ClusterSnapshot, dict[str, Any]]:
        """The latest snapshot and its freshness (``stale``, ``last_sweep_age_s``) for
        the body: a stale snapshot is still answered, said to be stale."""
        view = view_of(target)
        snap = view.snapshot
        if snap is None:
            raise Problem(
                503,
                f"no sweep of {target.name!r} has finished yet; ask again in a few seconds",
                "No data yet",
                stale=view.stale,
            )
        return snap, _freshness(view)

    Target = Depends(dep)

    @router.get("/cluster/status", summary="The latest sweep: etcdmon status --json")
    async def status(target: ClusterTarget = Target) -> dict[str, Any]:
        snap, fresh = snapshot_of(target)
        body = snapshot_json(snap)
        body["name"] = target.name
        body.update(fresh)
        return body

    @router.get("/cluster/leader", summary="The elected leader")
    async def leader(target: ClusterTarget = Target) -> dict[str, Any]:
        snap, fresh = snapshot_of(target)
        lead = snap.leader
        return {
            "leader_id": hex_id(snap.leader_id),
            "leader": None if lead is None else member_json(lead),
            "leader_changes": snap.leader_changes,
            "leader_changes_seen_total": snap.leader_changes_seen_total,
            "taken_at": snap.taken_at,
            **fresh,
        }

    @router.get("/cluster/members", summary="Every member, as in etcdmon status --json")
    async def members(target: ClusterTarget = Target) -> dict[str, Any]:
        snap, fresh = snapshot_of(target)
        return {
            "members": [member_json(m) for m in snap.members],
            "taken_at": snap.taken_at,
            **fresh,
        }

    @router.get("/metrics/current", summary="Every signal the history keeps, as of now")
    async def current(target: ClusterTarget = Target) -> dict[str, Any]:
        snap, fresh = snapshot_of(target)
        names = {m.id_hex: m.name for m in snap.members}
        per: dict[str, dict[str, float]] = {m.id_hex: {} for m in snap.members}
        cluster: dict[str, float] = {}
        for s in snapshot_samples(snap):
            (per.setdefault(s.member, {}) if s.member else cluster)[s.signal] = s.value
        return {
            "taken_at": snap.taken_at,
            "members": [
                {"id": mid, "name": names.get(mid), "signals": sig} for mid, sig in per.items()
            ],
            "cluster": cluster,
            **fresh,
        }

    @router.get("/metrics/latency", summary="P50/P95/P99 per signal and member (seconds)")
    async def latency(target: ClusterTarget = Target) -> dict[str, Any]:
        snap, fresh = snapshot_of(target)
        out = []
        for m in snap.members:
            mm = m.metrics
            out.append(
                {
                    "id": m.id_hex,
                    "name": m.name,
                    "probe_s": quantiles_json(m.probe_quantiles),
                    "wal_fsync_s": quantiles_json(mm.wal_fsync if mm else None),
                    "backend_commit_s": quantiles_json(mm.backend_commit if mm else None),
                    "peer_rtt_s": quantiles_json(mm.peer_rtt if mm else None),
                    "window_s": mm.window_s if mm else None,
                }
            )
        return {"members": out, "taken_at": snap.taken_at, **fresh}

    @router.get("/metrics/history", summary="A signal over time, from the history")
    async def history(
        target: ClusterTarget = Target,
        signal: str | None = Query(None, description="signal key, e.g. wal_fsync_p99_ms"),
        member: str | None = Query(None, description="member name or hex id"),
        start: str | None = Query(None, alias="from", description="RFC 3339 or UNIX s"),
        end: str | None = Query(None, alias="to", description="RFC 3339 or UNIX s"),
        step: str | None = Query(None, description="point width: 1m, 1h, or seconds"),
    ) -> dict[str, Any]:
        since, until = _range(start, end)
        if signal is not None:
            try:
                signal_def(signal)
            except KeyError as exc:
                raise Problem(400, f"signal: {exc.args[0]}") from None
        members = None
        if member is not None:
            members = (_member_id(runtime, target, member),)
        step_s = None
        if step is not None:
            try:
                step_s = parse_duration(step)
            except ValueError:
                step_s = math.nan
            if not 0 < step_s <= until - since:
                raise Problem(
                    400, f"step={step!r}: give a duration above 0 and within the range, e.g. 1m"
                )
        q = MetricsQuery(
            cluster=target.key,
            start=since,
            end=until,
            signals=None if signal is None else (signal,),
            members=members,
            step_s=step_s,
        )
        found = await _read_history(runtime, lambda r: r.series(q, MAX_POINTS))
        return {
            "cluster": target.name,
            "from": since,
            "to": until,
            "series": [series_json(s) for s in found],
        }

    @router.get("/alerts", summary="Active alerts (pending and firing)")
    async def alerts(target: ClusterTarget = Target) -> dict[str, Any]:
        view = view_of(target)
        seen = view.snapshot.taken_at if view.snapshot is not None else None
        return {"alerts": [alert_json(a, seen) for a in view.alerts], **_freshness(view)}

    @router.get("/alerts/history", summary="Alert transitions, newest first, by pages")
    async def alert_history(
        target: ClusterTarget = Target,
        start: str | None = Query(None, alias="from"),
        end: str | None = Query(None, alias="to"),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        if cursor is not None:
            c = _decode_cursor(cursor)
            since, until, skip = c["from"], float(c["until"]), int(c["skip"])
        else:
            since = parse_time(start, "from") if start is not None else None
            until = parse_time(end, "to") if end is not None else time.time()
            skip = 0
        q = AlertQuery(cluster=target.key, since=since, until=until, limit=skip + limit + 1)
        events: list[AlertEvent] = await _read_history(runtime, lambda r: r.alert_events(q))
        rest = events[skip:]
        page = rest[:limit]
        next_cursor = None
        if len(rest) > limit and page:
            last = page[-1].at
            same = sum(1 for e in page if e.at == last) + (skip if last == until else 0)
            next_cursor = _encode_cursor({"from": since, "until": last, "skip": same})
        return {
            "events": [
                {"at": e.at, "kind": e.kind.value, "alert": alert_json(e.alert)} for e in page
            ],
            "next_cursor": next_cursor,
        }

    @router.post("/alerts/{fingerprint}/ack", summary="Acknowledge an active alert")
    async def ack(fingerprint: str, target: ClusterTarget = Target) -> dict[str, Any]:
        alert = await _on_alert_thread(runtime.acknowledge, target.key, fingerprint)
        if alert is None:
            raise Problem(404, f"no active alert {fingerprint!r} in cluster {target.name!r}")
        log.info("alert %s (%s) acknowledged through the API", fingerprint, alert.rule)
        return alert_json(alert)

    @router.get("/silences", summary="This cluster's silences (and those of every cluster)")
    async def silences(target: ClusterTarget = Target) -> dict[str, Any]:
        found = await _on_alert_thread(runtime.silences, target.key, change=False)
        return {"silences": [silence_json(s) for s in found]}

    @router.post("/silences", status_code=201, summary="Silence this cluster's alerts")
    async def add_silence(
        body: SilenceRequest, response: Response, target: ClusterTarget = Target
    ) -> dict[str, Any]:
        now = time.time()
        if body.id is not None:  # a retry of one already added answers it, unchanged
            every = await _on_alert_thread(runtime.silences, None, change=False)
            same = next((s for s in every if s.id == body.id), None)
            if same is not None and same.ends <= now:
                raise Problem(
                    409,
                    f"silence {body.id!r} has ended; give a new id for a new silence",
                )
            if same is not None:
                if (same.cluster, same.rule, same.member, same.reason) != (
                    target.key,
                    body.rule,
                    body.member,
                    body.reason,
                ):
                    raise Problem(
                        409,
                        f"silence {body.id!r} exists with other matchers or another cluster; "
                        "give a new id for a new silence",
                    )
                response.status_code = 200
                return silence_json(same, now)
        starts = parse_time(body.starts, "starts") if body.starts is not None else now
        if (body.ends is None) == (body.duration is None):
            raise Problem(400, "give ends or duration (e.g. 2h), one of them")
        if body.ends is not None:
            ends = parse_time(body.ends, "ends")
        else:
            try:
                ends = starts + parse_duration(body.duration or "")
            except ValueError as exc:
                raise Problem(400, f"duration: {exc}") from None
        if ends <= max(starts, now):
            raise Problem(400, "the silence would end before it starts or in the past")
        silence = Silence(
            id=body.id or uuid.uuid4().hex,
            rule=body.rule,
            cluster=target.key,
            member=body.member,
            starts=starts,
            ends=ends,
            reason=body.reason,
            created_at=now,
            cluster_name=target.name,
        )
        await _on_alert_thread(runtime.add_silence, silence)
        log.info("silence %s added through the API for %s", silence.id, target.name)
        return silence_json(silence, now)

    @router.delete("/silences/{silence_id}", summary="End a silence now")
    async def expire(silence_id: str, target: ClusterTarget = Target) -> dict[str, Any]:
        ended = await _on_alert_thread(runtime.expire_silence, target.key, silence_id)
        if ended is None:
            raise Problem(404, f"no silence {silence_id!r} of cluster {target.name!r}")
        log.info("silence %s expired through the API", silence_id)
        return silence_json(ended)

    @router.post("/performance/benchmark", status_code=202, summary="Start a benchmark; its run id")
    def benchmark(body: BenchmarkRequest, target: ClusterTarget = Target) -> dict[str, Any]:
        view = runtime.view(target.key)
        cluster_id = None if view is None or view.snapshot is None else view.snapshot.cluster_id
        try:
            run_id = runtime.benchmarks.start(target, cluster_id, body.spec(), body.confirm)
        except BenchRefused as exc:
            raise Problem(exc.status, exc.detail, exc.title) from None
        return {
            "id": run_id,
            "cluster": target.name,
            "state": "running",
            "href": f"/api/v1/clusters/{target.name}/performance/benchmark/{run_id}",
        }

    @router.get("/performance/benchmark/{run_id}", summary="A run's progress, then its report")
    async def benchmark_run(run_id: str, target: ClusterTarget = Target) -> dict[str, Any]:
        found = runtime.benchmarks.get(target.key, run_id)
        if found is None:
            raise Problem(404, f"no benchmark run {run_id!r} on cluster {target.name!r}")
        return found

    return router


def _freshness(view: ClusterView) -> dict[str, Any]:
    """Whether the view's snapshot is the present: its sweeps stalled, and how long ago
    the latest one ended."""
    return {"stale": view.stale, "last_sweep_age_s": view.last_sweep_age_s}


def _find(views: Sequence[ClusterView], key: str) -> ClusterView | None:
    return next((v for v in views if v.key == key), None)


async def _read_history(runtime: ServerRuntime, job: Callable[[HistoryBackend], T]) -> T:
    """``job`` on the runtime's history reader; a ``HistoryError`` (the database is
    away, the file unreadable) is a 503 with its sentence and one warning line."""
    try:
        return await asyncio.wrap_future(runtime.read_history(job))
    except HistoryError as exc:
        log.warning("the history cannot be read: %s", exc)
        raise Problem(503, str(exc), "History unavailable") from None


async def _on_alert_thread(call: Callable[..., T], *args: Any, change: bool = True) -> T:
    """``call(*args)`` in the threadpool (it waits for the runtime's alert thread); a
    timeout there is a 503 with ``Retry-After``: the job is still queued."""
    try:
        return await asyncio.to_thread(call, *args)
    except TimeoutError:  # concurrent.futures' timeout: the alert thread is busy
        log.warning("the alert thread did not answer in time (%s)", call.__name__)
        detail = (
            "the server is busy; the change may still be applied: ask again in a few "
            "seconds (a silence given the same id is not added twice)"
            if change
            else "the server is busy; ask again in a few seconds"
        )
        raise Problem(
            503, detail, "Server busy", headers={"Retry-After": str(RETRY_AFTER_S)}
        ) from None


def _member_id(runtime: ServerRuntime, target: ClusterTarget, member: str) -> str:
    """A member's hex id from its name or id; ``Problem`` 400 when neither."""
    view = runtime.view(target.key)
    snap = view.snapshot if view is not None else None
    if snap is not None:
        for m in snap.members:
            if member in (m.name, m.id_hex):
                return m.id_hex
    text = member.lower()
    if 1 <= len(text) <= 16 and all(c in "0123456789abcdef" for c in text):
        return text  # a member that left may still have history
    known = ", ".join(m.name or m.id_hex for m in snap.members) if snap is not None else "?"
    raise Problem(400, f"member={member!r}: not a member of {target.name!r} (members: {known})")
