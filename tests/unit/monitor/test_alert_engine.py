"""The alert lifecycle on constructed snapshots with a controlled clock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from etcdmon_gui.model.alerts import AlertState, EventKind, Severity, Silence
from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.snapshot import MemberStatus
from etcdmon_gui.monitor.alert_engine import UNTIL_RESOLVED, AlertEngine, fingerprint
from etcdmon_gui.monitor.alert_rules import (
    Rule,
    RulesError,
    apply_overrides,
    default_rules,
    load_rules,
    parse_duration,
    parse_rules,
)
from tests.builders import Clock, member, snap


def down_rule(for_s: str = "1m", repeat: str | None = None) -> Rule:
    raw = {
        "name": "down",
        "scope": "member",
        "signal": "member_down",
        "op": ">",
        "threshold": 0,
        "for": for_s,
        "severity": "warning",
        "summary": "{member} of {cluster} is down: {detail}",
    }
    if repeat:
        raw["repeat"] = repeat
    return Rule.model_validate(raw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_pending_then_firing_after_for_then_resolved(clock: Clock) -> None:
    engine = AlertEngine([down_rule("1m")], clock=clock)
    assert engine.evaluate(snap(clock.t, [member(1), member(2, up=False)]), "prod") == []
    (alert,) = engine.alerts
    assert alert.state == AlertState.PENDING and alert.member == "m2"
    clock.t += 59
    assert engine.evaluate(snap(clock.t, [member(1), member(2, up=False)]), "prod") == []
    clock.t += 1
    (event,) = engine.evaluate(snap(clock.t, [member(1), member(2, up=False)]), "prod")
    assert event.kind == EventKind.FIRING
    assert event.alert.summary == "m2 of prod is down: connection refused"
    assert event.alert.fingerprint == fingerprint("down", "c1", "m2")
    assert event.alert.labels == {
        "alertname": "down",
        "severity": "warning",
        "cluster": "prod",
        "member": "m2",
    }
    clock.t += 5
    (resolved,) = engine.evaluate(snap(clock.t, [member(1), member(2)]), "prod")
    assert resolved.kind == EventKind.RESOLVED
    assert resolved.alert.fingerprint == event.alert.fingerprint
    assert resolved.alert.state == AlertState.RESOLVED


def test_resolved_alerts_are_forgotten_after_the_keep_window(clock: Clock) -> None:
    engine = AlertEngine([down_rule("0s")], keep_resolved_s=600, clock=clock)
    engine.evaluate(snap(clock.t, [member(1), member(2, up=False)]), "prod")
    clock.t += 5
    engine.evaluate(snap(clock.t, [member(1), member(2)]), "prod")
    assert [a.state for a in engine.alerts] == [AlertState.RESOLVED]
    clock.t += 600
    engine.evaluate(snap(clock.t, [member(1), member(2)]), "prod")
    assert [a.state for a in engine.alerts] == [AlertState.RESOLVED]  # not older yet
    clock.t += 1
    engine.evaluate(snap(clock.t, [member(1), member(2)]), "prod")
    assert engine.alerts == []


def test_a_blip_shorter_than_for_never_fires(clock: Clock) -> None:
    engine = AlertEngine([down_rule("1m")], clock=clock)
    engine.evaluate(snap(clock.t, [member(2, up=False)]))
    clock.t += 30
    assert engine.evaluate(snap(clock.t, [member(2)])) == []
    assert engine.alerts == []  # pending alerts vanish without a word


def test_one_alert_per_fingerprint_and_repeats(clock: Clock) -> None:
    engine = AlertEngine([down_rule("0s", repeat="10m")], clock=clock)
    (first,) = engine.evaluate(snap(clock.t, [member(2, up=False)]))
    assert first.kind == EventKind.FIRING
    for _ in range(5):
        clock.t += 60
        assert engine.evaluate(snap(clock.t, [member(2, up=False)])) == []  # de-duplicated
    clock.t += 300
    (repeat,) = engine.evaluate(snap(clock.t, [member(2, up=False)]))
    assert repeat.kind == EventKind.REPEAT and len(engine.alerts) == 1


def test_silences_and_acknowledgement(clock: Clock) -> None:
    engine = AlertEngine([down_rule("0s")], clock=clock)
    (fired,) = engine.evaluate(snap(clock.t, [member(2, up=False)]))
    engine.acknowledge(fired.alert.fingerprint)
    muted = engine.silence(fired.alert.fingerprint, UNTIL_RESOLVED, "planned maintenance")
    assert muted.silence_reason == "planned maintenance"
    clock.t += 60
    assert engine.evaluate(snap(clock.t, [member(2)])) == []  # resolved, but silenced
    (alert,) = engine.alerts
    assert alert.state == AlertState.RESOLVED and alert.silenced_until is None
    clock.t += 60
    (again,) = engine.evaluate(snap(clock.t, [member(2, up=False)]))
    assert again.kind == EventKind.FIRING and not again.alert.acknowledged
    engine.silence(again.alert.fingerprint, clock.t + 3600)
    clock.t += 10
    assert engine.evaluate(snap(clock.t, [member(2)])) == []


def test_cluster_scope_and_unreachable_keeps_member_state(clock: Clock) -> None:
    quorum = Rule.model_validate(
        {
            "name": "q",
            "scope": "cluster",
            "signal": "quorum_lost",
            "op": ">",
            "threshold": 0,
            "for": "0s",
            "severity": "critical",
            "summary": "{cluster}: {detail}",
        }
    )
    engine = AlertEngine([down_rule("0s"), quorum], clock=clock)
    events = engine.evaluate(
        snap(clock.t, [member(1), member(2, up=False), member(3, up=False)], quorum=False)
    )
    assert sorted((e.alert.rule, e.alert.member) for e in events) == [
        ("down", "m2"),
        ("down", "m3"),
        ("q", None),
    ]
    assert next(e for e in events if e.alert.rule == "q").alert.severity == Severity.CRITICAL
    clock.t += 5
    # Nothing answers now: member alerts are kept as they are, not resolved.
    assert engine.evaluate(snap(clock.t, [], error="connection refused")) == []
    assert {a.member for a in engine.firing()} == {"m2", "m3", None}


def test_alarm_signal_carries_the_alarm_name(clock: Clock) -> None:
    rules = [r for r in default_rules() if r.name == "etcdAlarmActive"]
    engine = AlertEngine(rules, clock=clock)
    (event,) = engine.evaluate(snap(clock.t, [member(1, alarms=("NOSPACE",))]), "prod")
    assert event.alert.summary == "alarm NOSPACE is active on m1 of prod"


def test_defaults_cover_the_mixin_and_more() -> None:
    names = {r.name for r in default_rules()}
    assert {
        "etcdMembersDown",
        "etcdInsufficientMembers",
        "etcdNoLeader",
        "etcdHighNumberOfLeaderChanges",
        "etcdHighNumberOfFailedGRPCRequests",
        "etcdMemberCommunicationSlow",
        "etcdHighNumberOfFailedProposals",
        "etcdHighFsyncDurations",
        "etcdHighCommitDurations",
        "etcdDatabaseQuotaLowSpace",
        "etcdExcessiveDatabaseGrowth",
        "etcdDatabaseQuotaForecast",
        "etcdDatabaseHighFragmentationRatio",
        "etcdSplitBrain",
        "etcdAlarmActive",
        "etcdRaftIndexLag",
        "etcdClientProbeLatencyHigh",
        "etcdCertificateExpiringSoon",
        "etcdMemberDataInconsistent",
        "etcdClusterUnreachable",
    } <= names


def test_overrides_and_user_file(tmp_path: Path) -> None:
    user = tmp_path / "rules.yaml"
    user.write_text(
        "schema_version: 1\nrules:\n- name: etcdMembersDown\n  for: 30s\n"
        "- name: etcdRaftIndexLag\n  enabled: false\n"
    )
    rules = {r.name: r for r in load_rules(user, {"etcdNoLeader": {"severity": "warning"}}, "prod")}
    assert rules["etcdMembersDown"].for_s == 30 and not rules["etcdRaftIndexLag"].enabled
    assert rules["etcdNoLeader"].severity == Severity.WARNING
    assert rules["etcdMembersDown"].threshold == 0  # untouched fields keep the default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [\n", "line 2: not valid YAML"),
        (
            "rules:\n- name: etcdMembersDown\n  for: soon\n",
            "rule etcdMembersDown: field for: 'soon' is not a duration",
        ),
        (
            "rules:\n- name: etcdMembersDown\n  severity: loud\n",
            "rule etcdMembersDown: field severity: severity is one of info, warning, critical",
        ),
        (
            "rules:\n- name: mine\n  scope: member\n  signal: bogus\n  op: '>'\n  threshold: 1\n"
            "  severity: info\n  summary: x\n",
            "rule mine: field signal: unknown signal 'bogus'",
        ),
        (
            "rules:\n- name: mine\n  scope: cluster\n  signal: raft_lag\n  op: '>'\n"
            "  threshold: 1\n  severity: info\n  summary: x\n",
            "is member-wide, not cluster-wide",
        ),
        ("rules:\n- name: etcdMembersDown\n  colour: red\n", "field colour: Extra inputs"),
        # Issue 15: accepted silently before, and a rule that could never work.
        (
            "rules:\n- name: etcdMembersDown\n  threshold: .nan\n",
            "rule etcdMembersDown: field threshold: threshold is a finite number, not nan",
        ),
        (
            "rules:\n- name: etcdMembersDown\n  threshold: -.inf\n",
            "field threshold: threshold is a finite number, not -inf",
        ),
        (
            "rules:\n- name: etcdMembersDown\n  repeat: 0.0001s\n",
            "field repeat: repeat is 0 (never) or at least 60s (e.g. 1h), not 0.0001s",
        ),
        ("rules:\n- name: etcdMembersDown\n  for: .inf\n", "field for: inf is not a duration"),
        ("rules:\n- name: etcdMembersDown\n  for: .nan\n", "field for: nan is not a duration"),
    ],
)
def test_malformed_rules_name_file_rule_and_field(tmp_path: Path, text: str, message: str) -> None:
    user = tmp_path / "rules.yaml"
    user.write_text(text)
    with pytest.raises(RulesError) as info:
        load_rules(user)
    assert str(user) in str(info.value) and message in str(info.value)


def test_durations_and_duplicates() -> None:
    assert [parse_duration(x) for x in ("90s", "5m", "1.5h", 2, "250ms")] == [
        90,
        300,
        5400,
        2,
        0.25,
    ]
    one = (
        "- name: a\n  scope: cluster\n  signal: split_brain\n  op: '>'\n"
        "  threshold: 0\n  severity: info\n  summary: x\n"
    )
    text = "rules:\n" + one * 2
    with pytest.raises(RulesError, match="rule a: defined twice"):
        parse_rules(text, "dup.yaml")
    with pytest.raises(RulesError, match="profile p: rule nope"):
        apply_overrides(default_rules(), {"nope": {"for": "1m"}}, "profile p")


def test_windowed_signals(clock: Clock) -> None:
    from etcdmon_gui.model.metrics import MemberMetrics

    def metrics(requests: float, ratio: float) -> MemberMetrics:
        return MemberMetrics(
            window_s=10,
            wal_fsync=None,
            backend_commit=None,
            peer_rtt=None,
            peer_rtt_by_peer={},
            proposals_committed_per_s=None,
            proposals_applied_per_s=None,
            proposals_pending=None,
            proposals_failed_per_s=0,
            has_leader=True,
            is_leader=False,
            leader_changes_total=None,
            db_total_bytes=None,
            db_in_use_bytes=None,
            quota_bytes=None,
            grpc_requests_per_s={},
            grpc_requests_total_per_s=requests,
            grpc_failure_ratio=ratio,
            rss_bytes=None,
        )

    rules = [r for r in default_rules() if r.name == "etcdHighNumberOfFailedGRPCRequests"]
    engine = AlertEngine([r.model_copy(update={"for_s": 0.0}) for r in rules], clock=clock)
    ok = dataclasses.replace(member(1), metrics=metrics(100, 0.0))
    bad = dataclasses.replace(member(1), metrics=metrics(100, 0.5))
    assert engine.evaluate(snap(clock.t, [ok])) == []
    clock.t += 10
    # 50 % failing now, 0 % before: 25 % over the 5-minute window.
    (event,) = engine.evaluate(snap(clock.t, [bad]))
    assert event.alert.value == pytest.approx(25.0)

    # The monitor's own failed reads are the cluster's trouble, already reported: an
    # idle member whose only failures are our probe reads raises nothing.
    engine = AlertEngine([r.model_copy(update={"for_s": 0.0}) for r in rules], clock=clock)
    ours = dataclasses.replace(member(2), metrics=metrics(0.1, 1.0), probe_error="no leader")
    for _ in range(5):
        clock.t += 10
        assert engine.evaluate(snap(clock.t, [ours])) == []
    # ... while the same failures from other clients still count.
    theirs = dataclasses.replace(ours, probe_error=None)
    clock.t += 10
    (event,) = engine.evaluate(snap(clock.t, [theirs]))
    assert event.alert.member == "m2"


def test_rules_file_reloads_and_keeps_the_previous_rules_when_broken(tmp_path: Path) -> None:
    import os

    from etcdmon_gui.monitor.alert_rules import RulesFile

    user = tmp_path / "rules.yaml"
    user.write_text("rules:\n- name: etcdMembersDown\n  for: 30s\n")
    source = RulesFile(user, {}, "prod")
    assert {r.name: r for r in source.rules}["etcdMembersDown"].for_s == 30
    assert source.reload_if_changed() is None  # unchanged file: nothing to do
    user.write_text("rules:\n- name: etcdMembersDown\n  for: 2m\n")
    os.utime(user, (1, 1))  # a different mtime, however fast the test runs
    changed = source.reload_if_changed()
    assert changed is not None and {r.name: r for r in changed}["etcdMembersDown"].for_s == 120
    user.write_text("rules:\n- name: etcdMembersDown\n  for: never\n")
    os.utime(user, (2, 2))
    with pytest.raises(RulesError, match="'never' is not a duration"):
        source.reload_if_changed()
    assert {r.name: r for r in source.rules}["etcdMembersDown"].for_s == 120  # kept


# -- pending alerts, matcher silences, un-silence, clusters let go ------------------------


def test_a_pending_alert_knows_when_it_fires(clock: Clock) -> None:
    engine = AlertEngine([down_rule("5m")], clock=clock)
    engine.evaluate(snap(clock.t, [member(2, up=False)]))
    (pending,) = engine.alerts
    assert pending.state == AlertState.PENDING
    assert pending.active_at == clock.t and pending.fires_at == clock.t + 300
    # The rule's ``for`` changes while pending: the alert's fire time follows it.
    engine.set_rules([down_rule("10m")])
    clock.t += 60
    engine.evaluate(snap(clock.t, [member(2, up=False)]))
    assert engine.alerts[0].fires_at == clock.t - 60 + 600
    clock.t += 540
    (fired,) = engine.evaluate(snap(clock.t, [member(2, up=False)]))
    assert fired.kind == EventKind.FIRING and fired.alert.fires_at is None


def silence(**kw: object) -> Silence:
    fields: dict[str, object] = {
        "id": "s1",
        "rule": None,
        "cluster": None,
        "member": None,
        "starts": 1_000_000.0,
        "ends": 1_000_000.0 + 3600,
        "reason": "maintenance",
        "created_at": 1_000_000.0,
    }
    fields.update(kw)
    return Silence(**fields)  # type: ignore[arg-type]


def test_silence_matchers() -> None:
    engine = AlertEngine([down_rule("0s")], clock=Clock())
    engine.evaluate(snap(1_000_000.0, [member(2, up=False)]), "prod")
    (alert,) = engine.alerts
    assert silence().matches(alert)  # no matcher: anything
    assert silence(rule="down", cluster="c1", member="m2").matches(alert)
    assert not silence(rule="other").matches(alert)
    assert not silence(cluster="prod").matches(alert)  # the key, not the name
    assert not silence(member="m3").matches(alert)
    cluster_wide = dataclasses.replace(alert, member=None)
    assert not silence(member="m2").matches(cluster_wide)
    s = silence()
    assert not s.is_active(s.starts - 1) and s.is_active(s.starts) and not s.is_active(s.ends)
    assert s.is_expired(s.ends) and not s.is_expired(s.ends - 1)


def test_a_matcher_silence_mutes_what_it_matches_until_it_ends(clock: Clock) -> None:
    mute = silence(rule="down", member="m2", starts=clock.t, ends=clock.t + 600)
    engine = AlertEngine([down_rule("0s")], clock=clock, silences=[mute])
    events = engine.evaluate(snap(clock.t, [member(2, up=False), member(3, up=False)]))
    # m2 fires too, silently; m3 is not matched.
    assert [e.alert.member for e in events] == ["m3"]
    by_member = {a.member: a for a in engine.alerts}
    assert by_member["m2"].state == AlertState.FIRING
    assert by_member["m2"].silenced_by == mute and by_member["m3"].silenced_by is None
    # A silence added later applies at once, to every alert it matches.
    cluster_mute = silence(id="s2", cluster="c1", starts=clock.t, ends=clock.t + 60)
    engine.set_silences([mute, cluster_mute])
    assert engine.alerts[0].silenced_by is not None and engine.alerts[1].silenced_by is not None
    clock.t += 30
    assert engine.evaluate(snap(clock.t, [member(2), member(3)])) == []  # resolved, muted
    assert {a.state for a in engine.alerts} == {AlertState.RESOLVED}
    assert all(a.silenced_by is None for a in engine.alerts)
    # The short silence ended: m3 is heard again; m2 is still muted by the long one.
    clock.t += 60
    events = engine.evaluate(snap(clock.t, [member(2, up=False), member(3, up=False)]))
    assert [e.alert.member for e in events] == ["m3"]
    # Expired (its end moved to now): m2 resolves out loud.
    engine.set_silences([dataclasses.replace(mute, ends=clock.t), cluster_mute])
    assert all(a.silenced_by is None for a in engine.alerts)
    clock.t += 10
    events = engine.evaluate(snap(clock.t, [member(2), member(3, up=False)]))
    assert [(e.kind, e.alert.member) for e in events] == [(EventKind.RESOLVED, "m2")]
    # A silence that starts later does nothing yet.
    later = silence(id="s3", starts=clock.t + 100, ends=clock.t + 200)
    engine.set_silences([later])
    clock.t += 10
    (fired,) = engine.evaluate(snap(clock.t, [member(2, up=False), member(3, up=False)]))
    assert fired.alert.member == "m2" and fired.alert.silenced_by is None


def test_unsilence_ends_an_alerts_own_silence(clock: Clock) -> None:
    engine = AlertEngine([down_rule("0s")], clock=clock)
    (fired,) = engine.evaluate(snap(clock.t, [member(2, up=False)]))
    fp = fired.alert.fingerprint
    engine.silence(fp, UNTIL_RESOLVED, "known")
    unmuted = engine.unsilence(fp)
    assert unmuted.silenced_until is None and unmuted.silence_reason is None
    clock.t += 10
    (resolved,) = engine.evaluate(snap(clock.t, [member(2)]))
    assert resolved.kind == EventKind.RESOLVED


def test_changes_include_silenced_transitions_acks_and_silences(clock: Clock) -> None:
    mute = silence(member="m3", starts=clock.t, ends=clock.t + 600)
    engine = AlertEngine([down_rule("0s")], clock=clock, silences=[mute])
    events = engine.evaluate(snap(clock.t, [member(2, up=False), member(3, up=False)]))
    assert len(events) == 1  # m3 is silenced...
    changed = {a.member: a for a in engine.take_changes()}
    assert {m: a.state for m, a in changed.items()} == {  # ...but its state is kept
        "m2": AlertState.FIRING,
        "m3": AlertState.FIRING,
    }
    assert engine.take_changes() == []  # taken
    clock.t += 10
    engine.evaluate(snap(clock.t, [member(2, up=False), member(3, up=False)]))
    assert engine.take_changes() == []  # nothing lasting changed
    fp2 = changed["m2"].fingerprint
    engine.acknowledge(fp2)
    engine.silence(changed["m3"].fingerprint, clock.t + 60, "why")
    assert {(a.member, a.acknowledged, a.silence_reason) for a in engine.take_changes()} == {
        ("m2", True, None),
        ("m3", False, "why"),
    }
    engine.unsilence(changed["m3"].fingerprint)
    (unmuted,) = engine.take_changes()
    assert unmuted.silenced_until is None
    clock.t += 10
    engine.evaluate(snap(clock.t, [member(2), member(3)]))
    assert {a.state for a in engine.take_changes()} == {AlertState.RESOLVED}


def test_forget_cluster_resolves_its_alerts_saying_it_is_no_longer_watched(clock: Clock) -> None:
    slow = down_rule("1h").model_copy(update={"name": "slow"})
    engine = AlertEngine([down_rule("0s"), slow], clock=clock)
    engine.evaluate(snap(clock.t, [member(2, up=False), member(3, up=False)]), "prod")
    engine.silence(fingerprint("down", "c1", "m3"), UNTIL_RESOLVED, "known")
    other = dataclasses.replace(snap(clock.t, [member(4, up=False)]), key="c2")
    engine.evaluate(other, "stage")
    engine.take_changes()
    clock.t += 5
    events = engine.forget_cluster("c1")
    # m2 resolves out loud; m3 was silenced (its state is kept, quietly); pending ones go.
    (event,) = events
    assert event.kind == EventKind.RESOLVED and event.alert.member == "m2"
    assert event.alert.state == AlertState.RESOLVED and event.alert.resolved_at == clock.t
    assert event.alert.summary == (
        "prod is no longer watched (was: m2 of prod is down: connection refused)"
    )
    assert {(a.member, a.state) for a in engine.take_changes()} == {
        ("m2", AlertState.RESOLVED),
        ("m3", AlertState.RESOLVED),
    }
    assert {a.cluster for a in engine.alerts} == {"c2"}  # c1's left memory
    assert engine.forget_cluster("c1") == []


def test_forgetting_a_restored_cluster_resolves_what_it_had(clock: Clock) -> None:
    """What the worker does with alerts restored for a cluster never watched again."""
    first = AlertEngine([down_rule("0s")], clock=clock)
    first.evaluate(snap(clock.t, [member(2, up=False)]), "prod")
    holding = AlertEngine([], clock=clock)  # no rules: it only holds the restored alerts
    holding.restore(first.alerts)
    clock.t += 60
    (event,) = holding.forget_cluster("c1")
    assert event.kind == EventKind.RESOLVED
    assert event.alert.summary.startswith("prod is no longer watched")
    assert holding.alerts == []


def test_the_certificate_expiry_alert_names_the_member_and_the_certificate(clock: Clock) -> None:
    """Issue 15: it said only "a certificate used with prod expires in 2.9 days"."""
    now = clock.t

    def cert(cn: str, days: float) -> CertInfo:
        return CertInfo(f"CN={cn}", "CN=ca", (), now - 86_400, now + days * 86_400, "01", cn, False)

    def served(m: MemberStatus, days: float) -> MemberStatus:
        chain = (cert(f"etcd-{m.name}", days),)
        return dataclasses.replace(m, server_cert=CertCheck("", chain, True, None, now))

    engine = AlertEngine(default_rules(), clock=clock)
    s = snap(now, [served(member(1), 40), served(member(2), 2.9), member(3)])
    events = {e.alert.rule: e for e in engine.evaluate(s, "prod")}
    summary = events["etcdCertificateExpiringVerySoon"].alert.summary
    assert summary == (
        "the server certificate of member m2 (CN=etcd-m2), used with prod, expires in 2.9 days"
    )
    assert events["etcdCertificateExpiringSoon"].alert.summary == summary
    client = cert("etcdmon", 1.0)
    clock.t += 60
    s = dataclasses.replace(snap(clock.t, [served(member(2), 2.9)]), client_cert=client)
    engine.evaluate(s, "prod")
    (alert,) = [a for a in engine.alerts if a.rule == "etcdCertificateExpiringVerySoon"]
    assert alert.summary.startswith("the client certificate (CN=etcdmon), used with prod")
