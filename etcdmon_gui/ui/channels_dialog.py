"""Add, edit, delete and test notification channels.

The dialog renders what the channel service reports (``show_loaded``, ``show_tested``,
...) and asks for everything else through signals: it never reads ``channels.yaml`` or
the keyring, and never sends anything itself. The channel types it offers are handed
in (the registry's ``ChannelKind``s, by the composition root); each type's form is a
``ChannelForm`` built from its settings model, so the dialog knows no type by name.

Secrets (SMTP password, webhook and Slack URLs, signing secret, PagerDuty routing key)
only ever sit in password fields (echo mode Password) and in the request that carries
them to the service. A stored secret shows as the placeholder "(stored in <backend>)"
and is kept when its field is left blank. A channel whose secrets the store lacks (kept
in memory before a restart) is flagged: "Enabled: yes — but no webhook URL".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
)
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.notify.registry import ChannelKind
from etcdmon_gui.ui.channel_form_widget import ChannelForm, type_icon
from etcdmon_gui.ui.field_row_widget import validation_messages
from etcdmon_gui.ui.form_dialog import ServiceDialog, warning_icon
from etcdmon_gui.ui.header_widget import clock
from etcdmon_gui.ui.palette import ERROR_COLOUR, HEALTHY_COLOUR, UNKNOWN_COLOUR, WARNING_COLOUR

if TYPE_CHECKING:
    from etcdmon_gui.model.secrets import BackendInfo

ID_ROLE = Qt.ItemDataRole.UserRole
#: The dispatcher's suffix on a delivery's last error; the summary says it already.
_GAVE_UP = re.compile(r" \(gave up after \d+ attempts\)$")


class ChannelsDialog(ServiceDialog):
    """The list of channels and a form to edit the one selected; ``kinds`` are the
    channel types it offers, in the order of the Add menu.

    Signals:
        loadRequested(): read the channels again (emitted whenever it is shown).
        saveRequested(str | None old_id, ChannelBase, dict secrets): add (old_id None)
            or replace a channel; secrets are new values only (blank ones keep what is
            stored).
        deleteRequested(str channel_id): delete a channel and its secrets.
        testRequested(ChannelBase, dict secrets): send a test notification with the
            form's values, saved or not.
        moveRequested(MoveTarget): move every secret to another backend.
    """

    saveRequested = Signal(object, object, object)
    deleteRequested = Signal(str)
    testRequested = Signal(object, object)
    list: QTreeWidget

    def __init__(self, kinds: Sequence[ChannelKind], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Notification channels")
        self.kinds = {k.name: k for k in kinds}
        self._channels: list[ChannelBase] = []
        self._names: dict[str, str] = {}  # every channel id seen -> its name
        self._editing: ChannelBase | None = None  # the saved channel in the form, if any
        self._form_id = ""
        self._shown_id = ""  # the channel the status and test result are about
        self._testing: tuple[str, str] | None = None  # (id, name) of the channel tested
        self.form: ChannelForm | None = None
        self.setStyleSheet(
            f'QLineEdit[invalid="true"], QComboBox[invalid="true"] '
            f"{{ border: 1px solid {ERROR_COLOUR}; }}"
        )

        # -- the list ------------------------------------------------------------------
        self.list = QTreeWidget()
        self.list.setObjectName("channelList")
        self.list.setHeaderLabels(["Name", "Type", "Enabled"])
        self.list.setRootIsDecorated(False)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setMinimumWidth(260)
        header = self.list.header()
        # Names and types whole; "Enabled" (which may say what is missing) takes the rest.
        header.setStretchLastSection(True)
        header.setMaximumSectionSize(240)
        for col in (0, 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.list.currentItemChanged.connect(self._selected)
        self.add_button = QPushButton("Add")
        self.add_menu = QMenu(self.add_button)
        self.add_actions = {}
        for type_name, kind in self.kinds.items():
            action = self.add_menu.addAction(type_icon(type_name, kind.mark), kind.title)
            action.setToolTip(kind.description)
            action.triggered.connect(lambda _=False, t=type_name: self.new_channel(t))
            self.add_actions[type_name] = action
        self.add_button.setMenu(self.add_menu)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_channel)
        left = self._list_column("Channels", self.add_button, self.delete_button, stretch=True)

        # -- the form ------------------------------------------------------------------
        self._make_labels(heading_scale=1.1)
        self.empty = QLabel(
            "No channel yet. Choose Add and the kind of channel: "
            + ", ".join(k.title for k in kinds)
            + "."
        )
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.form_area.setFrameShape(QFrame.Shape.NoFrame)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.form_area)
        self.save_button = QPushButton("Save")
        self.test_button = QPushButton("Send test notification")
        self.save_button.clicked.connect(self.save)
        self.test_button.clicked.connect(self.test)
        test_box = self._test_box("Test notification", "No test sent yet.", min_lines=4)
        self._lay_out(
            left,
            self.stack,
            self._form_buttons(self.save_button, self.test_button),
            test_box,
            left_stretch=2,
        )
        self.resize(980, 720)
        self._show_empty()

    # -- what the service reports (slots, GUI thread) -----------------------------------

    def show_loaded(self, channels: Sequence[ChannelBase], backend: BackendInfo) -> None:
        self._channels = list(channels)
        self._names.update({c.id: c.name for c in channels})
        self._show_backend(backend)
        self._reselect(self._channels)
        self._update_placeholders()
        self._update_buttons()

    def show_deleted(self, channel_id: str) -> None:
        name = self._names.get(channel_id, channel_id)
        self._set_status(f"Deleted “{name}” and its secrets.")

    def show_failed(self, message: str) -> None:
        if self._testing is not None:
            self._testing = None
            self._summary(message, ERROR_COLOUR)
        super().show_failed(message)

    def show_delivery(self, attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        """Progress of the test in flight: a failed try that will be retried."""
        if (
            self._testing is None
            or not attempt.test
            or attempt.channel_id != self._testing[0]
            or attempt.outcome is not AttemptOutcome.RETRYING
        ):
            return
        when = (
            f", retrying at {clock(attempt.next_attempt_at)}"
            if attempt.next_attempt_at
            else ", retrying"
        )
        self._summary(
            f"Attempt {attempt.attempt} of {attempt.max_attempts} failed: "
            f"{attempt.error or 'no reason given'}{when}…",
            WARNING_COLOUR,
        )

    def show_tested(self, record: DeliveryRecord | None, error: str = "") -> None:
        """A test's final record, or None and why no notification was sent."""
        if self._testing is None or (record is not None and record.channel_id != self._testing[0]):
            return  # not the test this dialog is waiting for
        if record is None:
            message = f"no test notification was sent through {self._testing[1]!r}: {error}"
            self._testing = None
            self._summary(message, ERROR_COLOUR)
            self._show_errors([message])
            self._update_buttons()
            return
        self._testing = None
        self._update_buttons()
        name = record.channel_name
        tries = f"{record.attempts} attempt{'s' if record.attempts != 1 else ''}"
        if record.status is DeliveryStatus.DELIVERED:
            took = (
                f" ({record.finished_at - record.created_at:.2f} s)"
                if record.finished_at is not None
                else ""
            )
            self._summary(
                f"Delivered: the test notification reached “{name}” in {tries}{took}.",
                HEALTHY_COLOUR,
            )
        else:
            error = _GAVE_UP.sub("", record.error or "") or "no reason given"
            self._summary(
                f"Failed: the test notification to “{name}” was not delivered "
                f"after {tries}: {error}",
                ERROR_COLOUR,
            )

    # -- list actions --------------------------------------------------------------------

    def new_channel(self, type_name: str) -> None:
        """An empty form for a new channel of ``type_name`` (one of ``kinds``)."""
        self._deselect()
        self._fill(None, type_name)
        names = {c.name.casefold() for c in self._channels}
        title = self.kinds[type_name].title
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
        if self._confirm_delete(
            "Delete channel",
            f"Delete the {self._title(channel.type_name)} channel “{channel.name}” and the "
            "secrets stored for it? Alerts will no longer be sent through it.",
            channel.name,
        ):
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
        where = self._secrets_place()
        for field in draft.needed_secrets():
            if field in form.secrets and field not in secrets and not self._stored(field):
                problems.append((field, f"required: none is stored in {where} yet"))
        for field, value in secrets.items():
            problem = form.model.secret_field(field).problem(value)
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
                general.insert(
                    0,
                    "Correct the field marked in red."
                    if marked == 1
                    else f"Correct the {marked} fields marked in red.",
                )
            self._show_errors(general)
            return None
        self._show_errors([])
        return config, secrets

    def save(self) -> None:
        """Save what the form describes; asks first when a secret typed in would be kept
        for this session only."""
        result = self.form_result()
        if result is None:
            return
        config, secrets = result
        old_id = self._editing.id if self._editing else None

        def send() -> None:
            self._saving = True
            self._set_status(f"Saving “{config.name}”…")
            self._update_buttons()
            self.saveRequested.emit(old_id, config, secrets)

        self._save_after_asking(config.name, [_phrase(config, f) for f in secrets], send)

    def _start_test(self, result: tuple[ChannelBase, dict[str, str]]) -> None:
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
            title = self._title(c.type_name)
            missing = " and ".join(_phrase(c, f) for f in self._missing_for(c.id))
            enabled = "yes" if c.enabled else "no"
            if missing:
                enabled += f" — but no {missing}" if c.enabled else f" (no {missing})"
            item = QTreeWidgetItem([c.name, title, enabled])
            item.setData(0, ID_ROLE, c.id)
            item.setIcon(0, self._icon(c.type_name))
            item.setToolTip(0, f"{title} channel · alerts from {c.min_severity} up")
            if not c.enabled:
                for col in range(3):
                    item.setForeground(col, QBrush(QColor(UNKNOWN_COLOUR)))
                item.setToolTip(0, "Disabled: nothing is sent through it")
            if missing:
                item.setIcon(2, warning_icon(self))
                if c.enabled:
                    item.setForeground(2, QBrush(QColor(WARNING_COLOUR)))
                tip = (
                    f"{missing[:1].upper()}{missing[1:]} missing from {self._secrets_place()}: "
                    "enter it again and save"
                    + (". Until then no alert reaches this channel." if c.enabled else ".")
                )
                for col in range(3):
                    item.setToolTip(col, tip)
            self.list.addTopLevelItem(item)
            if c.id == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)

    def _show_first(self) -> None:
        first = self.list.topLevelItem(0)
        if first is not None:
            self.list.setCurrentItem(first)
        else:
            self._show_empty()

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
        self._form_id = (
            channel.id
            if channel is not None
            else str(ChannelBase.model_fields["id"].get_default(call_default_factory=True))
        )
        if self.form is None or self.form.type_name != kind:
            self.form = ChannelForm(self.kinds[kind])
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
        self._notice_missing(
            [
                f"{_phrase(channel, f)} missing: enter it again"
                for f in self._missing_for(channel.id)
            ]
            if channel is not None
            else []
        )
        title = self._title(kind)
        self.heading.setText(
            f"{title} channel “{channel.name}”"
            if channel is not None
            else f"New {title} channel (not saved)"
        )
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

    def _stored(self, field: str) -> bool:
        return self._stored_for(self._editing.id if self._editing else None, field)

    def _update_placeholders(self) -> None:
        form = self.form
        if form is None or not form.secrets:
            return
        where = self._secrets_place()
        data = {**(self._editing.model_dump() if self._editing else {}), **form.values()}
        needed = form.model.model_construct(**data).needed_secrets()
        for name, field in form.secrets.items():
            assert isinstance(field.editor, QLineEdit)
            if self._stored(name):
                text = f"(stored in {where})"
            elif name in needed:
                text = "required: none is stored yet"
            else:
                text = form.model.secret_field(name).unused
            field.editor.setPlaceholderText(text)

    def _update_buttons(self) -> None:
        has_form = self.stack.currentWidget() is self.form_area
        self.delete_button.setEnabled(self._editing is not None)
        self.save_button.setEnabled(has_form and not self._saving)
        self.test_button.setEnabled(has_form and self._testing is None)
        self.test_button.setText(
            "Sending…" if self._testing is not None else "Send test notification"
        )
        self.test_button.setToolTip(
            "Send a clearly labelled test alert through this channel, with the settings "
            "in the form (saved or not), retried like a real alert"
        )

    def _title(self, type_name: str) -> str:
        kind = self.kinds.get(type_name)
        return kind.title if kind else type_name

    def _icon(self, type_name: str) -> QIcon:
        kind = self.kinds.get(type_name)
        return type_icon(type_name, kind.mark if kind else "?")


def _phrase(channel: ChannelBase, field: str) -> str:
    """How a sentence names one of ``channel``'s secrets ("webhook URL")."""
    try:
        return channel.secret_field(field).phrase
    except KeyError:
        return field.replace("_", " ")
