"""One row of a form driven by a pydantic model: the editor a field's type calls for,
and its inline error.

The editor follows the field's annotation (check box for ``bool``, choice for a
``Literal``, spin box for a bounded ``int``/``float``, one line for text, optional
text and comma-separated lists); its label and tooltip are the field's title and
description, its placeholder and choice labels come from the field's
``json_schema_extra`` (``placeholder``, ``choices``). A secret gets a password line.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.notify.base import SecretField
from etcdmon_gui.ui.form_dialog import field_text, split_list
from etcdmon_gui.ui.palette import ERROR_COLOUR

Kind = Literal["text", "optional", "list", "int", "float", "bool", "choice", "secret"]

_LIST_HINT = " (comma-separated)"


def validation_messages(exc: ValidationError) -> list[tuple[str | None, str]]:
    """(field or None for the whole model, readable message) per pydantic error."""
    out: list[tuple[str | None, str]] = []
    for err in exc.errors():
        loc = [str(x) for x in err["loc"]]
        field = loc[0] if loc else None
        value = err.get("input")
        if err["type"] == "too_short":
            msg = "enter at least one"
        elif err["type"] in ("string_too_short", "missing") and not value:
            msg = "required"
        elif err["type"] == "string_pattern_mismatch":
            msg = "use letters, digits and '-' only (at most 64)"
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
        out.append((field, msg))
    return out


def _bounds(model: type[BaseModel], name: str) -> tuple[float | None, float | None, bool]:
    """(low, high, low is exclusive) from the field's ge/gt/le/lt constraints."""
    low = high = None
    exclusive = False
    for item in model.model_fields[name].metadata:
        for attr in ("ge", "gt", "le", "lt"):
            bound = getattr(item, attr, None)
            if isinstance(bound, int | float):
                if attr in ("ge", "gt"):
                    low, exclusive = float(bound), attr == "gt"
                else:
                    high = float(bound)
    return low, high, exclusive


def _extra(model: type[BaseModel], name: str) -> Mapping[str, Any]:
    extra = model.model_fields[name].json_schema_extra
    return extra if isinstance(extra, Mapping) else {}


class FieldRow:
    """One row of a form: the editor and its inline error, in ``widget``."""

    def __init__(
        self,
        name: str,
        title: str,
        tooltip: str,
        kind: Kind,
        editor: QWidget,
        secret: SecretField | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.kind = kind
        self.editor = editor
        self.secret = secret
        editor.setObjectName(f"field_{name}")
        editor.setToolTip(tooltip)
        self.error = QLabel()
        self.error.setObjectName(f"error_{name}")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error.hide()
        self.widget = QWidget()
        lay = QVBoxLayout(self.widget)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        compact = isinstance(editor, QSpinBox | QDoubleSpinBox | QComboBox)
        lay.addWidget(editor, 0, Qt.AlignmentFlag.AlignLeft if compact else Qt.AlignmentFlag(0))
        lay.addWidget(self.error)
        if compact:
            editor.setMinimumWidth(140)

    @classmethod
    def for_field(cls, model: type[BaseModel], name: str, changed: Callable[..., None]) -> FieldRow:
        """The row of ``model``'s field ``name``; ``changed`` is called on every edit."""
        info = model.model_fields[name]
        title, description = field_text(model, name)
        extra = _extra(model, name)
        annotation = info.annotation
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        editor: QWidget
        kind: Kind
        if annotation is bool:
            kind, editor = "bool", QCheckBox(title)
            editor.toggled.connect(changed)
        elif origin is Literal:
            kind, editor = "choice", QComboBox()
            labels = extra.get("choices", {})
            for value in args:
                editor.addItem(labels.get(value, str(value).capitalize()), value)
            editor.currentIndexChanged.connect(changed)
        elif annotation is int:
            kind, editor = "int", QSpinBox()
            low, high, _ = _bounds(model, name)
            editor.setRange(
                int(low if low is not None else -(2**31)),
                int(high if high is not None else 2**31 - 1),
            )
            editor.valueChanged.connect(changed)
        elif annotation is float:
            kind, editor = "float", QDoubleSpinBox()
            low, high, exclusive = _bounds(model, name)
            editor.setDecimals(1)
            editor.setRange(
                (low or 0.0) + (0.1 if exclusive else 0.0), high if high is not None else 1e9
            )
            editor.valueChanged.connect(changed)
        else:
            optional = origin in (typing.Union, types.UnionType) and type(None) in args
            is_list = origin is list
            kind = "list" if is_list else "optional" if optional else "text"
            editor = QLineEdit()
            editor.setPlaceholderText(str(extra.get("placeholder", "")))
            editor.textEdited.connect(changed)
            if is_list:
                description += _LIST_HINT
        return cls(name, title, description, kind, editor)

    @classmethod
    def for_secret(cls, spec: SecretField, kept_in: str, changed: Callable[..., None]) -> FieldRow:
        """A password line for a secret; ``kept_in`` says where it is kept instead of
        the settings file."""
        editor = QLineEdit()
        editor.setEchoMode(QLineEdit.EchoMode.Password)
        editor.textEdited.connect(changed)
        tooltip = (
            f"{spec.hint}. Kept with the secrets, never in {kept_in}; leave blank "
            "to keep the stored one"
        )
        return cls(spec.name, spec.title, tooltip, "secret", editor, spec)

    def value(self) -> Any:
        e = self.editor
        if isinstance(e, QCheckBox):
            return e.isChecked()
        if isinstance(e, QComboBox):
            return e.currentData()
        if isinstance(e, QSpinBox | QDoubleSpinBox):
            return e.value()
        assert isinstance(e, QLineEdit)
        text = e.text()
        if self.secret is not None:
            return self.secret.clean(text)
        if self.kind == "list":
            return split_list(text)
        if self.kind == "optional":
            return text.strip() or None
        return text.strip()

    def set_value(self, value: Any) -> None:
        e = self.editor
        if isinstance(e, QCheckBox):
            e.setChecked(bool(value))
        elif isinstance(e, QComboBox):
            index = e.findData(value)
            e.setCurrentIndex(max(index, 0))
        elif isinstance(e, QSpinBox):
            e.setValue(int(value))
        elif isinstance(e, QDoubleSpinBox):
            e.setValue(float(value))
        elif isinstance(e, QLineEdit):
            if self.kind == "list":
                e.setText(", ".join(value or []))
            else:
                e.setText("" if value is None else str(value))

    def set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        self.editor.setProperty("invalid", bool(message))
        self.editor.style().unpolish(self.editor)
        self.editor.style().polish(self.editor)
