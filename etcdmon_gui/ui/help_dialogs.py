"""The Help menu's dialogs: the user guide, the keyboard shortcuts, the alert rules.

Nothing here needs the internet. The guide is a Markdown file shipped in the package
(``resources/user_guide.md``, read through ``etcdmon_gui.resources``); links inside it
jump to its headings, and a link to the web opens only after the user agrees. The
shortcuts are listed from the window's actions, so the list cannot drift from the menus;
the rule reference is made from the rules it is given (the defaults).
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from collections.abc import Iterable, Sequence

import pyqtgraph
import PySide6
from PySide6.QtCore import QSortFilterProxyModel, Qt, QUrl, qVersion
from PySide6.QtGui import (
    QAction,
    QDesktopServices,
    QKeySequence,
    QStandardItem,
    QStandardItemModel,
    QTextBlock,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QSplitter,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui import __version__, resources
from etcdmon_gui.formatting import fmt_duration
from etcdmon_gui.monitor.alert_rules import Rule
from etcdmon_gui.ui.palette import severity_icon

GUIDE_RESOURCE = "user_guide.md"
ETCD_CLIENT_DIST = "etcd-sdk-python"  # import name pyetcd, which widgets may not import


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def versions() -> list[tuple[str, str]]:
    """What About lists: the app and what it runs on."""
    return [
        ("etcdmon-gui", __version__),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", pyqtgraph.__version__),
        (f"etcd client ({ETCD_CLIENT_DIST})", _dist_version(ETCD_CLIENT_DIST)),
        ("grpcio", _dist_version("grpcio")),
    ]


def _close_buttons(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    return buttons


# -- the user guide --------------------------------------------------------------------


def slug(title: str) -> str:
    """A heading's anchor as GitHub makes it: "Alerts, silences" -> "alerts-silences"."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


class UserGuideDialog(QDialog):
    """The bundled guide rendered from Markdown, its sections listed on the left.

    Links to ``#a-heading`` scroll there; any other link asks before the desktop opens
    it (``openLinks`` is off, so the browser itself never loads anything).
    """

    def __init__(self, parent: QWidget | None = None, *, text: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("userGuideDialog")
        self.setWindowTitle("etcdmon-gui user guide")
        self.browser = QTextBrowser()
        self.browser.setObjectName("userGuide")
        self.browser.setOpenLinks(False)
        self.browser.setOpenExternalLinks(False)
        self.browser.anchorClicked.connect(self.follow_link)
        self.browser.setMarkdown(resources.read_text(GUIDE_RESOURCE) if text is None else text)
        self.contents = QListWidget()
        self.contents.setObjectName("guideContents")
        self.contents.setAccessibleName("Contents")
        self._anchors: dict[str, QTextBlock] = {}
        block = self.browser.document().begin()
        while block.isValid():
            level = block.blockFormat().headingLevel()
            if level:
                self._anchors.setdefault(slug(block.text()), block)
                if level <= 2:
                    item = QListWidgetItem(block.text())
                    item.setData(Qt.ItemDataRole.UserRole, slug(block.text()))
                    self.contents.addItem(item)
            block = block.next()
        self.contents.currentItemChanged.connect(
            lambda item, _prev: (
                self.scroll_to(item.data(Qt.ItemDataRole.UserRole)) if item else None
            )
        )
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.contents)
        split.addWidget(self.browser)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 680])
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addWidget(_close_buttons(self))
        self.resize(920, 680)
        self.browser.setFocus()  # not the contents, whose current row would scroll

    def headings(self) -> list[str]:
        """Every heading of the guide, in order."""
        return [block.text() for block in self._anchors.values()]

    def scroll_to(self, anchor: str) -> bool:
        """Bring the heading ``anchor`` (its slug) to the top; whether it exists."""
        block = self._anchors.get(anchor)
        if block is None:
            return False
        layout = self.browser.document().documentLayout()
        self.browser.verticalScrollBar().setValue(int(layout.blockBoundingRect(block).top()))
        return True

    def follow_link(self, url: QUrl) -> None:
        if not url.scheme() and url.fragment():
            self.scroll_to(url.fragment())
            return
        answer = QMessageBox.question(
            self,
            "Open a web page?",
            f"This link leads out of the guide, to {url.toString()}.\n\n"
            "Open it in your web browser?",
        )
        if answer == QMessageBox.StandardButton.Yes:
            QDesktopServices.openUrl(url)


# -- keyboard shortcuts ------------------------------------------------------------------


def plain_text(text: str) -> str:
    """An action's text as shown: "&&" is an ampersand, a single "&" marks the mnemonic."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(action, its shortcuts in the desktop's words) for every action that has one,
    each once, in the order given."""
    rows: list[tuple[str, str]] = []
    for action in actions:
        keys = [k for k in action.shortcuts() if not k.isEmpty()]
        if not keys or not action.text():
            continue
        row = (
            plain_text(action.text()),
            ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys),
        )
        if row not in rows:
            rows.append(row)
    return rows


class ShortcutsDialog(QDialog):
    """Every shortcut of the actions it is given (the window's), as a two-column table."""

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 2)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        for row, (text, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(text))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(_close_buttons(self))
        self.resize(440, min(720, 90 + 30 * len(rows)))

    def rows(self) -> list[tuple[str, str]]:
        def text(row: int, column: int) -> str:
            item = self.table.item(row, column)
            return "" if item is None else item.text()

        return [(text(r, 0), text(r, 1)) for r in range(self.table.rowCount())]


# -- the alert rule reference -----------------------------------------------------------

RULE_COLUMNS = ("Rule", "Severity", "Scope", "Fires when", "For", "Summary")


def rule_condition(rule: Rule) -> str:
    """What a rule checks, as an expression: ``wal_fsync_p99_s > 0.5``."""
    text = f"{rule.signal} {rule.op} {rule.threshold:g}"
    return text if rule.enabled else f"{text} (off by default)"


def rule_for(rule: Rule) -> str:
    return fmt_duration(rule.for_s) if rule.for_s else "at once"


class RuleReferenceDialog(QDialog):
    """The rules it is given as a table, filtered by what is typed (any column)."""

    def __init__(self, rules: Sequence[Rule], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ruleReferenceDialog")
        self.setWindowTitle("Alert rule reference")
        intro = QLabel(
            f"The {len(rules)} rules etcdmon-gui ships with. A rule fires when its "
            "condition holds for its whole “for” duration, for a member or the whole "
            "cluster. Change any field by rule name in rules.yaml in the settings "
            "folder, or per profile (see the user guide)."
        )
        intro.setWordWrap(True)
        self.filter = QLineEdit()
        self.filter.setObjectName("ruleFilter")
        self.filter.setPlaceholderText("Filter: a rule, a severity, a signal, a word…")
        self.filter.setClearButtonEnabled(True)
        self.model = QStandardItemModel(0, len(RULE_COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(RULE_COLUMNS))
        for rule in rules:
            cells = [
                QStandardItem(rule.name),
                QStandardItem(rule.severity.name.lower()),
                QStandardItem(rule.scope),
                QStandardItem(rule_condition(rule)),
                QStandardItem(rule_for(rule)),
                QStandardItem(rule.summary),
            ]
            cells[1].setIcon(severity_icon(rule.severity))
            for cell in cells:
                cell.setEditable(False)
                cell.setToolTip(f"{rule.name}: {rule.summary}")
            self.model.appendRow(cells)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setObjectName("ruleTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the file's order
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        for column in range(len(RULE_COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.count = QLabel()
        self.count.setObjectName("ruleCount")
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.filter)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.count)
        lay.addWidget(_close_buttons(self))
        self._update_count()
        self.resize(1100, 620)

    def visible_rules(self) -> list[str]:
        """The names of the rules the filter lets through, in the table's order."""
        return [self.proxy.index(row, 0).data() for row in range(self.proxy.rowCount())]

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(
            f"{total} rules" if shown == total else f"{shown} of {total} rules shown"
        )
