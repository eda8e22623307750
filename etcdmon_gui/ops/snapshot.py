"""Save a snapshot of one member's database to a file.

The Snapshot call streams the member's database and ends with the SHA-256 of what it
sent, which etcd's own client keeps at the end of the file (``etcdutl snapshot restore``
checks it). The stream goes to a temporary file beside the target, the digest is
verified, the file is fsynced and renamed over the target (then the directory is
fsynced), so the target is either the old file or a whole snapshot, never a part.
The SHA-256 reported is the file's (what ``sha256sum`` prints). etcd 3.4 and 3.5 fill
no header in the stream, so the revision is the member's (Status) just before and
after; when those differ (writes during the snapshot) the result says between which.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path

from etcdmon_gui.etcd.control import snapshot_timeout
from etcdmon_gui.formatting import fmt_bytes
from etcdmon_gui.model.ops import OpKind, PlannedStep, StepState
from etcdmon_gui.ops.base import PlannedOperation, StepFn, StepResult, make_plan, refused
from etcdmon_gui.ops.runner import OpFailedError, StepReport
from etcdmon_gui.ops.session import MemberNotFoundError, OpsSession, label, role

SHA_LEN = 32
SNAPSHOT_ESTIMATE_RATE = 100_000_000  # bytes/s, for the plan's estimate only
REPORT_INTERVAL_S = 0.2


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _target_problem(target: Path) -> str | None:
    if target.is_dir():
        return f"{target} is a directory: name the snapshot file"
    parent = target.parent
    if not parent.is_dir():
        return f"the directory {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the directory {parent} is not writable"
    return None


def _save_step(session: OpsSession, member_id: int, target: Path) -> StepFn:
    def step(report: StepReport) -> StepResult:
        m = session.member_by_id(member_id)
        name = label(m)
        ep = session.endpoint_of(m)
        before = session.status(m)
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        tmp = Path(tmp_name)
        file_hash, data_hash = hashlib.sha256(), hashlib.sha256()
        held = b""  # the last 32 bytes seen: etcd's digest, once the stream ends
        written = 0
        total: int | None = None
        header_revision: int | None = None
        last_report = 0.0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in session.control.snapshot(ep, snapshot_timeout(before.db_size)):
                    if total is None:
                        total = len(chunk.blob) + chunk.remaining_bytes + SHA_LEN
                    header_revision = header_revision or chunk.revision
                    out.write(chunk.blob)
                    file_hash.update(chunk.blob)
                    buf = held + chunk.blob
                    data_hash.update(buf[:-SHA_LEN])
                    held = buf[-SHA_LEN:]
                    written += len(chunk.blob)
                    now = time.monotonic()
                    if now - last_report >= REPORT_INTERVAL_S:
                        last_report = now
                        report(
                            min(1.0, written / total) if total else None,
                            f"{fmt_bytes(written)} of {fmt_bytes(total)} from {name}",
                        )
                out.flush()
                os.fsync(out.fileno())
            if len(held) < SHA_LEN or data_hash.digest() != held:
                raise OpFailedError(
                    f"the snapshot from {name} does not match the SHA-256 etcd sent with "
                    f"it: nothing was saved"
                )
            os.replace(tmp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OpFailedError(f"cannot write {target}: {exc.strerror or exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        after = session.status(m)
        if header_revision is not None:
            revision, text = header_revision, f"revision {header_revision}"
        elif before.revision == after.revision:
            revision, text = before.revision, f"revision {before.revision}"
        else:
            revision = None
            text = f"a revision between {before.revision} and {after.revision} (writes went on)"
        sha = file_hash.hexdigest()
        report(1.0, f"{fmt_bytes(written)} saved")
        return (
            StepState.DONE,
            f"saved {fmt_bytes(written)} from {name} at {text} to {target}; SHA-256 {sha}",
            {
                "path": str(target),
                "bytes": written,
                "sha256": sha,
                "etcd_sha256": held.hex(),
                "revision": revision,
                "revision_range": [before.revision, after.revision],
                "member": name,
                "member_id": m.id_hex,
            },
        )

    return step


def snapshot(
    session: OpsSession, path: str | os.PathLike[str], member: str | None = None
) -> PlannedOperation:
    """Save a snapshot of ``member`` (name or hex id; default the leader) to ``path``."""
    view = session.view
    target = Path(path).expanduser().absolute()
    params = {"path": str(target), "member": member}
    problem = view.problem(quorum=False, leader=member is None)
    if problem is not None:
        return refused(OpKind.SNAPSHOT, view, problem, params)
    if member is None:
        chosen = view.leader
        if chosen is None:
            return refused(
                OpKind.SNAPSHOT, view, "the cluster has no leader: name a member", params
            )
    else:
        try:
            chosen = view.find(member)
        except MemberNotFoundError as exc:
            return refused(OpKind.SNAPSHOT, view, str(exc), params)
    if not chosen.reachable:
        return refused(
            OpKind.SNAPSHOT, view, f"{label(chosen)} does not answer: {chosen.error}", params
        )
    if chosen.is_learner and (chosen.version or "").startswith("3.4"):
        return refused(
            OpKind.SNAPSHOT,
            view,
            f"{label(chosen)} is a learner and etcd 3.4 serves no snapshot from learners: "
            f"choose a voting member",
            params,
        )
    problem = _target_problem(target)
    if problem is not None:
        return refused(OpKind.SNAPSHOT, view, problem, params)
    warnings = [f"{target} exists and will be replaced"] if target.exists() else []
    who = f"{label(chosen)} ({role(chosen, view.snapshot.leader_id)})"
    size = chosen.db_size
    step = PlannedStep(
        f"save a snapshot of {who} to {target}",
        member=label(chosen),
        detail=f"DB {fmt_bytes(size)}; streamed to a temporary file beside it, checked "
        f"against etcd's SHA-256, then renamed",
        expected_s=0.5 + (size or 0) / SNAPSHOT_ESTIMATE_RATE,
    )
    plan = make_plan(
        OpKind.SNAPSHOT,
        view,
        f"save a snapshot of {who} ({fmt_bytes(size)}) to {target}",
        [step],
        warnings=warnings,
        params=params,
    )
    return PlannedOperation(plan, [_save_step(session, chosen.id, target)])
