"""What the etcd layer brings back from one sweep, before any interpretation.

``monitor/`` turns a ``RawSweep`` (plus what it remembers of earlier sweeps) into a
``ClusterSnapshot``; keeping the raw answers as plain data lets that logic be tested
without a server.
"""

from __future__ import annotations

from dataclasses import dataclass

from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.metrics import RawScrape
from etcdmon_gui.model.snapshot import AlarmInfo


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """A member as MemberList describes it, with the cluster id of that answer.

    A configured endpoint that never answered is represented with ``id`` 0 and
    ``cluster_id`` None: it may belong to any cluster, or to none.
    """

    id: int
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    is_learner: bool
    cluster_id: int | None


@dataclass(frozen=True, slots=True)
class StatusAnswer:
    """A member's answer to Maintenance.Status, with the header that came with it."""

    cluster_id: int
    member_id: int
    version: str
    db_size: int
    db_size_in_use: int | None  # 3.4+
    leader: int  # 0: no leader
    raft_term: int
    raft_index: int
    raft_applied_index: int | None  # 3.4+
    is_learner: bool
    errors: tuple[str, ...]
    rtt_s: float
    revision: int = 0  # the member's current revision (the response header's)


@dataclass(frozen=True, slots=True)
class MemberProbe:
    """Everything one sweep learned about one member; each part may have failed alone."""

    info: MemberInfo
    endpoint: str | None  # the client URL probed
    status: StatusAnswer | None = None
    status_error: str | None = None
    unresponsive: bool = False  # connected but no answer before the deadline
    alarms: tuple[AlarmInfo, ...] = ()
    probe_s: float | None = None  # linearizable Range latency
    probe_error: str | None = None
    probe_denied: bool = False  # the read was refused: authentication or permission
    scrape: RawScrape | None = None
    scrape_error: str | None = None
    cert: CertCheck | None = None  # TLS endpoints only; refreshed every few minutes


@dataclass(frozen=True, slots=True)
class RawSweep:
    started_at: float  # time.time()
    duration_s: float
    members: tuple[MemberProbe, ...]
    error: str | None = None  # no member answered (members: those known, all down)
    warnings: tuple[str, ...] = ()
    client_cert: CertInfo | None = None
    auth_error: str | None = None  # the configured user could not authenticate
