"""The application's own settings (not a cluster's): how often to sweep, what the charts
show, the theme, the tray, popups, how much history to keep, the log level, and a team's
PostgreSQL history the history views may read instead of this computer's file.

``AppSettings`` is validated and frozen; its titled fields label the settings dialog.
Values are kept in the units people think in (seconds, minutes, hours, days, MiB), and
a refused value comes with a reason in those words (``settings_problems``), e.g.
"interval: 0 is below 1 s; sweeps run every 1-60 s". ``store.app_settings`` reads and
writes the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from etcdmon_gui.model.history import KEEP_RAW_RANGE_S, MIN_HISTORY_BYTES, HistoryLimits
from etcdmon_gui.model.postgres import PgSettings, SslMode
from etcdmon_gui.model.profile import POLL_INTERVAL_S

SCHEMA_VERSION = 1

#: The chart windows the charts' toolbar offers (seconds); a default window is one of
#: them (``ui.chart_toolbar.TIME_WINDOWS`` has the same, a test keeps them in step).
CHART_WINDOWS_S: tuple[int, ...] = (
    5 * 60,
    15 * 60,
    3600,
    6 * 3600,
    24 * 3600,
    7 * 86_400,
    30 * 86_400,
)

Theme = Literal["system", "light", "dark"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
THEMES: tuple[Theme, ...] = ("system", "light", "dark")
LOG_LEVELS: tuple[LogLevel, ...] = ("DEBUG", "INFO", "WARNING", "ERROR")

MIB = 1024**2
RAW_HOURS = (round(KEEP_RAW_RANGE_S[0] / 3600), round(KEEP_RAW_RANGE_S[1] / 3600))
SIZE_MIB = (math.ceil(MIN_HISTORY_BYTES / MIB), 1024 * 1024)  # 10 MiB to 1 TiB
ROLLUP_DAYS = (1, 3650)

#: Fields the program keeps for itself: never shown in the settings dialog.
INTERNAL_FIELDS = frozenset({"schema_version", "tray_notice_shown"})


def window_label(seconds: int) -> str:
    """``300`` -> ``"5 m"``, ``86400`` -> ``"24 h"``, ``604800`` -> ``"7 d"``: a chart
    window as the toolbar names it."""
    if seconds < 3600:
        return f"{seconds // 60} m"
    if seconds <= 24 * 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 86_400} d"


@dataclass(frozen=True, slots=True)
class Bound:
    """How a numeric field is spoken of: its short ``label``, its range, its ``unit``
    and a ``note`` saying what the range means."""

    label: str
    low: int
    high: int
    unit: str  # after a number: "s", "day" (made plural when needed)
    note: str

    def amount(self, value: float) -> str:
        plural = self.unit in ("day", "popup") and value != 1
        return f"{value:g} {self.unit}{'s' if plural else ''}"

    @property
    def words(self) -> str:
        """The unit spelt out, for "a whole number of ..."."""
        return {"s": "seconds", "min": "minutes", "h": "hours"}.get(self.unit, self.unit + "s")


BOUNDS: Mapping[str, Bound] = {
    "interval_s": Bound(
        "interval",
        *POLL_INTERVAL_S,
        "s",
        f"sweeps run every {POLL_INTERVAL_S[0]}-{POLL_INTERVAL_S[1]} s",
    ),
    "popup_burst_limit": Bound("popup burst", 1, 20, "popup", "1-20 popups, then one summary"),
    "popup_burst_window_s": Bound(
        "popup burst window", 1, 600, "s", "a burst is counted over 1-600 s"
    ),
    "mute_minutes": Bound("mute", 1, 24 * 60, "min", "mute for 1 min to 24 h"),
    "history_raw_hours": Bound(
        "raw samples",
        *RAW_HOURS,
        "h",
        f"keep them {RAW_HOURS[0]}-{RAW_HOURS[1]} h (1h to 30d, as --keep-raw)",
    ),
    "history_minute_days": Bound(
        "minute roll-ups", *ROLLUP_DAYS, "day", f"keep them {ROLLUP_DAYS[0]}-{ROLLUP_DAYS[1]} days"
    ),
    "history_hour_days": Bound(
        "hour roll-ups", *ROLLUP_DAYS, "day", f"keep them {ROLLUP_DAYS[0]}-{ROLLUP_DAYS[1]} days"
    ),
    "history_size_mib": Bound(
        "history size",
        *SIZE_MIB,
        "MiB",
        f"the history may hold {SIZE_MIB[0]} MiB (about 10 MB, as --history-size) to 1 TiB",
    ),
}


def _bounded(name: str, default: int, title: str, description: str) -> Any:
    b = BOUNDS[name]
    # strict: a whole number, never true/false or a string of digits
    return Field(default, ge=b.low, le=b.high, strict=True, title=title, description=description)


class AppSettings(BaseModel):
    """Everything the app remembers about itself between runs (but no cluster)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = Field(
        default=1, title="Format version", description="The settings file's format"
    )
    # -- general
    interval_s: int = _bounded(
        "interval_s",
        5,
        "Default interval (s)",
        "How often a cluster connected without a profile is swept, and where a new "
        "profile's poll interval starts; a profile's own interval wins",
    )
    chart_window_s: int = Field(
        default=CHART_WINDOWS_S[0],
        strict=True,
        title="Chart window",
        description="How much time the charts show when a cluster is opened",
    )
    theme: Theme = Field(
        default="system",
        title="Theme",
        description="System follows the desktop; light and dark use Qt's Fusion style",
    )
    reopen_last_session: bool = Field(
        default=True,
        title="Reopen the clusters of the last session",
        description="The clusters open when etcdmon-gui closed are opened again at the next start",
    )
    log_level: LogLevel = Field(
        default="WARNING",
        title="Log level",
        description="The least important log messages written (DEBUG is the most talkative)",
    )
    # -- tray and notifications
    close_to_tray: bool = Field(
        default=True,
        title="Closing the window hides it in the tray",
        description="While a tray icon exists, etcdmon-gui keeps watching after the window "
        "closes; Quit in the tray menu ends it",
    )
    tray_notice_shown: bool = Field(
        default=False,
        title="Tray notice shown",
        description="The one-time notice that etcdmon-gui still runs in the tray was shown",
    )
    popup_burst_limit: int = _bounded(
        "popup_burst_limit",
        3,
        "Popups per burst",
        "More popups than this within the burst window are gathered into one summary",
    )
    popup_burst_window_s: int = _bounded(
        "popup_burst_window_s", 10, "Burst window (s)", "The time over which popups are counted"
    )
    mute_minutes: int = _bounded(
        "mute_minutes", 60, "Mute for (minutes)", "How long the tray's Mute silences popups"
    )
    # -- history
    history_raw_hours: int = _bounded(
        "history_raw_hours",
        round(HistoryLimits().raw_s / 3600),
        "Keep every sample (hours)",
        "How long each sample is kept as taken; after that, the roll-ups remain",
    )
    history_minute_days: int = _bounded(
        "history_minute_days",
        round(HistoryLimits().minute_s / 86_400),
        "Keep 1-minute roll-ups (days)",
        "How long one point a minute (min, average, max, last) is kept",
    )
    history_hour_days: int = _bounded(
        "history_hour_days",
        round(HistoryLimits().hour_s / 86_400),
        "Keep 1-hour roll-ups (days)",
        "How long one point an hour is kept",
    )
    history_size_mib: int = _bounded(
        "history_size_mib",
        HistoryLimits().max_bytes // MIB,
        "History size limit (MiB)",
        "The most the history file may hold; the oldest data goes first (2048 MiB = 2 GiB)",
    )
    team_history: PgSettings | None = Field(
        default=None,
        title="Team history (PostgreSQL)",
        description="A team's database that etcdmon serve writes to: the history views "
        "(chart ranges, alert history, exports, benchmark runs, maintenance log) read it, "
        "read-only, instead of this computer's file, which goes on being written. Its "
        "password is kept with the secrets, never in this file",
    )

    @field_validator("theme", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: ValidationInfo) -> Any:
        """``Dark``, ``info``: a choice typed in any case is understood."""
        if not isinstance(value, str):
            return value
        return value.lower() if info.field_name == "theme" else value.upper()

    @model_validator(mode="after")
    def _consistent(self) -> AppSettings:
        if self.chart_window_s not in CHART_WINDOWS_S:
            choices = ", ".join(window_label(s) for s in CHART_WINDOWS_S)
            raise _refusal(
                "chart_window_s",
                f"chart window: {self.chart_window_s} s is not one of the charts' windows "
                f"({choices})",
            )
        minutes = BOUNDS["history_minute_days"].amount(self.history_minute_days)
        if self.history_minute_days * 24 < self.history_raw_hours:
            raise _refusal(
                "history_minute_days",
                f"minute roll-ups: {minutes} is less than the {self.history_raw_hours} h "
                "every sample is kept; keep them at least as long",
                "history_raw_hours",
            )
        if self.history_hour_days < self.history_minute_days:
            hours = BOUNDS["history_hour_days"].amount(self.history_hour_days)
            raise _refusal(
                "history_hour_days",
                f"hour roll-ups: {hours} is less than the {minutes} of minute roll-ups; "
                "keep them at least as long",
                "history_minute_days",
            )
        return self

    def history_limits(self) -> HistoryLimits:
        """What the history keeps, as the store takes it."""
        return HistoryLimits(
            raw_s=self.history_raw_hours * 3600.0,
            minute_s=self.history_minute_days * 86_400.0,
            hour_s=self.history_hour_days * 86_400.0,
            max_bytes=self.history_size_mib * MIB,
        )


def _refusal(field: str, message: str, *related: str) -> PydanticCustomError:
    """A refusal of the model as a whole that still names the ``field`` to fix (and the
    ``related`` fields it was compared with)."""
    ctx = {"field": field, "message": message, "related": related}
    return PydanticCustomError("settings", "{message}", ctx)


@dataclass(frozen=True, slots=True)
class SettingsProblem:
    """One refused value: the field (None: the settings as a whole) and why, in the
    user's words; ``related``: the fields it was compared with, if any."""

    field: str | None
    message: str
    related: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


class InvalidSettings(ValueError):
    """Values ``AppSettings`` refuses; ``problems`` says which and why."""

    def __init__(self, problems: list[SettingsProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def build_settings(values: Mapping[str, Any]) -> AppSettings:
    """``AppSettings`` from ``values``, or ``InvalidSettings`` with each reason."""
    try:
        return AppSettings.model_validate(dict(values))
    except ValidationError as exc:
        raise InvalidSettings(settings_problems(exc)) from None


def settings_problems(exc: ValidationError) -> list[SettingsProblem]:
    """Each error of ``exc`` as a ``SettingsProblem``."""
    return [_problem(err) for err in exc.errors()]


def _problem(err: Mapping[str, Any]) -> SettingsProblem:
    loc = tuple(str(x) for x in err.get("loc", ()))
    name = loc[0] if loc else None
    kind = str(err.get("type", ""))
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "settings":
        return SettingsProblem(str(ctx["field"]), str(ctx["message"]), tuple(ctx["related"]))
    if name is None:
        return SettingsProblem(None, "the settings are a mapping of names to values")
    if name == "team_history":
        return _team_problem(loc[1:], kind, value, err)
    if kind == "extra_forbidden":
        return SettingsProblem(name, f"{name}: not a setting etcdmon-gui knows (misspelt?)")
    if kind == "missing":
        return SettingsProblem(name, f"{name}: required")
    if name == "schema_version":
        return SettingsProblem(
            name, f"format version {value!r}: this etcdmon-gui reads version {SCHEMA_VERSION}"
        )
    bound = BOUNDS.get(name)
    if bound is not None:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        shown = f"{value:g}" if number else repr(value)
        if kind == "greater_than_equal":
            low = bound.amount(bound.low)
            return SettingsProblem(name, f"{bound.label}: {shown} is below {low}; {bound.note}")
        if kind == "less_than_equal":
            high = bound.amount(bound.high)
            return SettingsProblem(name, f"{bound.label}: {shown} is above {high}; {bound.note}")
        return SettingsProblem(
            name, f"{bound.label}: {shown} is not a whole number of {bound.words}; {bound.note}"
        )
    if name == "chart_window_s":
        return SettingsProblem(name, f"chart window: {value!r} is not a number of seconds")
    if name in ("theme", "log_level"):
        choices = THEMES if name == "theme" else LOG_LEVELS
        label = "theme" if name == "theme" else "log level"
        return SettingsProblem(name, f"{label}: {value!r} is not one of {', '.join(choices)}")
    if kind.startswith("bool"):
        return SettingsProblem(name, f"{name}: {value!r} is not true or false")
    return SettingsProblem(name, f"{name}: {err.get('msg', 'not valid')}")


#: How a message names each field of the team history (``model.postgres.PgSettings``).
TEAM_LABELS = {
    "host": "host",
    "port": "port",
    "dbname": "database",
    "user": "user",
    "sslmode": "TLS mode",
    "sslrootcert": "CA certificate",
}


def _team_problem(
    loc: tuple[str, ...], kind: str, value: Any, err: Mapping[str, Any]
) -> SettingsProblem:
    """A refusal inside ``team_history``: the field is the setting (what a file's loader
    drops), ``related`` the part of it at fault (``team_history.host``, for the dialog)."""
    field = loc[0] if loc else None
    where = f"team_history.{field}" if field else "team_history"
    label = f"team history {TEAM_LABELS.get(field or '', field or '')}".rstrip()
    related = (where,) if field else ()
    if not field:
        if kind in ("model_type", "model_attributes_type", "dict_type"):
            return SettingsProblem(
                "team_history",
                "team history: expected host, port, dbname, user and sslmode (or null for none)",
            )
        return SettingsProblem("team_history", f"team history: {err.get('msg', 'not valid')}")
    if kind == "extra_forbidden":
        if field == "password":
            message = (
                "team history password: it is never kept in the settings file; remove it "
                "and type it in Settings → History (it is kept with the secrets)"
            )
        else:
            message = f"{where}: not a setting etcdmon-gui knows (misspelt?)"
        return SettingsProblem("team_history", message, related)
    if kind == "missing" or (kind == "string_too_short" and not value):
        return SettingsProblem("team_history", f"{label}: required", related)
    if field == "port":
        return SettingsProblem(
            "team_history", f"{label}: {value!r} is not a port number (1-65535)", related
        )
    if field == "sslmode":
        choices = ", ".join(m.value for m in SslMode)
        return SettingsProblem(
            "team_history", f"{label}: {value!r} is not one of {choices}", related
        )
    reason = str(err.get("msg", "not valid")).removeprefix("Value error, ")
    return SettingsProblem("team_history", f"{label}: {reason}", related)
