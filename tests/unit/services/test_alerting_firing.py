"""AlertService tells its sinks which alerts fire after every evaluation (what keeps
Alertmanager's copy of a firing alert alive), and that none do once a cluster is let
go; a plain function sink only hears transitions."""

from __future__ import annotations

from collections.abc import Sequence

from etcdmon_gui.model.alerts import Alert, AlertEvent, EventKind
from etcdmon_gui.services.alerting import AlertService
from tests.builders import member, snap


class Recorder:
    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self.told: list[tuple[str, list[str], list[str] | None]] = []

    def notify(self, event: AlertEvent, channel_ids: list[str] | None = None) -> None:
        self.events.append(event)

    def firing(
        self, cluster: str, alerts: Sequence[Alert], channel_ids: list[str] | None = None
    ) -> None:
        self.told.append((cluster, [a.rule for a in alerts], channel_ids))


def test_sinks_are_told_what_fires_after_each_evaluation_and_when_let_go() -> None:
    sink, plain = Recorder(), []
    service = AlertService(None, [sink, lambda e, ch: plain.append(e)])
    service.set_cluster("c1", "prod", channels=["am"])
    service.evaluate(snap(100.0, [member(1), member(2)]))
    service.evaluate(snap(105.0, [member(1, alarms=("NOSPACE",)), member(2)]))
    service.evaluate(snap(110.0, [member(1, alarms=("NOSPACE",)), member(2)]))
    assert sink.told == [
        ("c1", [], ["am"]),
        ("c1", ["etcdAlarmActive"], ["am"]),
        ("c1", ["etcdAlarmActive"], ["am"]),  # still firing: no event, still told
    ]
    assert [e.kind for e in sink.events] == [EventKind.FIRING] == [e.kind for e in plain]
    service.forget_cluster("c1")
    assert sink.told[-1] == ("c1", [], ["am"])
    assert [e.kind for e in plain] == [EventKind.FIRING, EventKind.RESOLVED]
