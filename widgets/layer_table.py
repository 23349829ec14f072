"""The layer table: what each layer is, where its weights are, and how it is scheduled.

Priority and checkpoint strategy are combo editors per row when the engine supports them;
otherwise the cells read "n/a" and are not editable. Live columns (status, load time, hits,
misses, the loader's residency plan, and the last run's compute and weight-wait time per
layer) come from the GUI's poll and repaint only the cells that changed.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QHeaderView, QStyledItemDelegate, QTableView

from tinyai_workbench.presets import human_size

from .live_plots import STATUS_COLOURS

UNAVAILABLE_TIP = "available when the engine supports it"
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
CHECKPOINT_STRATEGIES = ("KEEP", "CHECKPOINT", "RECOMPUTE")
COLUMNS = ("#", "Name", "Ops", "Weights", "Status", "Priority", "Checkpoint", "Load time", "Hits", "Misses",
           "Plan", "Compute", "Wait")
COL_STATUS, COL_PRIORITY, COL_CHECKPOINT, COL_LOAD, COL_HITS, COL_MISSES = 4, 5, 6, 7, 8, 9
COL_PLAN, COL_COMPUTE, COL_WAIT = 10, 11, 12
PLAN_TIP = ("what the loader's residency plan does with the layer's weights: kept resident across "
            "inferences or streamed (runs with the adaptive window under a weight budget, from the "
            "second inference)")
COMPUTE_TIP = "time the layer's kernels ran in the last inference"
WAIT_TIP = "time the layer waited for its weights to be read in the last inference (loader stall)"
_STATUS_INDEX = {"UNLOADED": 1, "LOADING": 2, "LOADED": 3, "ERROR": 4, "EXECUTING": 5}
_DISPLAY, _EDIT, _TOOLTIP = Qt.DisplayRole.value, Qt.EditRole.value, Qt.ToolTipRole.value
_BACKGROUND, _FOREGROUND, _ALIGN = Qt.BackgroundRole.value, Qt.ForegroundRole.value, Qt.TextAlignmentRole.value
_HANDLED_ROLES = frozenset((_DISPLAY, _EDIT, _TOOLTIP, _BACKGROUND, _FOREGROUND, _ALIGN))
_STATUS_BRUSHES = [QBrush(QColor(*rgb)) for rgb in STATUS_COLOURS]
_WHITE = QBrush(QColor("white"))
_RIGHT = int((Qt.AlignRight | Qt.AlignVCenter).value)


class LayerTableModel(QAbstractTableModel):
    priorityEdited = Signal(int, str)
    checkpointEdited = Signal(int, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layers = []
        self.status: List[Optional[str]] = []
        self.priority: List[Optional[str]] = []
        self.checkpoint: List[Optional[str]] = []
        self.load_s: List[Optional[float]] = []
        self.hits: List[Optional[int]] = []
        self.misses: List[Optional[int]] = []
        self.plan: List[Optional[str]] = []
        self.compute_s: List[Optional[float]] = []
        self.wait_s: List[Optional[float]] = []
        self.priority_editable = False
        self.checkpoint_editable = False

    def set_layers(self, layers, priority_editable: bool, checkpoint_editable: bool) -> None:
        self.beginResetModel()
        n = len(layers)
        self.layers = list(layers)
        self.status = [None] * n
        self.priority = ["MEDIUM" if priority_editable else None] * n
        self.checkpoint = ["KEEP" if checkpoint_editable else None] * n
        self.load_s, self.hits, self.misses = [None] * n, [None] * n, [None] * n
        self.plan, self.compute_s, self.wait_s = [None] * n, [None] * n, [None] * n
        self.priority_editable, self.checkpoint_editable = priority_editable, checkpoint_editable
        self.endResetModel()

    # -- live values ------------------------------------------------------------------------

    def _update_column(self, column: int, store: list, values: Optional[Sequence]) -> None:
        if values is None:
            return
        changed = [i for i in range(min(len(store), len(values))) if store[i] != values[i]]
        for i in changed:
            store[i] = values[i]
        if changed:
            self.dataChanged.emit(self.index(min(changed), column), self.index(max(changed), column))

    def update_live(self, statuses=None, current_layer: int = -1, load_s=None, hits=None, misses=None,
                    priorities=None, plan=None, compute_s=None, wait_s=None) -> None:
        n = len(self.layers)
        if statuses is not None or current_layer >= 0:
            shown = list(statuses) if statuses is not None else list(self.status)
            if statuses is None:
                shown = [None if s == "EXECUTING" else s for s in shown]
            if 0 <= current_layer < n:
                shown[current_layer] = "EXECUTING"
            self._update_column(COL_STATUS, self.status, shown)
        elif any(s == "EXECUTING" for s in self.status):
            self._update_column(COL_STATUS, self.status, [None if s == "EXECUTING" else s for s in self.status])
        self._update_column(COL_LOAD, self.load_s, load_s)
        self._update_column(COL_HITS, self.hits, hits)
        self._update_column(COL_MISSES, self.misses, misses)
        # No plan in effect clears the column (the budget or the adaptive window was turned off).
        self._update_column(COL_PLAN, self.plan, plan if plan is not None else [None] * n)
        self._update_column(COL_COMPUTE, self.compute_s, compute_s)
        self._update_column(COL_WAIT, self.wait_s, wait_s)
        if priorities is not None and self.priority_editable:
            self._update_column(COL_PRIORITY, self.priority,
                                [p if isinstance(p, str) else PRIORITIES[int(p)] for p in priorities])

    # -- Qt model ---------------------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(self.layers)

    def columnCount(self, parent=QModelIndex()):  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):  # noqa: N802
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index):
        base = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        if (index.column() == COL_PRIORITY and self.priority_editable) or \
                (index.column() == COL_CHECKPOINT and self.checkpoint_editable):
            return base | Qt.ItemIsEditable
        return base

    def data(self, index, role=Qt.DisplayRole):
        # Called for every visible cell and role on each repaint: cheap int dispatch first.
        role = role if isinstance(role, int) else role.value
        if role not in _HANDLED_ROLES or not index.isValid():
            return None
        r, c = index.row(), index.column()
        if role == _DISPLAY or role == _EDIT:
            return self._display(r, c)
        if role == _BACKGROUND or role == _FOREGROUND:
            if c != COL_STATUS or not self.status[r]:
                return None
            if role == _FOREGROUND:
                return _WHITE
            return _STATUS_BRUSHES[_STATUS_INDEX.get(self.status[r], 0)]
        if role == _TOOLTIP:
            if (c == COL_PRIORITY and not self.priority_editable) or \
                    (c == COL_CHECKPOINT and not self.checkpoint_editable) or \
                    (c in (COL_LOAD, COL_HITS, COL_MISSES) and self.hits[r] is None and self.load_s[r] is None) or \
                    (c == COL_STATUS and self.status[r] is None):
                return UNAVAILABLE_TIP
            if c == 1:
                return f"nodes {list(self.layers[r].nodes)}"
            return {COL_PLAN: PLAN_TIP, COL_COMPUTE: COMPUTE_TIP, COL_WAIT: WAIT_TIP}.get(c)
        if role == _ALIGN and c in (0, 3, COL_LOAD, COL_HITS, COL_MISSES, COL_COMPUTE, COL_WAIT):
            return _RIGHT
        return None

    def _display(self, r: int, c: int):
        layer = self.layers[r]
        if c == 0:
            return layer.index
        if c == 1:
            return layer.name
        if c == 2:
            return ", ".join(layer.op_types)
        if c == 3:
            return human_size(layer.weight_bytes) if layer.weight_bytes else "—"
        if c == COL_STATUS:
            return self.status[r] or "n/a"
        if c == COL_PRIORITY:
            return self.priority[r] or "n/a"
        if c == COL_CHECKPOINT:
            return self.checkpoint[r] or "n/a"
        if c == COL_LOAD:
            v = self.load_s[r]
            return "n/a" if v is None else (f"{v * 1e3:.1f} ms" if v else "—")
        if c == COL_HITS:
            return "n/a" if self.hits[r] is None else str(self.hits[r])
        if c == COL_MISSES:
            return "n/a" if self.misses[r] is None else str(self.misses[r])
        if c == COL_PLAN:
            return self.plan[r] or "—"
        if c in (COL_COMPUTE, COL_WAIT):
            v = (self.compute_s if c == COL_COMPUTE else self.wait_s)[r]
            return "n/a" if v is None else f"{v * 1e3:.2f} ms"
        return None

    def setData(self, index, value, role=Qt.EditRole):  # noqa: N802
        r, c = index.row(), index.column()
        if role != Qt.EditRole:
            return False
        if c == COL_PRIORITY and self.priority_editable and value in PRIORITIES:
            self.priority[r] = value
            self.dataChanged.emit(index, index)
            self.priorityEdited.emit(r, value)
            return True
        if c == COL_CHECKPOINT and self.checkpoint_editable and value in CHECKPOINT_STRATEGIES:
            self.checkpoint[r] = value
            self.dataChanged.emit(index, index)
            self.checkpointEdited.emit(r, value)
            return True
        return False


class ComboDelegate(QStyledItemDelegate):
    def __init__(self, choices, parent=None):
        super().__init__(parent)
        self.choices = choices

    def createEditor(self, parent, option, index):  # noqa: N802
        box = QComboBox(parent)
        box.addItems(self.choices)
        box.activated.connect(lambda _i, b=box: self.commitData.emit(b))
        return box

    def setEditorData(self, editor, index):  # noqa: N802
        value = index.data(Qt.EditRole)
        if value in self.choices:
            editor.setCurrentIndex(self.choices.index(value))

    def setModelData(self, editor, model, index):  # noqa: N802
        model.setData(index, editor.currentText(), Qt.EditRole)


class LayerTable(QTableView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.layer_model = LayerTableModel(self)
        self.setModel(self.layer_model)
        self.setItemDelegateForColumn(COL_PRIORITY, ComboDelegate(PRIORITIES, self))
        self.setItemDelegateForColumn(COL_CHECKPOINT, ComboDelegate(CHECKPOINT_STRATEGIES, self))
        self.setEditTriggers(QAbstractItemView.AllEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        # Sized once per model (ResizeToContents would re-measure every row on each live update).
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)

    def set_layers(self, layers, priority_editable: bool, checkpoint_editable: bool) -> None:
        self.layer_model.set_layers(layers, priority_editable, checkpoint_editable)
        self.resizeColumnsToContents()
        for col, width in ((1, 260), (2, 200)):
            self.setColumnWidth(col, min(max(self.columnWidth(col), 80), width))
        for col in range(4, len(COLUMNS)):
            self.setColumnWidth(col, max(self.columnWidth(col), 84))
