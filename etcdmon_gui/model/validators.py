"""Validators that several settings models share."""

from __future__ import annotations


def plain_name(cls: object, value: str) -> str:
    """A name as the user will see it: no leading or trailing spaces."""
    if value != value.strip():
        raise ValueError("a name has no leading or trailing spaces")
    return value
