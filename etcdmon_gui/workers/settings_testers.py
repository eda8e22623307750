"""The "Test" buttons of the settings dialogs: what a ``SettingsService`` runs to try
settings that need not be saved yet, with the secrets it hands over."""

from __future__ import annotations

from concurrent.futures import Future

from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.model.delivery import DeliveryRecord
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.store.profiles import connection_config
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.workers.settings_service import TestDone


class ConnectionTester:
    """One health sweep of a profile: its result is the ``ClusterSnapshot``. ``abort``
    closes the probe's connections, so a sweep stuck on a hung member ends at once."""

    def __init__(self) -> None:
        self._probe: ClusterProbe | None = None  # the test in progress, for abort()
        self._aborted = False

    def test(self, item: Profile, secrets: SecretStore, done: TestDone) -> None:
        probe = ClusterProbe(connection_config(item, secrets))
        self._probe = probe
        try:
            if self._aborted:
                raise EtcdError("the test was cancelled: etcdmon-gui is closing")
            snapshot = ClusterMonitor(probe, item.key).sweep()
        finally:
            self._probe = None
            probe.close()
        done(snapshot, "")

    def abort(self) -> None:
        self._aborted = True
        probe = self._probe
        if probe is not None:
            probe.close()


class ChannelTester:
    """A clearly labelled test notification through the application's dispatcher,
    retried per its policy: the result is the delivery's final ``DeliveryRecord``,
    reported from a notification thread. A test still being retried at shutdown is
    ended by the dispatcher's ``close()``."""

    def __init__(self, dispatcher: NotificationDispatcher) -> None:
        self.dispatcher = dispatcher

    def test(self, item: ChannelBase, secrets: SecretStore, done: TestDone) -> None:
        future = self.dispatcher.send_test(item, retry=True, secrets=secrets)

        def finished(f: Future[DeliveryRecord]) -> None:
            try:
                record = f.result()
            except Exception as exc:  # the dispatcher's futures do not raise; just in case
                done(None, f"the test notification was lost ({type(exc).__name__})")
                return
            done(record, "")

        future.add_done_callback(finished)

    def abort(self) -> None:
        """Nothing to interrupt here: the dispatcher owns the delivery."""
