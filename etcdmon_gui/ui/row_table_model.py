"""A flat, read-only table over a list of rows with fixed column titles, and the view
every such table here uses."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtWidgets import QAbstractItemView, QTableView

ModelIndex = QModelIndex | QPersistentModelIndex
Row = TypeVar("Row")
Key = TypeVar("Key", bound=Hashable)


class RowTableModel(QAbstractTableModel, Generic[Row]):
    """Subclasses set ``columns``, keep ``_rows`` and implement ``data``."""

    columns: tuple[str, ...] = ()

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)  # type: ignore[arg-type]
        self._rows: list[Row] = []

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        return None

    def _row_at(self, index: ModelIndex) -> Row | None:
        """The row behind ``index``, or None for an invalid or stale index."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self._rows[index.row()]

    def _sync(self, new: Mapping[Key, Row], key: Callable[[Row], Key]) -> list[Key]:
        """Make the rows exactly ``new`` in place (rows that stay keep their place, so a
        selection survives): gone rows are removed, changed ones updated, new ones
        appended. Returns the keys removed."""
        removed = []
        for row in reversed(range(len(self._rows))):
            k = key(self._rows[row])
            if k not in new:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
                removed.append(k)
        at_row = {key(r): i for i, r in enumerate(self._rows)}
        added = []
        for k, item in new.items():
            at = at_row.get(k)
            if at is None:
                added.append(item)
            elif item != self._rows[at]:
                self._rows[at] = item
                self.dataChanged.emit(self.index(at, 0), self.index(at, len(self.columns) - 1))
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()
        return removed


def row_table_view(
    name: str, model: QAbstractItemModel, *, sort_column: int | None = None
) -> QTableView:
    """A read-only, compact table of whole rows. With ``sort_column`` it sorts by that
    column, allows several rows to be selected at once and stripes its rows."""
    table = QTableView()
    table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setWordWrap(False)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.horizontalHeader().setHighlightSections(False)
    if sort_column is not None:
        table.setSortingEnabled(True)
        table.sortByColumn(sort_column, Qt.SortOrder.AscendingOrder)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setAlternatingRowColors(True)
    return table
