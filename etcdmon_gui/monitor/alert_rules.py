"""Alert rules: what they may say, where they come from, and how they are checked.

A rule names a *signal* (a number the engine derives from snapshots, see
``rule_inputs.SIGNALS``), a comparison, a threshold, a ``for`` duration, a severity
and a summary template. The defaults ship in ``resources/default_rules.yaml``; a user
file and per-profile overrides change fields of rules matched by name (or disable
them). A malformed file is rejected whole with the file, rule and field named, so the
caller keeps the rules already in force.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from etcdmon_gui import resources
from etcdmon_gui.model.alerts import Severity
from etcdmon_gui.monitor.rule_inputs import SIGNALS

SCHEMA_VERSION = 1

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


#: The shortest repeat a rule may ask for (0 means never): a shorter one would send a
#: notification on nearly every sweep.
MIN_REPEAT_S = 60.0


def parse_duration(value: str | float | int) -> float:
    """``"90s"``, ``"5m"``, ``"1.5h"`` or a number of seconds: finite, not negative."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 1h)")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 1h)")
    else:
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 1h)")
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    scope: Literal["member", "cluster"]
    signal: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    threshold: float
    for_s: float = Field(0.0, alias="for")
    severity: Severity
    summary: str
    enabled: bool = True
    repeat_s: float | None = Field(None, alias="repeat")  # None: the engine's default

    @field_validator("for_s", "repeat_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("repeat_s")
    @classmethod
    def _sensible_repeat(cls, value: float | None) -> float | None:
        if value is not None and 0 < value < MIN_REPEAT_S:
            raise ValueError(
                f"repeat is 0 (never) or at least {MIN_REPEAT_S:g}s (e.g. 1h), not {value:g}s"
            )
        return value

    @field_validator("threshold")
    @classmethod
    def _finite_threshold(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"threshold is a finite number, not {value}")
        return value

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return Severity[value.upper()]
            except KeyError:
                raise ValueError(
                    f"severity is one of info, warning, critical, not {value!r}"
                ) from None
        return value

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, value: str) -> str:
        if value not in SIGNALS:
            raise ValueError(f"unknown signal {value!r}; known: {', '.join(sorted(SIGNALS))}")
        return value

    @model_validator(mode="after")
    def _scope_matches(self) -> Rule:
        scope = SIGNALS[self.signal].scope
        if scope != self.scope:
            raise ValueError(f"signal {self.signal} is {scope}-wide, not {self.scope}-wide")
        return self

    def holds(self, value: float | None) -> bool:
        return value is not None and OPS[self.op](value, self.threshold)


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file, rule and field."""


def _problems(source: str, index: int, label: str, exc: ValidationError) -> list[str]:
    return [
        f"{source}: rule {label}: field {'.'.join(map(str, e['loc'])) or '-'}: "
        f"{str(e['msg']).removeprefix('Value error, ')}"
        for e in exc.errors()
    ]


def _raw_rules(text: str, source: str) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise RulesError(
            f"{source}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}"
        ) from None
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("rules", []), list):
        raise RulesError(f"{source}: expected a mapping with schema_version and a rules list")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise RulesError(
            f"{source}: schema_version {version!r} is not supported "
            f"(this version reads {SCHEMA_VERSION})"
        )
    rules = data.get("rules") or []
    for i, r in enumerate(rules):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise RulesError(f"{source}: rule #{i + 1}: every rule is a mapping with a name")
    return rules


def parse_rules(text: str, source: str) -> list[Rule]:
    """Complete rules (every field given), as in the defaults file."""
    rules: list[Rule] = []
    problems: list[str] = []
    for i, raw in enumerate(_raw_rules(text, source)):
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as exc:
            problems += _problems(source, i, raw["name"], exc)
    names = [r.name for r in rules]
    problems += [
        f"{source}: rule {n}: defined twice"
        for n in sorted({n for n in names if names.count(n) > 1})
    ]
    if problems:
        raise RulesError("\n".join(problems))
    return rules


def apply_overrides(
    rules: Sequence[Rule], overrides: Mapping[str, Mapping[str, Any]], source: str
) -> list[Rule]:
    """Change fields of rules by name; a name not among ``rules`` must be a full rule."""
    by_name = {r.name: r for r in rules}
    out = dict(by_name)
    problems: list[str] = []
    for i, (name, fields) in enumerate(overrides.items()):
        base = by_name.get(name)
        raw = {**(base.model_dump(by_alias=True) if base else {}), **fields, "name": name}
        try:
            out[name] = Rule.model_validate(raw)
        except ValidationError as exc:
            problems += _problems(source, i, name, exc)
    if problems:
        raise RulesError("\n".join(problems))
    return list(out.values())


def default_rules() -> list[Rule]:
    return parse_rules(resources.read_text("default_rules.yaml"), "default_rules.yaml")


def load_rules(
    user_file: Path | None = None,
    profile_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    profile_name: str = "",
) -> list[Rule]:
    """Defaults, then the user's file (changes by rule name), then a profile's overrides.

    Raises ``RulesError`` for any malformed input; nothing partial is returned.
    """
    rules = default_rules()
    if user_file is not None and user_file.exists():
        try:
            text = user_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RulesError(f"{user_file}: cannot read: {exc}") from None
        raw = _raw_rules(text, str(user_file))
        rules = apply_overrides(
            rules,
            {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in raw},
            str(user_file),
        )
    if profile_overrides:
        rules = apply_overrides(rules, profile_overrides, f"profile {profile_name}")
    return rules


class RulesFile:
    """The rules in force for one cluster, reloaded when the user's file changes.

    ``reload_if_changed`` returns the new rules, ``None`` when nothing changed, or
    raises ``RulesError`` for a malformed new version, in which case ``rules`` keeps the
    previous ones: the caller reports the error and carries on.
    """

    def __init__(
        self, path: Path | None, overrides: Mapping[str, Mapping[str, Any]], profile: str
    ) -> None:
        self.path, self.overrides, self.profile = path, overrides, profile
        self._mtime = self._stat()
        self.rules = load_rules(path, overrides, profile)  # raises: nothing to fall back on

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime if self.path else None
        except OSError:
            return None

    def reload_if_changed(self) -> list[Rule] | None:
        mtime = self._stat()
        if mtime == self._mtime:
            return None
        self._mtime = mtime
        self.rules = load_rules(self.path, self.overrides, self.profile)
        return self.rules
