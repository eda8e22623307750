"""Add, edit, delete and test notification channels.

The dialog renders what the channel service reports (``show_loaded``, ``show_tested``,
...) and asks for everything else through signals: it never reads ``channels.yaml`` or
the keyring, and never sends anything itself. Each channel type's form is built from
its pydantic model: labels and tooltips are the field titles and descriptions, the
editor follows the field's type (text, number, check box, choice, comma-separated
list), and validation runs on the same model, so the form says exactly what the file
would refuse, next to the field concerned.

Secrets (SMTP password, webhook and Slack URLs, signing secret, PagerDuty routing key)
only ever sit in password fields (echo mode Password) and in the request that carries
them to the service. A stored secret shows as the placeholder "(stored in <backend>)"
and is kept when its field is left blank.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError
from PySide6.QtCore import QModelIndex, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
)
from etcdmon_gui.model.snapshot import Verdict
from etcdmon_gui.notify.config import (
    ChannelBase,
    DesktopChannelConfig,
    EmailChannelConfig,
    LogChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from etcdmon_gui.ui.cluster_tree_widget import VERDICT_COLOURS
from etcdmon_gui.ui.form_dialog import (
    WARNING_COLOUR,
    ServiceDialog,
    backend_text,
    field_text,
    split_list,
)
from etcdmon_gui.ui.header_widget import clock
from etcdmon_gui.workers.channel_worker import SECRET_TITLES, needed_secrets, secret_problem

if TYPE_CHECKING:
    from etcdmon_gui.model.secrets import BackendInfo

ID_ROLE = Qt.ItemDataRole.UserRole
ERROR_COLOUR = "#c62828"
OK_COLOUR = VERDICT_COLOURS[Verdict.HEALTHY]
DISABLED_COLOUR = VERDICT_COLOURS[Verdict.UNREACHABLE]


class ChannelType(typing.NamedTuple):
    model: type[ChannelBase]
    title: str
    badge: str  # the text of its list icon
    colour: str
    note: str  # what it does, shown above its settings


#: The channel types in the order of the Add menu.
CHANNEL_TYPES: dict[str, ChannelType] = {
    "email": ChannelType(EmailChannelConfig, "E-mail", "@", "#1565c0",
                         "Sends an e-mail (HTML and plain text) through an SMTP server."),
    "slack": ChannelType(SlackChannelConfig, "Slack", "S", "#611f69",
                         "Posts to a Slack channel through an incoming webhook."),
    "pagerduty": ChannelType(PagerDutyChannelConfig, "PagerDuty", "PD", "#06ac38",
                             "Triggers and resolves PagerDuty incidents (Events API v2)."),
    "webhook": ChannelType(WebhookChannelConfig, "Webhook", "{}", "#ef6c00",
                           "POSTs Alertmanager's webhook JSON (version 4) to a URL."),
    "desktop": ChannelType(DesktopChannelConfig, "Desktop", "▣", "#455a64",
                           "Shows a popup through the desktop's notifications."),
    "log": ChannelType(LogChannelConfig, "Log", "≡", "#6d6d6d",
                       "Writes a line to etcdmon-gui's log."),
}

_GENERAL = ("name", "enabled")
_DELIVERY = ("min_severity", "send_resolved", "timeout_s")
_NOT_IN_FORM = ("id", "type")
#: Fields a type does not use, so its form does not show them.
_HIDDEN = {"desktop": ("timeout_s",), "log": ("timeout_s",)}
#: A secret's row follows this field; other secrets open the type's section.
_SECRET_AFTER = {"smtp_password": "username", "webhook_secret": "sign"}
#: Why a secret is not needed, when it is not.
_SECRET_UNUSED = {"smtp_password": "only with a user name",
                  "webhook_secret": "only when signing the body"}
_SECRET_HINT = {
    "smtp_password": "The password of the SMTP user",
    "slack_webhook": "The incoming webhook's URL (https://hooks.slack.com/services/…)",
    "webhook_url": "Where the JSON is POSTed; its path often acts as a password",
    "webhook_secret": "The shared key of the HMAC-SHA256 signature",
    "pagerduty_routing_key": "The integration key of the PagerDuty service",
}
_PLACEHOLDERS = {
    "host": "smtp.example.com",
    "sender": "etcdmon <etcdmon@example.com>",
    "recipients": "ops@example.com, oncall@example.com",
    "username": "no login",
    "ca_file": "the system's CA certificates",
    "helo_name": "this machine's name",
    "external_url": "optional, e.g. https://etcdmon.example.com",
    "source": "cluster and member",
}
_CHOICE_TEXT = {
    ("security", "starttls"): "STARTTLS (upgrade after connecting)",
    ("security", "tls"): "TLS from the start (SMTPS)",
    ("security", "none"): "None: plain text, local relay only",
}
_LIST_HINT = " (comma-separated)"
#: The dispatcher's suffix on a delivery's last error; the summary says it already.
_GAVE_UP = re.compile(r" \(gave up after \d+ attempts\)$")

Kind = Literal["text", "optional", "list", "int", "float", "bool", "choice", "secret"]

_icon_cache: dict[str, QIcon] = {}


def type_icon(type_name: str) -> QIcon:
    """A small coloured badge with the type's mark, readable on any palette."""
    icon = _icon_cache.get(type_name)
    if icon is None:
        kind = CHANNEL_TYPES.get(type_name)
        colour, badge = (kind.colour, kind.badge) if kind else (DISABLED_COLOUR, "?")
        pix = QPixmap(32, 32)
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(colour))
        painter.setPen(QColor(colour).darker(130))
        painter.drawRoundedRect(QRectF(1, 1, 30, 30), 7, 7)
        font = QFont(painter.font())
        font.setBold(True)
        font.setPixelSize(15 if len(badge) > 1 else 19)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(QRectF(0, 0, 32, 32), Qt.AlignmentFlag.AlignCenter, badge)
        painter.end()
        icon = _icon_cache[type_name] = QIcon(pix)
    return icon


def type_title(type_name: str) -> str:
    kind = CHANNEL_TYPES.get(type_name)
    return kind.title if kind else type_name


def validation_messages(exc: ValidationError) -> list[tuple[str | None, str]]:
    """(field or None for the whole channel, readable message) per pydantic error."""
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


def _bounds(model: type[ChannelBase], name: str) -> tuple[float | None, float | None, bool]:
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


class _Field:
    """One row of a channel form: the editor and its inline error."""

    def __init__(self, name: str, title: str, tooltip: str, kind: Kind,
                 editor: QWidget) -> None:
        self.name = name
        self.title = title
        self.kind = kind
        self.editor = editor
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
        lay.addWidget(editor, 0, Qt.AlignmentFlag.AlignLeft if compact
                      else Qt.AlignmentFlag(0))
        lay.addWidget(self.error)
        if compact:
            editor.setMinimumWidth(140)

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
        if self.kind == "secret":
            return text if self.name == "smtp_password" else text.strip()
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


class ChannelForm(QWidget):
    """The settings of one channel type, built from its pydantic model.

    Signals:
        changed(): the user edited a field (not emitted by ``set_config``).
    """

    changed = Signal()

    def __init__(self, type_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.type_name = type_name
        self.model = CHANNEL_TYPES[type_name].model
        self.fields: dict[str, _Field] = {}
        self.secrets: dict[str, _Field] = {}
        self._labels: list[QLabel] = []
        self._filling = False
        hidden = _HIDDEN.get(type_name, ())
        names = [n for n in self.model.model_fields if n not in _NOT_IN_FORM + hidden]
        own = [n for n in names if n not in _GENERAL + _DELIVERY]
        rows: list[tuple[str, bool]] = [(n, False) for n in own]  # (name, is a secret)
        leading = 0
        for secret in self.model.secret_fields:
            after = _SECRET_AFTER.get(secret)
            at = next((i + 1 for i, (n, _) in enumerate(rows) if n == after), None)
            if at is None:
                rows.insert(leading, (secret, True))
                leading += 1
            else:
                rows.insert(at, (secret, True))

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        general = self._group("Channel", [(n, False) for n in _GENERAL if n in names])
        lay.addWidget(general)
        kind = CHANNEL_TYPES[type_name]
        specific = self._group(f"{kind.title} settings", rows, note=kind.note)
        lay.addWidget(specific)
        lay.addWidget(self._group("Which alerts, how",
                                  [(n, False) for n in _DELIVERY if n in names]))
        lay.addStretch(1)
        # One label column for all three groups, so the fields line up.
        width = max((label.sizeHint().width() for label in self._labels), default=0)
        for label in self._labels:
            label.setMinimumWidth(width)

    # -- building --------------------------------------------------------------------

    def _group(self, title: str, rows: Sequence[tuple[str, bool]],
               note: str | None = None) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if note:
            label = QLabel(note)
            label.setWordWrap(True)
            label.setStyleSheet("color: palette(placeholder-text);")
            form.addRow(label)
        for name, secret in rows:
            field = self._secret_field(name) if secret else self._model_field(name)
            if secret:
                self.secrets[name] = field
            else:
                self.fields[name] = field
            label = QLabel("" if field.kind == "bool" else field.title)
            label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if field.kind != "bool":
                label.setBuddy(field.editor)
                label.setToolTip(field.editor.toolTip())
            self._labels.append(label)
            form.addRow(label, field.widget)
        return box

    def _model_field(self, name: str) -> _Field:
        info = self.model.model_fields[name]
        title, description = field_text(self.model, name)
        annotation = info.annotation
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        editor: QWidget
        kind: Kind
        if annotation is bool:
            kind, editor = "bool", QCheckBox(title)
            editor.toggled.connect(self._changed)
        elif origin is Literal:
            kind, editor = "choice", QComboBox()
            for value in args:
                editor.addItem(_CHOICE_TEXT.get((name, value), str(value).capitalize()),
                               value)
            editor.currentIndexChanged.connect(self._changed)
        elif annotation is int:
            kind, editor = "int", QSpinBox()
            low, high, _ = _bounds(self.model, name)
            editor.setRange(int(low if low is not None else -(2**31)),
                            int(high if high is not None else 2**31 - 1))
            editor.valueChanged.connect(self._changed)
        elif annotation is float:
            kind, editor = "float", QDoubleSpinBox()
            low, high, exclusive = _bounds(self.model, name)
            editor.setDecimals(1)
            editor.setRange((low or 0.0) + (0.1 if exclusive else 0.0),
                            high if high is not None else 1e9)
            editor.valueChanged.connect(self._changed)
        else:
            optional = origin in (typing.Union, types.UnionType) and type(None) in args
            is_list = origin is list
            kind = "list" if is_list else "optional" if optional else "text"
            editor = QLineEdit()
            editor.setPlaceholderText(_PLACEHOLDERS.get(name, ""))
            editor.textEdited.connect(self._changed)
            if is_list:
                description += _LIST_HINT
        return _Field(name, title, description, kind, editor)

    def _secret_field(self, name: str) -> _Field:
        editor = QLineEdit()
        editor.setEchoMode(QLineEdit.EchoMode.Password)
        editor.textEdited.connect(self._changed)
        tooltip = (f"{_SECRET_HINT.get(name, SECRET_TITLES.get(name, name))}. Kept with the "
                   "secrets, never in channels.yaml; leave blank to keep the stored one")
        return _Field(name, SECRET_TITLES.get(name, name), tooltip, "secret", editor)

    def _changed(self, *_: object) -> None:
        if not self._filling:
            self.changed.emit()

    # -- values ----------------------------------------------------------------------

    def set_config(self, config: ChannelBase | None) -> None:
        """Show ``config``'s values (None: the model's defaults); secrets stay blank."""
        self._filling = True
        try:
            for name, field in self.fields.items():
                if config is not None:
                    value = getattr(config, name)
                else:
                    info = self.model.model_fields[name]
                    value = (None if info.is_required()
                             else info.get_default(call_default_factory=True))
                field.set_value(value)
            for field in self.secrets.values():
                field.set_value("")
        finally:
            self._filling = False

    def values(self) -> dict[str, Any]:
        return {name: field.value() for name, field in self.fields.items()}

    def secret_values(self) -> dict[str, str]:
        """The secrets typed in (blank ones left out: they keep what is stored)."""
        out: dict[str, str] = {}
        for name, field in self.secrets.items():
            value = field.value()
            if value:
                out[name] = value
        return out

    def field(self, name: str) -> _Field:
        return self.fields.get(name) or self.secrets[name]

    def clear_errors(self) -> None:
        for field in (*self.fields.values(), *self.secrets.values()):
            field.set_error(None)


class ChannelsDialog(ServiceDialog):
    """The list of channels and a form to edit the one selected.

    Signals:
        loadRequested(): read the channels again (emitted whenever it is shown).
        saveRequested(str | None old_id, ChannelConfig, dict secrets): add (old_id None)
            or replace a channel; secrets are new values only (blank ones keep what is
            stored).
        deleteRequested(str channel_id): delete a channel and its secrets.
        testRequested(ChannelConfig, dict secrets): send a test notification with the
            form's values, saved or not.
    """

    saveRequested = Signal(object, object, object)
    deleteRequested = Signal(str)
    testRequested = Signal(object, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Notification channels")
        self._channels: list[ChannelBase] = []
        self._names: dict[str, str] = {}  # every channel id seen -> its name
        self._backend: BackendInfo | None = None
        self._editing: ChannelBase | None = None  # the saved channel in the form, if any
        self._form_id = ""
        self._shown_id = ""  # the channel the status and test result are about
        self._dirty = False
        self._saving = False
        self._testing: tuple[str, str] | None = None  # (id, name) of the channel tested
        self.form: ChannelForm | None = None
        self.setStyleSheet(
            f'QLineEdit[invalid="true"], QComboBox[invalid="true"] '
            f'{{ border: 1px solid {ERROR_COLOUR}; }}')

        # -- the list ------------------------------------------------------------------
        self.list = QTreeWidget()
        self.list.setObjectName("channelList")
        self.list.setHeaderLabels(["Name", "Type", "Enabled"])
        self.list.setRootIsDecorated(False)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setMinimumWidth(260)
        header = self.list.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.list.currentItemChanged.connect(self._selected)
        self.add_button = QPushButton("Add")
        self.add_menu = QMenu(self.add_button)
        self.add_actions = {}
        for type_name, kind in CHANNEL_TYPES.items():
            action = self.add_menu.addAction(type_icon(type_name), kind.title)
            action.setToolTip(kind.note)
            action.triggered.connect(lambda _=False, t=type_name: self.new_channel(t))
            self.add_actions[type_name] = action
        self.add_button.setMenu(self.add_menu)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_channel)
        list_buttons = QHBoxLayout()
        for b in (self.add_button, self.delete_button):
            b.setAutoDefault(False)
            list_buttons.addWidget(b)
        list_buttons.addStretch(1)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Channels</b>"))
        left.addWidget(self.list, 1)
        left.addLayout(list_buttons)

        # -- the form ------------------------------------------------------------------
        self.heading = QLabel()
        self.heading.setObjectName("heading")
        self.heading.setTextFormat(Qt.TextFormat.PlainText)
        font = QFont(self.heading.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.heading.setFont(font)
        self.empty = QLabel("No channel yet. Choose Add and the kind of channel: e-mail, "
                            "Slack, PagerDuty, a webhook, desktop popups or the log.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QFrame.Shape.NoFrame)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.form_area)

        self.errors = QLabel()
        self.errors.setObjectName("errors")
        self.errors.setWordWrap(True)
        self.errors.setTextFormat(Qt.TextFormat.PlainText)
        self.errors.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.errors.hide()
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.save_button = QPushButton("Save")
        self.test_button = QPushButton("Send test notification")
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test)
        form_buttons = QHBoxLayout()
        form_buttons.addWidget(self.status, 1)
        for b in (self.save_button, self.test_button):
            b.setAutoDefault(False)
            form_buttons.addWidget(b)

        # -- the test result -----------------------------------------------------------
        self.test_summary = QLabel("No test sent yet.")
        self.test_summary.setObjectName("testSummary")
        self.test_summary.setWordWrap(True)
        self.test_summary.setTextFormat(Qt.TextFormat.PlainText)
        self.test_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Room for a long failure: a wrapped label is not given its height by the layout.
        self.test_summary.setMinimumHeight(self.test_summary.fontMetrics().lineSpacing() * 4)
        self.test_summary.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        test_box = QGroupBox("Test notification")
        QVBoxLayout(test_box).addWidget(self.test_summary)

        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(self.stack, 1)
        right.addWidget(self.errors)
        right.addLayout(form_buttons)
        right.addWidget(test_box)

        columns = QHBoxLayout()
        columns.addLayout(left, 2)
        columns.addSpacing(8)
        columns.addLayout(right, 3)

        # -- the secret backend, and Close ---------------------------------------------
        self.backend = QLabel("Secrets: …")
        self.backend.setObjectName("backend")
        self.backend.setWordWrap(True)
        self.backend.setTextFormat(Qt.TextFormat.RichText)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.backend, 1)
        bottom.addWidget(close)

        outer = QVBoxLayout(self)
        outer.addLayout(columns, 1)
        outer.addLayout(bottom)
        self.resize(980, 720)
        self._show_empty()


    # -- what the service reports (slots, GUI thread) -----------------------------------


    def show_loaded(self, channels: Sequence[ChannelBase], backend: BackendInfo) -> None:
        self._channels = list(channels)
        self._names.update({c.id: c.name for c in channels})
        self._backend = backend
        self._show_backend(backend)
        target = None
        if self._editing is not None:  # found by id: it may have been renamed
            target = next((c for c in self._channels if c.id == self._editing.id), None)
        self._rebuild_list(target.id if target else None)
        if target is not None:
            if self._dirty:
                self._editing = target  # keep the user's edits, track the new original
            else:
                self._fill(target)
        elif self._editing is not None or not self._dirty:
            # What the form showed is gone, or the form is untouched: show the first
            # channel, or the empty page when there is none.
            first = self.list.topLevelItem(0)
            if first is not None:
                self.list.setCurrentItem(first)
            else:
                self._show_empty()
        self._update_placeholders()
        self._update_buttons()

    def show_saved(self, config: ChannelBase) -> None:
        """Select what was saved (the service reloads the list just before)."""
        self._saving = False
        self._rebuild_list(config.id)
        self._fill(config)
        self._set_status(f"Saved “{config.name}”.")

    def show_deleted(self, channel_id: str) -> None:
        name = self._names.get(channel_id, channel_id)
        self._set_status(f"Deleted “{name}” and its secrets.")

    def show_failed(self, message: str) -> None:
        self._saving = False
        if self._testing is not None:
            self._testing = None
            self._summary(message, ERROR_COLOUR)
        self._show_errors([message])
        self._set_status("")
        self._update_buttons()

    def show_delivery(self, attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        """Progress of the test in flight: a failed try that will be retried."""
        if (self._testing is None or not attempt.test
                or attempt.channel_id != self._testing[0]
                or attempt.outcome is not AttemptOutcome.RETRYING):
            return
        when = (f", retrying at {clock(attempt.next_attempt_at)}"
                if attempt.next_attempt_at else ", retrying")
        self._summary(f"Attempt {attempt.attempt} of {attempt.max_attempts} failed: "
                      f"{attempt.error or 'no reason given'}{when}…", WARNING_COLOUR)

    def show_tested(self, record: DeliveryRecord) -> None:
        if self._testing is None or record.channel_id != self._testing[0]:
            return  # not the test this dialog is waiting for
        self._testing = None
        self._update_buttons()
        name = record.channel_name
        tries = f"{record.attempts} attempt{'s' if record.attempts != 1 else ''}"
        if record.status is DeliveryStatus.DELIVERED:
            took = (f" ({record.finished_at - record.created_at:.2f} s)"
                    if record.finished_at is not None else "")
            self._summary(f"Delivered: the test notification reached “{name}” in "
                          f"{tries}{took}.", OK_COLOUR)
        else:
            error = _GAVE_UP.sub("", record.error or "") or "no reason given"
            self._summary(f"Failed: the test notification to “{name}” was not delivered "
                          f"after {tries}: {error}", ERROR_COLOUR)

    # -- list actions --------------------------------------------------------------------

    def new_channel(self, type_name: str) -> None:
        """An empty form for a new channel of ``type_name`` (see ``CHANNEL_TYPES``)."""
        self._deselect()
        self._fill(None, type_name)
        names = {c.name.casefold() for c in self._channels}
        title = CHANNEL_TYPES[type_name].title
        name, n = title, 2
        while name.casefold() in names:
            name, n = f"{title} {n}", n + 1
        assert self.form is not None
        self.form.field("name").set_value(name)
        self._dirty = True
        self._update_buttons()
        editor = self.form.field("name").editor
        editor.setFocus()
        if isinstance(editor, QLineEdit):
            editor.selectAll()

    def delete_channel(self) -> None:
        channel = self._editing
        if channel is None:
            return
        answer = QMessageBox.question(
            self, "Delete channel",
            f"Delete the {type_title(channel.type_name)} channel “{channel.name}” and the "
            "secrets stored for it? Alerts will no longer be sent through it.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            self._set_status(f"Deleting “{channel.name}”…")
            self.deleteRequested.emit(channel.id)

    # -- form actions --------------------------------------------------------------------

    def form_result(self) -> tuple[ChannelBase, dict[str, str]] | None:
        """The channel the form describes and the secrets typed in, or None with the
        problems shown next to their fields."""
        form = self.form
        if form is None:
            return None
        form.clear_errors()
        data: dict[str, Any] = self._editing.model_dump() if self._editing else {}
        data.update(form.values(), id=self._form_id, type=form.type_name)
        problems: list[tuple[str | None, str]] = []
        config: ChannelBase | None = None
        try:
            config = form.model.model_validate(data)
        except ValidationError as exc:
            problems += validation_messages(exc)
        draft = config if config is not None else form.model.model_construct(**data)
        secrets = form.secret_values()
        where = self._backend.name if self._backend else "the keyring"
        for field in needed_secrets(draft):
            if field in form.secrets and field not in secrets and not self._stored(field):
                problems.append((field, f"required: none is stored in {where} yet"))
        for field, value in secrets.items():
            problem = secret_problem(field, value)
            if problem is not None:
                problems.append((field, problem))
        if problems or config is None:
            general = []
            for name, message in problems:
                if name in form.fields or name in form.secrets:
                    form.field(name).set_error(message)
                else:
                    general.append(message)
            marked = len(problems) - len(general)
            if marked:
                general.insert(0, "Correct the field marked in red." if marked == 1
                               else f"Correct the {marked} fields marked in red.")
            self._show_errors(general)
            return None
        self._show_errors([])
        return config, secrets

    def save(self) -> None:
        result = self.form_result()
        if result is None:
            return
        config, secrets = result
        self._saving = True
        self._set_status(f"Saving “{config.name}”…")
        self._update_buttons()
        self.saveRequested.emit(self._editing.id if self._editing else None, config, secrets)

    def test(self) -> None:
        if self._testing is not None:
            return
        result = self.form_result()
        if result is None:
            return
        config, secrets = result
        self._testing = (config.id, config.name)
        self._update_buttons()
        self._summary(f"Sending a test notification through “{config.name}”…", None)
        self.testRequested.emit(config, secrets)

    # -- helpers -------------------------------------------------------------------------

    def _rebuild_list(self, select: str | None) -> None:
        """One row per channel, disabled ones greyed; selects id ``select`` quietly."""
        self.list.blockSignals(True)
        self.list.clear()
        for c in self._channels:
            item = QTreeWidgetItem([c.name, type_title(c.type_name),
                                    "yes" if c.enabled else "no"])
            item.setData(0, ID_ROLE, c.id)
            item.setIcon(0, type_icon(c.type_name))
            item.setToolTip(0, f"{type_title(c.type_name)} channel · alerts from "
                               f"{c.min_severity} up")
            if not c.enabled:
                for col in range(3):
                    item.setForeground(col, QBrush(QColor(DISABLED_COLOUR)))
                item.setToolTip(0, "Disabled: nothing is sent through it")
            self.list.addTopLevelItem(item)
            if c.id == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _deselect(self) -> None:
        self.list.blockSignals(True)
        self.list.setCurrentIndex(QModelIndex())
        self.list.clearSelection()
        self.list.blockSignals(False)

    def _selected(self, item: QTreeWidgetItem | None, _previous: object = None) -> None:
        if item is None:
            return
        channel_id = str(item.data(0, ID_ROLE))
        channel = next((c for c in self._channels if c.id == channel_id), None)
        if channel is not None:
            self._fill(channel)

    def _fill(self, channel: ChannelBase | None, type_name: str | None = None) -> None:
        """Show ``channel`` in the form (None: a new one of ``type_name``)."""
        kind = channel.type_name if channel is not None else type_name
        assert kind is not None
        self._editing = channel
        self._form_id = channel.id if channel is not None else str(
            ChannelBase.model_fields["id"].get_default(call_default_factory=True))
        if self.form is None or self.form.type_name != kind:
            self.form = ChannelForm(kind)
            self.form.changed.connect(self._changed)
            old = self.form_area.takeWidget()
            if old is not None:
                old.deleteLater()
            self.form_area.setWidget(self.form)
        self.form.set_config(channel)
        self.form.clear_errors()
        self.stack.setCurrentWidget(self.form_area)
        if self._form_id != self._shown_id:  # another channel: older messages are not its
            self._shown_id = self._form_id
            self._set_status("")
            if self._testing is None:
                self._summary("No test sent yet.", None)
        self._dirty = False
        title = type_title(kind)
        self.heading.setText(f"{title} channel “{channel.name}”" if channel is not None
                             else f"New {title} channel (not saved)")
        self.heading.setToolTip(f"Identifier {self._form_id}: owns the channel's secrets")
        self._show_errors([])
        self._update_placeholders()
        self._update_buttons()

    def _show_empty(self) -> None:
        self._editing = None
        self._dirty = False
        self.heading.setText("Notification channels")
        self.heading.setToolTip("")
        self.stack.setCurrentWidget(self.empty)
        self._show_errors([])
        self._update_buttons()

    def _changed(self) -> None:
        self._dirty = True
        self._update_placeholders()
        self._update_buttons()

    def _stored(self, field: str) -> bool:
        return self._stored_for(self._editing.id if self._editing else None, field)

    def _update_placeholders(self) -> None:
        form = self.form
        if form is None or not form.secrets:
            return
        where = self._backend.name if self._backend else "the keyring"
        data = {**(self._editing.model_dump() if self._editing else {}), **form.values()}
        needed = needed_secrets(form.model.model_construct(**data))
        for name, field in form.secrets.items():
            assert isinstance(field.editor, QLineEdit)
            if self._stored(name):
                text = f"(stored in {where})"
            elif name in needed:
                text = "required: none is stored yet"
            else:
                text = _SECRET_UNUSED.get(name, "not used")
            field.editor.setPlaceholderText(text)

    def _update_buttons(self) -> None:
        has_form = self.stack.currentWidget() is self.form_area
        self.delete_button.setEnabled(self._editing is not None)
        self.save_button.setEnabled(has_form and not self._saving)
        self.test_button.setEnabled(has_form and self._testing is None)
        self.test_button.setText("Sending…" if self._testing is not None
                                 else "Send test notification")
        self.test_button.setToolTip(
            "Send a clearly labelled test alert through this channel, with the settings "
            "in the form (saved or not), retried like a real alert")




    def _show_backend(self, info: BackendInfo) -> None:
        self.backend.setText(backend_text(info))
