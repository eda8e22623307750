"""Small pieces the dialogs share for forms driven by pydantic models."""

from __future__ import annotations

from pydantic import BaseModel


def field_text(model: type[BaseModel], name: str) -> tuple[str, str]:
    """A field's title and description (the description falls back to the title)."""
    info = model.model_fields[name]
    title = info.title or name.replace("_", " ").capitalize()
    return title, info.description or title


def split_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``: how list fields are typed in one line."""
    return [part.strip() for part in text.split(",") if part.strip()]
