"""etcd's protobuf answers as the model's plain data, shared by the probe and the
control client.

pyetcd's generated stubs predate etcd 3.4: ``StatusResponse`` lacks
``raftAppliedIndex``, ``errors``, ``dbSizeInUse`` and ``isLearner``, ``Member`` lacks
``isLearner``, ``MemberAddRequest`` lacks ``isLearner`` and there is no
``MemberPromote`` at all. Those fields are read from protobuf's unknown-field set and
written by hand, with the field numbers of etcd's ``rpc.proto``.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from etcdmon_gui.model.raw import MemberInfo, StatusAnswer

STATUS_APPLIED_INDEX, STATUS_ERRORS, STATUS_IN_USE, STATUS_LEARNER = 7, 8, 9, 10
MEMBER_LEARNER = 5
#: ``MemberAddRequest.isLearner = true`` (field 2, varint 1) on the wire.
MEMBER_ADD_IS_LEARNER = b"\x10\x01"
#: etcd 3.4+: ``rpc MemberPromote(MemberPromoteRequest{uint64 ID = 1}) returns
#: (MemberPromoteResponse{header = 1, repeated Member members = 2})``; the same wire
#: shapes as MemberRemove's request and response.
MEMBER_PROMOTE_PATH = "/etcdserverpb.Cluster/MemberPromote"


def extra_fields(msg: Message) -> dict[int, list[Any]]:
    """The fields of ``msg`` its stub does not know, by field number."""
    found: dict[int, list[Any]] = {}
    for f in UnknownFieldSet(msg):
        found.setdefault(f.field_number, []).append(f.data)
    return found


def status_answer(resp: Any, rtt_s: float) -> StatusAnswer:
    extra = extra_fields(resp)
    errors = tuple(bytes(e).decode("utf-8", "replace") for e in extra.get(STATUS_ERRORS, []))
    return StatusAnswer(
        cluster_id=resp.header.cluster_id,
        member_id=resp.header.member_id,
        version=resp.version,
        db_size=resp.dbSize,
        db_size_in_use=extra.get(STATUS_IN_USE, [None])[-1],
        leader=resp.leader,
        raft_term=resp.raftTerm,
        raft_index=resp.raftIndex,
        raft_applied_index=extra.get(STATUS_APPLIED_INDEX, [None])[-1],
        is_learner=bool(extra.get(STATUS_LEARNER, [0])[-1]),
        errors=errors,
        rtt_s=rtt_s,
        revision=resp.header.revision,
    )


def member_info(m: Any, cluster_id: int | None) -> MemberInfo:
    """One ``Member`` of a MemberList (or MemberAdd, ...) answer."""
    learner = bool(extra_fields(m).get(MEMBER_LEARNER, [0])[-1])
    return MemberInfo(m.ID, m.name, tuple(m.peerURLs), tuple(m.clientURLs), learner, cluster_id)
