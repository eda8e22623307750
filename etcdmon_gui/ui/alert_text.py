"""How an alert reads: where it is, its state (a pending one says when it fires), its
silence, the clipboard text and the details pane's HTML; how a silence's matchers read;
and which alerts count as firing.

An alert *counts as firing* (the badge, the tray colour) when it is firing and not
silenced, by its own silence or by a matcher silence: a silence is how a person says "I
know, stop telling me". No widgets here.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable

from etcdmon_gui.formatting import fmt_duration, fmt_stamp, fmt_time, fmt_value
from etcdmon_gui.model.alerts import Alert, AlertState, Severity, Silence
from etcdmon_gui.ui.palette import SEVERITY_COLOURS, alert_state_colour


def has_own_silence(alert: Alert, now: float) -> bool:
    """Silenced by a silence of its own (one that un-silence ends)."""
    return alert.silenced_until is not None and now < alert.silenced_until


def is_silenced(alert: Alert, now: float) -> bool:
    """Silenced by its own silence or by a matcher silence."""
    by = alert.silenced_by
    return has_own_silence(alert, now) or (by is not None and by.is_active(now))


def fires_text(alert: Alert, now: float) -> str | None:
    """``fires in 3 min`` for a pending alert that knows when; ``None`` otherwise."""
    if alert.state != AlertState.PENDING or alert.fires_at is None:
        return None
    if alert.fires_at <= now:
        return "fires at the next check"
    return f"fires in {fmt_duration(alert.fires_at - now)}"


def counts_as_firing(alert: Alert, now: float) -> bool:
    """Firing and not silenced: what the badge counts and the tray colour follows."""
    return alert.state == AlertState.FIRING and not is_silenced(alert, now)


def worst_firing(alerts: Iterable[Alert], now: float) -> Severity | None:
    """The worst severity among alerts that count as firing; ``None`` when none do."""
    return max((a.severity for a in alerts if counts_as_firing(a, now)), default=None)


def where(alert: Alert) -> str:
    """``prod / etcd-2``, or just the cluster for a cluster-wide alert."""
    return f"{alert.cluster_name} / {alert.member}" if alert.member else alert.cluster_name


def state_text(alert: Alert, now: float) -> str:
    """The state, with when a pending alert fires and silenced / acknowledged appended,
    so they show in the table: ``pending — fires in 3 min · silenced``."""
    fires = fires_text(alert, now)
    parts = [f"{alert.state.value} — {fires}" if fires else alert.state.value]
    if is_silenced(alert, now):
        parts.append("silenced")
    if alert.acknowledged:
        parts.append("acked")
    return " · ".join(parts)


def silence_text(alert: Alert, now: float) -> str | None:
    """What mutes the alert and until when; ``None`` when nothing does."""
    parts = []
    if has_own_silence(alert, now):
        assert alert.silenced_until is not None
        why = f" ({alert.silence_reason})" if alert.silence_reason else ""
        if math.isinf(alert.silenced_until):
            parts.append(f"silenced until resolved{why}")
        else:
            parts.append(f"silenced until {fmt_time(alert.silenced_until, now)}{why}")
    by = alert.silenced_by
    if by is not None and by.is_active(now):
        parts.append(
            f"silenced until {fmt_time(by.ends, now)} by silence {by.id} "
            f"[{matchers_text(by)}] ({by.reason})"
        )
    return "; ".join(parts) or None


def matchers_text(silence: Silence) -> str:
    """``rule=etcdNoLeader, cluster=prod, member=etcd-1``; ``every alert`` for none."""
    matchers = [
        f"{name}={value}"
        for name, value in (
            ("rule", silence.rule),
            ("cluster", silence.cluster_name or silence.cluster),
            ("member", silence.member),
        )
        if value is not None
    ]
    return ", ".join(matchers) or "every alert"


def alert_text(alert: Alert, now: float) -> str:
    """A readable block for the clipboard: enough to paste into a chat or a ticket."""
    lines = [
        f"[{alert.state.value.upper()}] {alert.severity.name.lower()} {alert.rule} — "
        f"{where(alert)}",
        f"  {alert.summary}",
        f"  value: {fmt_value(alert.value)} · since: {fmt_stamp(alert.since)} · "
        f"last notified: {fmt_stamp(alert.last_notified)}",
    ]
    flags = [
        t
        for t in (
            fires_text(alert, now),
            silence_text(alert, now),
            "acknowledged" if alert.acknowledged else None,
        )
        if t
    ]
    if flags:
        lines.append("  " + " · ".join(flags))
    if alert.labels:
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    lines.append(f"  fingerprint: {alert.fingerprint}")
    return "\n".join(lines)


def details_html(alert: Alert, now: float) -> str:
    """The details pane's text for one alert."""
    e = html.escape
    colour = SEVERITY_COLOURS[alert.severity]
    state_colour = alert_state_colour(alert)
    state_style = f" style='color:{state_colour}'" if state_colour else ""
    state = f"<b{state_style}>{alert.state.value}</b> for {fmt_duration(now - alert.since)}"
    fires = fires_text(alert, now)
    if fires:
        state += f" — {fires}"
    rows = [
        ("State", state),
        ("Severity", f"<span style='color:{colour}'>&#9679;</span> {alert.severity.name.lower()}"),
        ("Cluster", e(alert.cluster_name)),
        ("Member", e(alert.member) if alert.member else "cluster-wide"),
        ("Value", fmt_value(alert.value)),
    ]
    silence = silence_text(alert, now)
    if silence:
        rows.append(("Silence", e(silence)))
    if alert.acknowledged:
        rows.append(("Acknowledged", "yes"))
    timeline = [
        (alert.active_at, "condition true (pending)"),
        (alert.fires_at, "fires if the condition still holds"),
        (alert.fired_at, "firing"),
        (alert.resolved_at, "resolved"),
        (alert.last_notified, "last notified"),
    ]
    timeline = sorted((t, what) for t, what in timeline if t is not None)
    if not timeline:
        timeline = [(alert.since, alert.state.value)]
    parts = [
        f"<h3 style='margin-bottom:2px'><span style='color:{colour}'>&#9679;</span> "
        f"{e(alert.rule)}</h3>",
        f"<p style='margin-top:0'>{e(alert.summary)}</p>",
        "<table cellspacing='0' cellpadding='2'>",
        *(
            f"<tr><td style='color:gray; padding-right:10px'>{k}</td><td>{v}</td></tr>"
            for k, v in rows
        ),
        "</table>",
        "<p style='margin-bottom:2px'><b>Timeline</b></p><table cellspacing='0' cellpadding='1'>",
        *(
            f"<tr><td style='padding-right:10px; white-space:nowrap'>{fmt_time(t, now)}</td>"
            f"<td>{what}</td></tr>"
            for t, what in timeline
        ),
        "</table>",
    ]
    if alert.labels:
        parts.append(
            "<p style='margin-bottom:2px'><b>Labels</b></p><p style='margin-top:0'>"
            + "<br>".join(f"<code>{e(k)}={e(v)}</code>" for k, v in sorted(alert.labels.items()))
            + "</p>"
        )
    parts.append(f"<p style='color:gray'>fingerprint <code>{e(alert.fingerprint)}</code></p>")
    return "".join(parts)
