"""The application settings: the model's refusals in the user's words, the file read
without ever being touched, atomic saves, and a file that did not load cleanly kept as
a ``.bad-`` copy before it is replaced."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from etcdmon_gui.model.app_settings import (
    CHART_WINDOWS_S,
    INTERNAL_FIELDS,
    AppSettings,
    InvalidSettings,
    build_settings,
)
from etcdmon_gui.model.history import HistoryLimits
from etcdmon_gui.model.postgres import PgSettings, SslMode
from etcdmon_gui.model.secrets import BackendInfo, SecretEdits
from etcdmon_gui.store import app_settings as mod
from etcdmon_gui.store.app_settings import (
    TEAM_HISTORY_OWNER,
    TEAM_HISTORY_PASSWORD,
    AppSettingsError,
    AppSettingsStore,
    TeamHistoryItem,
    TeamHistorySecrets,
)
from etcdmon_gui.store.history.db import limits
from etcdmon_gui.store.secrets import MemoryKeyring, SecretStore
from etcdmon_gui.store.settings import SettingsError
from etcdmon_gui.ui import tray
from etcdmon_gui.ui.chart_toolbar import TIME_WINDOWS
from etcdmon_gui.workers import monitor_worker

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
STAMP = "20260101T000000Z"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cfg" / "settings.yaml"


@pytest.fixture
def store(path: Path) -> AppSettingsStore:
    return AppSettingsStore(path, clock=lambda: NOW)


def refusal(**values: Any) -> tuple[str | None, str]:
    with pytest.raises(InvalidSettings) as caught:
        build_settings(values)
    [problem] = caught.value.problems
    return problem.field, problem.message


# -- the model ---------------------------------------------------------------------------


def test_defaults_match_what_the_app_used_before_there_were_settings() -> None:
    s = AppSettings()
    assert s.interval_s == monitor_worker.DEFAULT_INTERVAL_S
    assert s.popup_burst_limit == tray.BURST_LIMIT
    assert s.popup_burst_window_s == tray.BURST_WINDOW_S
    assert s.mute_minutes * 60 == tray.MUTE_S
    assert s.history_limits() == HistoryLimits()
    assert (s.theme, s.log_level, s.reopen_last_session, s.close_to_tray) == (
        "system",
        "WARNING",
        True,
        True,
    )
    assert not s.tray_notice_shown
    assert {"schema_version", "tray_notice_shown"} == INTERNAL_FIELDS


def test_the_chart_windows_are_the_toolbars() -> None:
    assert tuple(seconds for _, seconds in TIME_WINDOWS) == CHART_WINDOWS_S
    assert AppSettings().chart_window_s in CHART_WINDOWS_S


def test_interval_bounds_are_the_monitor_workers() -> None:
    lo, hi = monitor_worker.MIN_INTERVAL_S, monitor_worker.MAX_INTERVAL_S
    assert build_settings({"interval_s": lo}).interval_s == lo
    assert build_settings({"interval_s": hi}).interval_s == hi


def test_history_bounds_are_the_command_lines() -> None:
    """--keep-raw takes 1h to 30d, --history-size at least 10MB: so do the settings."""
    lowest = build_settings({"history_raw_hours": 1, "history_size_mib": 10})
    assert lowest.history_limits().raw_s == limits("1h").raw_s
    assert lowest.history_limits().max_bytes >= limits(None, "10MB").max_bytes
    most = build_settings({"history_raw_hours": 720})
    assert most.history_limits().raw_s == limits("30d").raw_s
    assert refusal(history_raw_hours=721)[0] == "history_raw_hours"
    assert refusal(history_size_mib=9)[0] == "history_size_mib"


def test_history_limits_in_the_stores_units() -> None:
    s = build_settings(
        {
            "history_raw_hours": 48,
            "history_minute_days": 7,
            "history_hour_days": 90,
            "history_size_mib": 512,
        }
    )
    assert s.history_limits() == HistoryLimits(
        raw_s=48 * 3600.0, minute_s=7 * 86_400.0, hour_s=90 * 86_400.0, max_bytes=512 * 1024**2
    )


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"interval_s": 0}, "interval_s", "interval: 0 is below 1 s; sweeps run every 1-60 s"),
        ({"interval_s": 61}, "interval_s", "interval: 61 is above 60 s; sweeps run every 1-60 s"),
        (
            {"interval_s": 2.5},
            "interval_s",
            "interval: 2.5 is not a whole number of seconds; sweeps run every 1-60 s",
        ),
        (
            {"interval_s": True},
            "interval_s",
            "interval: True is not a whole number of seconds; sweeps run every 1-60 s",
        ),
        (
            {"chart_window_s": 600},
            "chart_window_s",
            "chart window: 600 s is not one of the charts' windows "
            "(5 m, 15 m, 1 h, 6 h, 24 h, 7 d, 30 d)",
        ),
        ({"theme": "blue"}, "theme", "theme: 'blue' is not one of system, light, dark"),
        (
            {"log_level": "LOUD"},
            "log_level",
            "log level: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR",
        ),
        (
            {"close_to_tray": "maybe"},
            "close_to_tray",
            "close_to_tray: 'maybe' is not true or false",
        ),
        (
            {"popup_burst_limit": 0},
            "popup_burst_limit",
            "popup burst: 0 is below 1 popup; 1-20 popups, then one summary",
        ),
        (
            {"popup_burst_window_s": 601},
            "popup_burst_window_s",
            "popup burst window: 601 is above 600 s; a burst is counted over 1-600 s",
        ),
        (
            {"history_raw_hours": 0},
            "history_raw_hours",
            "raw samples: 0 is below 1 h; keep them 1-720 h (1h to 30d, as --keep-raw)",
        ),
        (
            {"history_minute_days": 1, "history_raw_hours": 48},
            "history_minute_days",
            "minute roll-ups: 1 day is less than the 48 h every sample is kept; keep them "
            "at least as long",
        ),
        (
            {"history_hour_days": 10},
            "history_hour_days",
            "hour roll-ups: 10 days is less than the 30 days of minute roll-ups; keep them "
            "at least as long",
        ),
        (
            {"history_size_mib": 5},
            "history_size_mib",
            "history size: 5 is below 10 MiB; the history may hold 10 MiB (about 10 MB, as "
            "--history-size) to 1 TiB",
        ),
        ({"colour": "red"}, "colour", "colour: not a setting etcdmon-gui knows (misspelt?)"),
    ],
)
def test_each_refusal_says_why(values: dict[str, Any], field: str, message: str) -> None:
    assert refusal(**values) == (field, message)


def test_choices_typed_in_any_case_are_understood() -> None:
    s = build_settings({"theme": "Dark", "log_level": "info"})
    assert (s.theme, s.log_level) == ("dark", "INFO")


# -- the file ----------------------------------------------------------------------------


def test_a_missing_file_gives_the_defaults_and_is_not_created(
    store: AppSettingsStore, path: Path
) -> None:
    assert store.load() == (AppSettings(), None)
    assert not path.parent.exists()


def test_round_trip(store: AppSettingsStore, path: Path) -> None:
    chosen = AppSettings(
        interval_s=7,
        chart_window_s=3600,
        theme="dark",
        reopen_last_session=False,
        close_to_tray=False,
        tray_notice_shown=True,
        popup_burst_limit=5,
        popup_burst_window_s=30,
        mute_minutes=15,
        history_raw_hours=48,
        history_minute_days=60,
        history_hour_days=730,
        history_size_mib=4096,
        log_level="DEBUG",
    )
    assert store.save(chosen) is None
    assert store.load() == (chosen, None)
    text = path.read_text()
    assert text.startswith("# etcdmon-gui settings")
    data = yaml.safe_load(text)
    assert next(iter(data)) == "schema_version" and data["schema_version"] == 1
    assert set(data) == set(AppSettings.model_fields)  # every setting, to be found and edited
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["settings.yaml"]  # no temp file left


def test_an_empty_file_is_the_defaults(store: AppSettingsStore, path: Path) -> None:
    path.parent.mkdir()
    path.write_text("# nothing chosen yet\n")
    assert store.load() == (AppSettings(), None)


def test_invalid_values_fall_back_one_by_one_and_name_their_lines(
    store: AppSettingsStore, path: Path
) -> None:
    path.parent.mkdir()
    text = "schema_version: 1\ninterval_s: 0\ntheme: dark\ncolour: red\nlog_level: LOUD\n"
    path.write_text(text)
    settings, problem = store.load()
    # What was valid is kept; each refused value is at its default.
    assert settings == AppSettings(theme="dark")
    assert problem is not None
    lines = problem.splitlines()
    assert lines[:3] == [
        f"{path}, line 2: interval: 0 is below 1 s; sweeps run every 1-60 s",
        f"{path}, line 4: colour: not a setting etcdmon-gui knows (misspelt?)",
        f"{path}, line 5: log level: 'LOUD' is not one of DEBUG, INFO, WARNING, ERROR",
    ]
    assert "settings.yaml.bad-<time>" in lines[-1]
    assert path.read_text() == text  # a load never touches the file


def test_a_refusal_between_two_fields_points_at_the_one_in_the_file(
    store: AppSettingsStore, path: Path
) -> None:
    path.parent.mkdir()
    path.write_text("theme: light\nhistory_minute_days: 400\n")
    settings, problem = store.load()
    assert settings == AppSettings(theme="light")
    assert problem is not None and problem.splitlines()[0] == (
        f"{path}, line 2: hour roll-ups: 365 days is less than the 400 days of minute "
        "roll-ups; keep them at least as long"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval_s: 5\ntheme: [dark\n", ", line 3: not valid YAML"),
        ("interval_s: 5\n  theme: dark\n", ", line 2: not valid YAML"),
        ("- interval_s\n", ", line 1: expected a mapping of settings"),
        ("schema_version: 9\ntheme: dark\n", ", line 1: written by a newer etcdmon-gui"),
        ("schema_version: x\n", ", line 1: schema_version 'x' is not a format version"),
    ],
)
def test_a_malformed_file_gives_defaults_and_says_where(
    store: AppSettingsStore, path: Path, text: str, expected: str
) -> None:
    path.parent.mkdir()
    path.write_text(text)
    settings, problem = store.load()
    assert problem is not None and problem.startswith(f"{path}{expected}"), problem
    if "newer" in expected:
        assert settings == AppSettings(theme="dark")  # what this version knows is used
    else:
        assert settings == AppSettings()
    assert path.read_text() == text


def test_a_file_that_is_not_text_says_so(store: AppSettingsStore, path: Path) -> None:
    path.parent.mkdir()
    path.write_bytes(b"theme: dark\n\xff\xfe\n")
    settings, problem = store.load()
    assert settings == AppSettings()
    assert problem is not None and problem.startswith(f"{path}, line 2: not UTF-8 text")


def test_saving_over_a_bad_file_keeps_it_first(store: AppSettingsStore, path: Path) -> None:
    path.parent.mkdir()
    bad = "interval_s: 0\ntheme: dark\n"
    path.write_text(bad)
    note = store.save(AppSettings(theme="light"))
    kept = path.with_name(f"settings.yaml.bad-{STAMP}")
    assert note == (
        f"The old settings file did not load cleanly; it was kept as {kept} and a new one written."
    )
    assert kept.read_text() == bad
    assert store.load() == (AppSettings(theme="light"), None)
    # A second bad file in the same second does not replace the first copy.
    path.write_text("theme: blue\n")
    store.save(AppSettings())
    assert kept.read_text() == bad
    assert path.with_name(f"settings.yaml.bad-{STAMP}-1").read_text() == "theme: blue\n"
    # A clean file is simply replaced.
    assert store.save(AppSettings(theme="dark")) is None
    assert len(list(path.parent.iterdir())) == 3


def test_a_failed_write_leaves_the_old_file(
    store: AppSettingsStore, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(AppSettings(theme="dark"))
    before = path.read_text()

    def refuse(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(AppSettingsError) as caught:
        store.save(AppSettings(theme="light"))
    assert str(caught.value).startswith(
        f"the settings were not saved: cannot write {path} (No space left on device)"
    )
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir()] == ["settings.yaml"]  # no temp file


def test_a_folder_that_cannot_exist_is_a_readable_error(tmp_path: Path) -> None:
    # A path under a regular file: no folder can be made there, root or not.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    store = AppSettingsStore(blocker / "settings.yaml")
    settings, problem = store.load()
    assert settings == AppSettings()
    assert problem is not None and problem.startswith(f"{store.path}: cannot be read (")
    with pytest.raises(AppSettingsError) as caught:
        store.save(AppSettings())
    message = str(caught.value)
    assert message.startswith(f"the settings were not saved: cannot write {blocker}")
    assert f"Check that {blocker} is a folder you can write to" in message


def test_the_default_path_is_in_the_config_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(mod, "config_dir", lambda: tmp_path)
    assert AppSettingsStore().path == tmp_path / "settings.yaml"


# -- the team history ----------------------------------------------------------------------

TEAM = PgSettings(host="db.example.org", dbname="team", sslmode=SslMode.VERIFY_FULL)


@pytest.mark.parametrize(
    ("team", "related", "message"),
    [
        ({"host": ""}, "team_history.host", "team history host: required"),
        ({"port": 5432}, "team_history.host", "team history host: required"),
        (
            {"host": "db", "port": 70000},
            "team_history.port",
            "team history port: 70000 is not a port number (1-65535)",
        ),
        (
            {"host": "db", "sslmode": "maybe"},
            "team_history.sslmode",
            "team history TLS mode: 'maybe' is not one of disable, prefer, require, verify-full",
        ),
        (
            {"host": " db"},
            "team_history.host",
            "team history host: no leading or trailing spaces",
        ),
        (
            {"host": "db", "password": "s3cret"},
            "team_history.password",
            "team history password: it is never kept in the settings file; remove it and "
            "type it in Settings → History (it is kept with the secrets)",
        ),
    ],
)
def test_each_team_history_refusal_names_the_part_at_fault(
    team: dict[str, Any], related: str, message: str
) -> None:
    with pytest.raises(InvalidSettings) as caught:
        build_settings({"team_history": team})
    [problem] = caught.value.problems
    assert (problem.field, problem.related) == ("team_history", (related,))
    assert problem.message == message
    assert "s3cret" not in str(caught.value)


def test_the_team_history_round_trips_without_a_password(
    store: AppSettingsStore, path: Path
) -> None:
    assert AppSettings().team_history is None
    chosen = AppSettings(theme="dark", team_history=TEAM)
    store.save(chosen)
    assert store.load() == (chosen, None)
    assert yaml.safe_load(path.read_text())["team_history"] == {
        "host": "db.example.org",
        "port": 5432,
        "dbname": "team",
        "user": "etcdmon",
        "sslmode": "verify-full",
        "sslrootcert": None,
    }


def test_a_password_written_into_the_file_is_refused_and_only_the_team_history_dropped(
    store: AppSettingsStore, path: Path
) -> None:
    path.parent.mkdir()
    path.write_text(
        "theme: dark\nteam_history:\n  host: db.example.org\n  password: s3cret\nmute_minutes: 5\n"
    )
    settings, problem = store.load()
    assert settings == AppSettings(theme="dark", mute_minutes=5)
    assert problem is not None
    assert problem.splitlines()[0] == (
        f"{path}, line 4: team history password: it is never kept in the settings file; "
        "remove it and type it in Settings → History (it is kept with the secrets)"
    )
    assert "s3cret" not in problem


def test_the_team_history_password_lives_in_the_secret_store_and_moves_with_it(
    store: AppSettingsStore,
) -> None:
    secrets = SecretStore.memory()
    team = TeamHistorySecrets(secrets, store)
    assert team.password() is None and not team.stored()
    assert team.owners() == []  # no team history named: nothing to move

    settings = AppSettings(team_history=TEAM)
    store.save(settings)
    team.keep(settings, "s3cret")
    assert team.password() == "s3cret" and team.stored()
    assert secrets.get(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD) == "s3cret"
    team.keep(settings, None)  # nothing typed: the stored one stays
    team.keep(settings, "")
    assert team.password() == "s3cret"
    assert team.owners() == [(TEAM_HISTORY_OWNER, (TEAM_HISTORY_PASSWORD,))]

    # "Move secrets…" copies what owners() lists, then switches the shared store.
    elsewhere = SecretStore(MemoryKeyring(), BackendInfo("elsewhere", True, True, kind="keyring"))
    assert secrets.move_to(elsewhere, team.owners) == (1, [])
    assert team.password() == "s3cret" and secrets.info.name == "elsewhere"

    off = AppSettings()
    store.save(off)
    team.keep(off, "ignored")  # turned off: the stored password goes
    assert team.password() is None
    team.keep(off, None)  # none stored: nothing to delete, no error
    with pytest.raises(SettingsError, match="saved with the application settings"):
        team.save(None, TeamHistoryItem(TEAM), SecretEdits({}))
