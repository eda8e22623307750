"""What the user sees of an internal error: one dialog at a time.

``CrashDialog`` says where the error happened, that the app keeps running, where the
report and the log are, and shows the report (already scrubbed of secrets) in a details
box that opens on demand; "Copy report" puts it on the clipboard, "Open log folder"
asks the app to open the folder (``openLogFolderRequested``; the dialog does no I/O).

``CrashDialogs`` is the holder the app connects the crash handler to: the first report
opens a dialog; while it is open, later reports and repeats only update its line
"N more errors since; see the log"; a repeat with no dialog open opens none.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.crash import CrashNotice


def headline(where: str) -> str:
    return (
        f"etcdmon-gui hit an internal error in {where or 'an unknown place'}. It keeps "
        "running; if something looks wrong, restart it."
    )


def more_text(count: int) -> str:
    return f"{count} more error{'s' if count != 1 else ''} since; see the log."


class CrashDialog(QDialog):
    """One crash report (see the module).

    Signals:
        openLogFolderRequested(object): the log folder (a ``Path``) the user asked to
            open.
    """

    openLogFolderRequested = Signal(object)

    def __init__(self, notice: CrashNotice, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("etcdmon-gui: internal error")
        self.notice = notice
        self.more = 0
        report = notice.report
        self.headline = QLabel(headline(notice.where))
        self.headline.setWordWrap(True)
        self.report_line = QLabel(
            f"Crash report: {report.path}"
            if report.path is not None
            else "The crash report could not be written; its text is below."
        )
        self.folder = report.path.parent if report.path is not None else report.log_dir
        self.folder_line = QLabel(f"Log folder: {self.folder if self.folder else 'unknown'}")
        for label in (self.report_line, self.folder_line):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.more_line = QLabel()
        self.more_line.setVisible(False)
        self.details_button = QToolButton()
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.setArrowType(Qt.ArrowType.RightArrow)
        self.details = QPlainTextEdit(report.text)
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setVisible(False)
        self.details.setMinimumHeight(240)
        self.details_button.toggled.connect(self._show_details)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("&Copy report")
        self.open_button = QPushButton("&Open log folder")
        self.open_button.setEnabled(self.folder is not None)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.copy_button.clicked.connect(self.copy_report)
        self.open_button.clicked.connect(self._open_folder)

        layout = QVBoxLayout(self)
        for widget in (
            self.headline,
            self.report_line,
            self.folder_line,
            self.more_line,
            self.details_button,
            self.details,
            buttons,
        ):
            layout.addWidget(widget)
        self.resize(560, self.sizeHint().height())

    @property
    def text(self) -> str:
        return self.notice.report.text

    @Slot()
    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.text)

    def add_more(self, count: int = 1) -> None:
        """``count`` more errors happened while this dialog was open."""
        self.more += count
        self.more_line.setText(more_text(self.more))
        self.more_line.setVisible(True)

    @Slot(bool)
    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.details_button.setArrowType(
            Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        )
        self.adjustSize()

    @Slot()
    def _open_folder(self) -> None:
        if self.folder is not None:
            self.openLogFolderRequested.emit(Path(self.folder))


class CrashDialogs(QObject):
    """At most one ``CrashDialog`` open at a time (see the module).

    Signals:
        openLogFolderRequested(object): relayed from the open dialog (a ``Path``).
    """

    openLogFolderRequested = Signal(object)

    def __init__(self, parent_widget: QWidget | None = None) -> None:
        super().__init__(parent_widget)
        self._parent_widget = parent_widget
        self.dialog: CrashDialog | None = None

    @Slot(object)
    def show_report(self, notice: CrashNotice) -> CrashDialog:
        """A new report: shown in a new dialog, or counted by the open one."""
        if self.dialog is not None:
            self.dialog.add_more()
            return self.dialog
        dialog = CrashDialog(notice, self._parent_widget)
        dialog.openLogFolderRequested.connect(self.openLogFolderRequested)
        dialog.finished.connect(self._closed)
        self.dialog = dialog
        dialog.show()
        return dialog

    @Slot(object)
    def note_repeat(self, notice: CrashNotice) -> None:
        """The same error again: counted by the open dialog; no dialog opens for it."""
        if self.dialog is not None:
            self.dialog.add_more()

    @Slot()
    def _closed(self) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is not None:
            dialog.deleteLater()
