"""Alertmanager: alerts POSTed to the ``/api/v2/alerts`` of one or more Alertmanagers,
as Prometheus sends them, so that an existing Alertmanager's routing, grouping,
inhibition and silences apply to etcdmon's alerts.

Each alert is a postableAlert. Labels: the alert's own (``alertname`` = the rule,
``severity``, ``cluster``, ``member`` for a per-member rule, and any others a rule
gives), then the channel's static ``labels`` (``env=prod``) where the alert has no
label of that name. Annotations: ``summary``, ``description``, ``value`` and
``etcdmon_fingerprint``. ``startsAt``: when the alert began firing. ``endsAt``: for a
firing alert, ``ENDS_AFTER_RESENDS`` (4) re-send intervals from the time it is sent,
and the dispatcher sends it again every ``resend_s`` until it resolves
(``Channel.resend_s``), as Prometheus does with ``resend_delay`` (1 m): an
Alertmanager that stops hearing of the alert (etcdmon stopped) resolves it by itself;
a RESOLVED carries its resolve time. ``generatorURL``: the channel's (e.g. the URL of
``etcdmon serve``), or empty.

Several URLs are one HA Alertmanager cluster: each is sent every alert (as Prometheus
does; they deduplicate among themselves), at once; the delivery succeeds when one of
them accepted it, and the others' failures are logged, once per URL until it takes
alerts again. Authentication: basic auth (``username`` and the ``alertmanager_password``
secret) or a bearer token (the ``alertmanager_token`` secret). Certificates are verified
unless ``verify_tls`` is off, against ``ca_file`` when one is given. Every request has
the channel's ``timeout_s``; no secret reaches a log line or an error.

The test notification is an alert that ends as it starts: the Alertmanagers must accept
it (so the URLs, the credentials and TLS are checked), but a resolved alert nobody was
told of fires no receiver.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.notify.base import Channel, ChannelBase, SecretField, http_url
from etcdmon_gui.notify.errors import ChannelError, redact_url
from etcdmon_gui.notify.http import post
from etcdmon_gui.notify.payloads import (
    alert_labels,
    format_value,
    is_resolved,
    rfc3339,
    severity_name,
    started,
    where,
)
from etcdmon_gui.notify.registry import ChannelKind

log = logging.getLogger(__name__)

API_PATH = "/api/v2/alerts"
#: A firing alert's endsAt is this many re-send intervals ahead (Prometheus: 4).
ENDS_AFTER_RESENDS = 4
DEFAULT_RESEND_S = 60.0  # Prometheus' --rules.alert.resend-delay

#: Labels every alert has already; a static label may not replace them.
IDENTITY_LABELS = ("alertname", "severity", "cluster", "member")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _base_url(value: str) -> str:
    """An Alertmanager's base URL (``/api/v2/alerts`` is added when sending), or a
    ValueError saying what is wrong with it."""
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"{redact_url(url)} is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValueError(f"{url!r} is not an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError(
            f"{redact_url(url)}: give no credentials in the URL; use 'User name' and the "
            "password (or a bearer token), kept with the secrets"
        )
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        raise ValueError(f"{redact_url(url)}: an Alertmanager URL has no query, '#' or spaces")
    return url.removesuffix(API_PATH).rstrip("/")


def _label(item: str) -> tuple[str, str]:
    name, eq, value = item.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not value:
        raise ValueError(f"label {item!r}: write it as name=value (e.g. env=prod)")
    if not _LABEL_NAME.match(name) or name.startswith("__"):
        raise ValueError(
            f"label name {name!r}: letters, digits and '_', not starting with a digit or '__'"
        )
    if name in IDENTITY_LABELS:
        raise ValueError(f"etcdmon sets the label {name!r} itself; choose another name")
    return name, value


class AlertmanagerChannelConfig(ChannelBase):
    """Alertmanagers' ``/api/v2/alerts``: ``urls`` (several: one HA cluster), static
    ``labels`` (name=value), the ``generator_url`` alerts link to, how often firing
    alerts are sent again (``resend_s``), basic auth (``username`` and the
    ``alertmanager_password`` secret) or a bearer token (``alertmanager_token``), TLS."""

    secret_fields: ClassVar[tuple[SecretField, ...]] = (
        SecretField(
            "alertmanager_password",
            "Password",
            "The basic-auth password of the Alertmanager user",
            kind="password",
            noun="Alertmanager password",
            only_with="username",
            unused="only with a user name",
        ),
        SecretField(
            "alertmanager_token",
            "Bearer token",
            "Sent as 'Authorization: Bearer <token>'",
            noun="Alertmanager bearer token",
            only_with="bearer_token",
            unused="only when sending a bearer token",
        ),
    )

    type: Literal["alertmanager"] = "alertmanager"
    urls: list[str] = Field(
        title="Alertmanager URLs",
        min_length=1,
        description="Each Alertmanager of the cluster (all of them are sent every alert); "
        f"{API_PATH} is added",
        json_schema_extra={"placeholder": "http://alertmanager-1:9093, http://alertmanager-2:9093"},
    )
    labels: list[str] = Field(
        default_factory=list,
        title="Extra labels",
        description="name=value labels added to every alert, e.g. env=prod",
        json_schema_extra={"placeholder": "optional, e.g. env=prod, team=storage"},
    )
    generator_url: str = Field(
        default="",
        title="Generator URL",
        description="The link each alert carries back to its source (e.g. etcdmon serve's URL)",
        json_schema_extra={"placeholder": "optional, e.g. https://etcdmon.example.com"},
    )
    resend_s: float = Field(
        default=DEFAULT_RESEND_S,
        ge=1,
        le=3600,
        title="Re-send every (s)",
        description="A firing alert is sent again this often; Alertmanager resolves it by "
        f"itself {ENDS_AFTER_RESENDS} intervals after the last one (if etcdmon stopped)",
    )
    username: str | None = Field(
        default=None,
        title="User name",
        description="Basic auth user (its password is kept with the secrets)",
        json_schema_extra={"placeholder": "no basic auth"},
    )
    bearer_token: bool = Field(default=False, title="Send a bearer token")
    verify_tls: bool = Field(default=True, title="Verify the server's certificate")
    ca_file: str | None = Field(
        default=None,
        title="CA certificate",
        description="PEM bundle for a private CA (default: system)",
        json_schema_extra={"placeholder": "the system's CA certificates"},
    )

    @field_validator("urls", mode="before")
    @classmethod
    def _one_url_alone(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        urls = [_base_url(u) for u in value]
        seen: set[str] = set()
        for url in urls:
            if url in seen:
                raise ValueError(f"{redact_url(url)} is listed twice")
            seen.add(url)
        return urls

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_mapping(cls, value: Any) -> Any:
        """channels.yaml may give the labels as a mapping (``env: prod``)."""
        if isinstance(value, Mapping):
            return [f"{k}={v}" for k, v in value.items()]
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        names: set[str] = set()
        out = []
        for item in value:
            name, text = _label(item)
            if name in names:
                raise ValueError(f"label {name!r} is given twice")
            names.add(name)
            out.append(f"{name}={text}")
        return out

    @field_validator("generator_url")
    @classmethod
    def _generator_url(cls, value: str) -> str:
        return http_url(value.strip()) if value.strip() else ""

    @field_validator("username", "ca_file")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> AlertmanagerChannelConfig:
        if self.username and self.bearer_token:
            raise ValueError(
                "choose basic auth (a user name) or a bearer token, not both: an "
                "Alertmanager request carries one Authorization header"
            )
        return self

    @property
    def static_labels(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.labels)


# -- the payload ----------------------------------------------------------------------


def alert_annotations(event: AlertEvent) -> dict[str, str]:
    a = event.alert
    annotations = {
        "summary": a.summary,
        "description": f"{a.rule} ({severity_name(a.severity)}) on {where(a)}: {a.summary}",
        "etcdmon_fingerprint": a.fingerprint,
    }
    value = format_value(a.value)
    if value is not None:
        annotations["value"] = value
    return annotations


def postable_alert(
    event: AlertEvent,
    now: float,
    resend_s: float = DEFAULT_RESEND_S,
    *,
    generator_url: str = "",
    labels: Mapping[str, str] | None = None,
    ends_at: float | None = None,
) -> dict[str, Any]:
    """One postableAlert for ``event`` sent at ``now``: a firing one ends
    ``ENDS_AFTER_RESENDS`` re-sends later, a resolved one when it resolved; ``ends_at``
    overrides both (a test alert). ``labels`` are added where the alert has none of
    that name."""
    a = event.alert
    starts = started(event)
    if ends_at is not None:
        ends = ends_at
    elif is_resolved(event):
        ends = a.resolved_at if a.resolved_at is not None else event.at
    else:
        ends = now + ENDS_AFTER_RESENDS * resend_s
    return {
        "labels": {**(labels or {}), **alert_labels(a)},
        "annotations": alert_annotations(event),
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(max(ends, starts)),  # Alertmanager refuses an end before the start
        "generatorURL": generator_url,
    }


# -- the sender -----------------------------------------------------------------------


class AlertmanagerChannel(Channel):
    config: AlertmanagerChannelConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failing: set[str] = set()  # URLs whose failure was said while others took
        self._failing_lock = threading.Lock()

    @property
    def resend_s(self) -> float | None:
        return self.config.resend_s

    def send(self, event: AlertEvent) -> None:
        self._post([self._alert(event)])

    def send_test(self, event: AlertEvent) -> None:
        """An alert that ends as it starts: accepted, but it notifies no receiver."""
        self._post([self._alert(event, ends_at=started(event))])

    def _alert(self, event: AlertEvent, ends_at: float | None = None) -> dict[str, Any]:
        c = self.config
        return postable_alert(
            event,
            time.time(),
            c.resend_s,
            generator_url=c.generator_url,
            labels=c.static_labels,
            ends_at=ends_at,
        )

    def _headers(self) -> dict[str, str]:
        c = self.config
        if c.username:
            password = self._secret("alertmanager_password")
            pair = base64.b64encode(f"{c.username}:{password}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        if c.bearer_token:
            return {"Authorization": f"Bearer {self._secret('alertmanager_token')}"}
        return {}

    def _verify(self) -> bool | ssl.SSLContext:
        c = self.config
        if not c.verify_tls:
            return False
        if c.ca_file is None:
            return True
        try:
            return ssl.create_default_context(cafile=c.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ChannelError(
                f"cannot use the CA file {c.ca_file}: {getattr(exc, 'strerror', None) or exc}",
                permanent=True,
            ) from None

    def _post(self, alerts: list[dict[str, Any]]) -> None:
        """POST to every URL at once; fine when one accepted."""
        c = self.config
        body = json.dumps(alerts, ensure_ascii=False).encode()
        headers = self._headers()
        verify = self._verify()

        def one(url: str) -> ChannelError | None:
            try:
                post(url + API_PATH, body, timeout=c.timeout_s, headers=headers, verify=verify)
            except ChannelError as exc:
                return exc
            return None

        if len(c.urls) == 1:
            results = [one(c.urls[0])]
        else:
            with ThreadPoolExecutor(len(c.urls), thread_name_prefix="alertmanager-post") as pool:
                results = list(pool.map(one, c.urls))
        errors = [e for e in results if e is not None]
        if len(errors) == len(results):
            if len(errors) == 1:
                raise errors[0]
            waits = [e.retry_after for e in errors if e.retry_after is not None]
            raise ChannelError(
                f"none of the {len(errors)} Alertmanagers took the alert: "
                + "; ".join(str(e) for e in errors),
                permanent=all(e.permanent for e in errors),
                retry_after=min(waits) if waits else None,
            )
        self._note_partial(dict(zip(c.urls, results, strict=True)))

    def _note_partial(self, results: Mapping[str, ChannelError | None]) -> None:
        """Some took the alert: say once per URL that it did not, and when it does again."""
        with self._failing_lock:
            for url, error in results.items():
                shown = redact_url(url)
                if error is None and url in self._failing:
                    self._failing.discard(url)
                    log.info("channel %r: Alertmanager %s takes alerts again", self.name, shown)
                elif error is not None and url not in self._failing:
                    self._failing.add(url)
                    log.warning(
                        "channel %r: Alertmanager %s did not take an alert (the others did): "
                        "%s; said again when it does",
                        self.name,
                        shown,
                        self.scrub(str(error)),
                    )
                elif error is not None:
                    log.debug(
                        "channel %r: %s still fails: %s", self.name, shown, self.scrub(str(error))
                    )


KIND = ChannelKind(
    settings=AlertmanagerChannelConfig,
    sender=AlertmanagerChannel,
    title="Alertmanager",
    badge="AM",
    order=35,
    description="Sends alerts to Prometheus Alertmanager (/api/v2/alerts), re-sent while "
    "firing, so its routing, grouping, inhibition and silences apply.",
)
