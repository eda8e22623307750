"""Notification channels and their secrets, read and written off the GUI thread, and
the delivery log relayed into it.

``ChannelService`` owns every disk and keyring access the channels dialog needs and
runs them one at a time in its own ``QThread``: loading ``channels.yaml``, saving a
channel with its secrets, deleting one (secrets included), and sending a test
notification through the application's ``NotificationDispatcher``. After a save or a
delete it hands the dispatcher the new channel list, so new settings apply to the next
alert. It also subscribes to the dispatcher's delivery log: each attempt arrives on a
notification thread and leaves as a Qt signal, which the handle re-emits in the GUI
thread. The dialog and the delivery log widget only send requests and render answers,
through ``ChannelServiceHandle``.

A test of an edit that is not saved yet must not touch the keyring: its secrets (the
stored ones overridden by those typed in) go into a throw-away in-memory store that is
handed to ``NotificationDispatcher.send_test``.

Nothing here logs a secret or puts one in a signal other than the request that carries
it in: results carry channel configs (which hold no secret), delivery records (whose
errors the dispatcher has scrubbed) and readable messages.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from urllib.parse import urlsplit

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.model.delivery import DeliveryAttempt, DeliveryRecord
from etcdmon_gui.notify.config import ChannelBase, EmailChannelConfig, WebhookChannelConfig
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.store.channels import ChannelStore, ChannelStoreError
from etcdmon_gui.store.secrets import MemoryKeyring, SecretStore, SecretStoreError
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

#: How the dialog and the messages name each secret a channel may own.
SECRET_TITLES = {
    "smtp_password": "SMTP password",
    "slack_webhook": "Slack webhook URL",
    "webhook_url": "Webhook URL",
    "webhook_secret": "Signing secret",
    "pagerduty_routing_key": "Routing key",
}

#: Every secret field any channel can own (what ``delete`` removes).
CHANNEL_SECRET_FIELDS = tuple(SECRET_TITLES)

#: Secrets that are URLs (checked as such, and shown only redacted anywhere).
URL_SECRETS = ("slack_webhook", "webhook_url")


def needed_secrets(config: ChannelBase) -> tuple[str, ...]:
    """The secrets ``config`` will actually read when it sends: an SMTP password only
    with a user name, a signing secret only when signing. Works on a
    ``model_construct``-ed config too (the dialog asks before validation succeeds)."""
    if isinstance(config, EmailChannelConfig):
        return ("smtp_password",) if config.username else ()
    if isinstance(config, WebhookChannelConfig):
        return ("webhook_url", config.signing_secret_field) if config.sign else ("webhook_url",)
    return tuple(config.secret_fields)


def secret_problem(field: str, value: str) -> str | None:
    """What is wrong with a new secret value, in words that never repeat the value."""
    if field in URL_SECRETS:
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            return "not a valid URL"
        if parts.scheme not in ("http", "https") or not host:
            return "expected an http:// or https:// URL with a host"
        if any(c.isspace() for c in value):
            return "a URL has no spaces"
    return None


class ChannelServiceError(Exception):
    """A request was refused; the message says why and never holds a secret."""


class ChannelService(QObject):
    """Every channel and channel-secret I/O, one request at a time, in its own thread.

    Requests (slots, queued from the GUI thread through the handle):
        load(), save(old_id, config, secrets), delete(channel_id), test(config, secrets),
        load_history().
    ``secrets`` maps secret fields ("webhook_url", ...) to new values; a field not given
    (or blank) keeps what is stored. ``old_id`` is the id of the channel an edit
    replaces, None to add one.

    Signals:
        present(dict[str, list[str]]): channel id -> secret fields actually stored;
            emitted just before every ``loaded``.
        loaded(list[ChannelConfig], BackendInfo): ``channels.yaml`` as it is now.
        saved(ChannelConfig): a channel was written (after the ``loaded`` listing it).
        deleted(str channel_id): a channel and its secrets are gone (after ``loaded``).
        tested(DeliveryRecord): a test notification's final record (delivered, or failed
            with the reason), once all its attempts are done.
        failed(str message): a request could not be carried out (a refused save or
            delete changes nothing; a refused test sent nothing). When only the secrets
            failed, ``failed`` follows ``saved``/``deleted`` and says so.
        delivery(DeliveryAttempt, DeliveryRecord): one new entry of the dispatcher's
            delivery log; emitted on a notification thread (connect queued).
        history(list[tuple[DeliveryAttempt, DeliveryRecord | None]]): the delivery log
            so far, oldest first (``load_history``).
    """

    present = Signal(object)
    loaded = Signal(object, object)
    saved = Signal(object)
    deleted = Signal(str)
    tested = Signal(object)
    failed = Signal(str)
    delivery = Signal(object, object)
    history = Signal(object)

    def __init__(self, store: ChannelStore, secrets: SecretStore,
                 dispatcher: NotificationDispatcher) -> None:
        super().__init__()
        self.store = store
        self.secrets = secrets
        self.dispatcher = dispatcher
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._detached = False

    # -- the delivery log (any thread) -------------------------------------------------

    def attach(self) -> None:
        """Start relaying the dispatcher's delivery log as ``delivery`` signals."""
        with self._lock:
            if self._unsubscribe is None and not self._detached:
                self._unsubscribe = self.dispatcher.subscribe(self._relay)

    def detach(self) -> None:
        """Stop relaying, for good: no signal leaves after this returns (shutdown)."""
        with self._lock:
            self._detached = True
            unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def _relay(self, attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        if not self._detached:
            self.delivery.emit(attempt, record)

    # -- requests, run in the service's thread ----------------------------------------

    @Slot()
    def load(self) -> None:
        self._reload()

    @Slot()
    def load_history(self) -> None:
        try:
            attempts = self.dispatcher.attempts()
            records = {r.delivery_id: r for r in self.dispatcher.records()}
        except Exception as exc:
            self._fail("could not read the delivery log", exc)
            return
        self.history.emit([(a, records.get(a.delivery_id)) for a in attempts])

    @Slot(object, object, object)
    def save(self, old_id: str | None, config: ChannelBase,
             secrets: Mapping[str, str]) -> ChannelBase | None:
        """Add (``old_id`` None) or replace a channel, then store its secrets.

        Secret values are checked and missing ones detected before anything is
        written, so a refused save changes nothing.
        """
        try:
            channels: list[ChannelBase] = list(self.store.load())
            new_secrets = self._gather(config, secrets)
            old: ChannelBase | None = None
            if old_id is None:
                if any(c.id == config.id for c in channels):
                    raise ChannelServiceError(f"a channel with the id {config.id!r} "
                                              "already exists")
                channels.append(config)
            else:
                index = next((i for i, c in enumerate(channels) if c.id == old_id), None)
                if index is None:
                    raise ChannelServiceError("it is no longer in the channels file "
                                              "(deleted meanwhile?)")
                if config.id != old_id:
                    raise ChannelServiceError("a channel's identifier cannot change")
                old = channels[index]
                channels[index] = config
            clash = next((c for c in channels if c.id != config.id
                          and c.name.casefold() == config.name.casefold()), None)
            if clash is not None:
                raise ChannelServiceError(f"another channel is already named {clash.name!r}")
            self.store.save(channels)
        except Exception as exc:
            self._fail(f"channel {config.name!r} was not saved", exc)
            return None
        problem = None
        try:
            for field, value in new_secrets.items():
                self.secrets.set(config.id, field, value)
            needed = needed_secrets(config)
            owned = dict.fromkeys((*(old.secret_fields if old else ()), *config.secret_fields))
            for field in owned:
                if field not in needed:  # e.g. the user name was removed, signing turned off
                    self.secrets.delete(config.id, field)
        except Exception as exc:
            problem = exc
        self._apply(channels)
        self._reload()
        self.saved.emit(config)
        if problem is not None:  # after saved, so the view shows it last
            self._fail(f"channel {config.name!r} was saved, but not all of its secrets",
                       problem)
        return config

    @Slot(str)
    def delete(self, channel_id: str) -> None:
        name = channel_id
        try:
            channels = list(self.store.load())
            gone = next((c for c in channels if c.id == channel_id), None)
            if gone is None:
                raise ChannelServiceError("it is no longer in the channels file")
            name = gone.name
            rest = [c for c in channels if c.id != channel_id]
            self.store.save(rest)
        except Exception as exc:
            self._fail(f"channel {name!r} was not deleted", exc)
            return
        problem = None
        try:
            self.secrets.delete_owner(channel_id, CHANNEL_SECRET_FIELDS)
        except Exception as exc:
            problem = exc
        self._apply(rest)
        self._reload()
        self.deleted.emit(channel_id)
        if problem is not None:
            self._fail(f"channel {name!r} was deleted, but its secrets were not", problem)

    @Slot(object, object)
    def test(self, config: ChannelBase, secrets: Mapping[str, str]) -> None:
        """Send a test notification with the given (possibly unsaved) settings, retried
        per the dispatcher's policy; ``tested`` reports the outcome when it is final.

        The channel reads its secrets from an in-memory store: the stored ones of
        ``config.id``, overridden by the new values. Nothing is written.
        """
        try:
            new = self._gather(config, secrets)
            scratch = SecretStore(MemoryKeyring(), self.secrets.info)
            for field in config.secret_fields:
                value = new.get(field) or self.secrets.get(config.id, field)
                if value:
                    scratch.set(config.id, field, value)
            future = self.dispatcher.send_test(config, retry=True, secrets=scratch)
        except Exception as exc:
            self._fail(f"no test notification was sent through {config.name!r}", exc)
            return
        future.add_done_callback(self._test_done)

    def _test_done(self, future: Future[DeliveryRecord]) -> None:
        """On a notification thread (or here, when it failed at once)."""
        if self._detached:
            return
        try:
            record = future.result()
        except Exception as exc:  # the dispatcher's futures do not raise; just in case
            self._fail("the test notification was lost", exc)
            return
        self.tested.emit(record)

    # -- helpers -------------------------------------------------------------------------

    def _gather(self, config: ChannelBase, secrets: Mapping[str, str]) -> dict[str, str]:
        """The new secrets ``config`` will own (checked); raises when one it needs is
        neither given nor stored."""
        needed = needed_secrets(config)
        new: dict[str, str] = {}
        for field, value in secrets.items():
            title = SECRET_TITLES.get(field, field)
            if field not in config.secret_fields:
                raise ChannelServiceError(f"a {config.type_name} channel has no {title}")
            if not value:
                continue
            problem = secret_problem(field, value)
            if problem is not None:
                raise ChannelServiceError(f"{title}: {problem}")
            if field in needed:
                new[field] = value
        for field in needed:
            if field not in new and self.secrets.get(config.id, field) is None:
                raise ChannelServiceError(
                    f"enter the {SECRET_TITLES.get(field, field)}: none is stored in "
                    f"{self.secrets.info.name} yet")
        return new

    def _apply(self, channels: Sequence[ChannelBase]) -> None:
        """New settings take effect for the next alert."""
        try:
            self.dispatcher.set_channels(channels)
        except Exception as exc:
            self._fail("the channels were saved but are not in use yet", exc)

    def _reload(self) -> None:
        try:
            channels = self.store.load()
        except Exception as exc:
            self._fail("could not load the notification channels", exc)
            return
        present: dict[str, list[str]] = {}
        problem = None
        for c in channels:
            try:
                present[c.id] = self.secrets.present(c.id, c.secret_fields)
            except SecretStoreError as exc:  # e.g. a locked keyring: still list them
                problem = problem or exc
        self.present.emit(present)
        self.loaded.emit(list(channels), self.secrets.info)
        if problem is not None:
            self._fail("could not tell which secrets are stored", problem)

    def _fail(self, what: str, exc: Exception) -> None:
        message = f"{what}: {_reason(exc)}"
        log.warning("%s", message, exc_info=not isinstance(exc, _READABLE))
        self.failed.emit(message)


_READABLE = (ChannelServiceError, ChannelStoreError, SecretStoreError, ValueError)


def _reason(exc: Exception) -> str:
    """A readable sentence for the user; our own errors already are one. Other
    exceptions are named by type only: their text might quote a secret."""
    if isinstance(exc, _READABLE):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}" + (
            f": {exc.filename}" if exc.filename else "")
    return f"unexpected {type(exc).__name__} (see the log)"


class ChannelServiceHandle(ThreadOwner):
    """The service with its thread, owned by the GUI thread; ``shutdown`` is idempotent.

    Signals:
        present, loaded, saved, deleted, tested, failed, delivery, history: the
            service's signals, re-emitted in the GUI thread.
        requestLoad(), requestSave(old_id, config, secrets), requestDelete(str),
        requestTest(config, secrets), requestHistory(): queued into the service's
            thread (``load()``, ``save()``... emit them).
    """

    present = Signal(object)
    loaded = Signal(object, object)
    saved = Signal(object)
    deleted = Signal(str)
    tested = Signal(object)
    failed = Signal(str)
    delivery = Signal(object, object)
    history = Signal(object)
    requestLoad = Signal()
    requestSave = Signal(object, object, object)
    requestDelete = Signal(str)
    requestTest = Signal(object, object)
    requestHistory = Signal()

    def __init__(self, service: ChannelService, parent: QObject | None = None) -> None:
        super().__init__(service, "channels", parent)
        self.service = service
        self.relay("present", "loaded", "saved", "deleted", "tested", "failed", "delivery",
                   "history")
        self.requestLoad.connect(service.load)
        self.requestSave.connect(service.save)
        self.requestDelete.connect(service.delete)
        self.requestTest.connect(service.test)
        self.requestHistory.connect(service.load_history)

    def start(self) -> None:
        super().start()
        self.service.attach()

    def _interrupt(self) -> None:
        """Stop relaying deliveries; a test still being retried is ended by the
        dispatcher's ``close()``."""
        self.service.detach()

    # -- requests (GUI thread) ----------------------------------------------------------

    def load(self) -> None:
        self.requestLoad.emit()

    def load_history(self) -> None:
        self.requestHistory.emit()

    def save(self, old_id: str | None, config: ChannelBase,
             secrets: Mapping[str, str]) -> None:
        self.requestSave.emit(old_id, config, dict(secrets))

    def delete(self, channel_id: str) -> None:
        self.requestDelete.emit(channel_id)

    def test(self, config: ChannelBase, secrets: Mapping[str, str]) -> None:
        self.requestTest.emit(config, dict(secrets))
