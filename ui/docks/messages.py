"""The message log dock: filters, pause, clear, export and import (JSON Lines), the pretty-printed
envelope of the selected message, and the sequence chart of its flow."""

from __future__ import annotations

from pathlib import Path

import orjson
from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.docks.tables import table_view
from ui.flow import Identity, Lifelines, build_chart
from ui.index import EngineIndex
from ui.models.log_row import event_of, identity
from ui.models.message_filter import MessageFilter
from ui.models.message_log import LogImportError, MessageFilterProxy, MessageLogModel
from ui.widgets.sequence_chart import SequenceChart

TYPES = ("create", "read", "update", "delete", "subscribe", "unsubscribe", "response", "forward", "execute")


class MessagesDock(QDockWidget):
    message = Signal(str)

    def __init__(self, live: MessageLogModel, index: EngineIndex, parent: QWidget | None = None) -> None:
        super().__init__("Messages", parent)
        self.setObjectName("messages")
        self.live = live
        self.index = index
        self.model = live
        self.proxy = MessageFilterProxy()
        self.proxy.setSourceModel(live)
        self.lifelines = Lifelines(index.namer, self._reporter_of)
        self._keep_chart = False

        self.type_box = QComboBox()
        self.type_box.addItem("all types", "")
        for name in TYPES:
            self.type_box.addItem(name, name)
        self.address = QLineEdit()
        self.address.setPlaceholderText("address, * wildcards")
        self.text = QLineEdit()
        self.text.setPlaceholderText("text")
        for edit in (self.address, self.text):
            edit.setClearButtonEnabled(True)
            edit.textChanged.connect(self.apply_filter)
        self.type_box.currentIndexChanged.connect(self.apply_filter)
        self.pause_button = QToolButton()
        self.pause_button.setText("❚❚ Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self.set_paused)
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: self.model.clear())
        export = QPushButton("⤓ Export…")
        export.clicked.connect(self._export_clicked)
        load = QPushButton("Import…")
        load.clicked.connect(self._import_clicked)
        self.flow_button = QToolButton()
        self.flow_button.setText("Only this flow")
        self.flow_button.setCheckable(True)
        self.flow_button.setEnabled(False)
        self.flow_button.setToolTip("Show only the rows of the flow drawn in Sequence: every hop of the selected "
                                    "message, of its answers and of the requests it caused")
        self.flow_button.toggled.connect(self.apply_filter)
        self.flow: frozenset[Identity] | None = None
        self.live_button = QPushButton("Back to live")
        self.live_button.clicked.connect(self.back_to_live)
        self.live_button.hide()
        self.source_label = QLabel("live")

        self.view = table_view()
        self.view.setModel(self.proxy)
        live.shadingChanged.connect(self.view.viewport().update)
        for column, width in enumerate((95, 80, 36, 72, 150, 190, 64, 42)):
            self.view.setColumnWidth(column, width)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.proxy.rowsInserted.connect(self._follow)
        self._to_end = QTimer(self)
        self._to_end.setSingleShot(True)
        self._to_end.setInterval(0)
        self._to_end.timeout.connect(self.view.scrollToBottom)
        self.chart = SequenceChart()
        self.chart.messageClicked.connect(self.select_source_row)
        scroll = QScrollArea()
        scroll.setWidget(self.chart)
        scroll.setWidgetResizable(True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.view, "Log")
        self.tabs.addTab(scroll, "Sequence")
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setPlaceholderText("The selected message's envelope and where it went.")

        bar = QHBoxLayout()
        for widget in (QLabel("type:"), self.type_box, QLabel("address:"), self.address, QLabel("text:"), self.text,
                       self.flow_button, self.pause_button, clear, export, load, self.live_button, self.source_label):
            bar.addWidget(widget)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.tabs)
        split.addWidget(self.detail)
        split.setSizes([900, 320])
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self.setWidget(body)

    # filters and pause -----------------------------------------------------------------------------

    def current_filter(self) -> MessageFilter:
        chosen = self.type_box.currentData()
        flow = self.flow if self.flow_button.isChecked() else None
        return MessageFilter(frozenset([chosen]) if chosen else frozenset(), self.address.text(), self.text.text(),
                             flow)

    def apply_filter(self) -> None:
        self.proxy.set_filter(self.current_filter())

    def set_paused(self, paused: bool) -> None:
        self.live.set_paused(paused)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("▶ Resume" if paused else "❚❚ Pause")

    def _follow(self) -> None:
        """Keep showing the newest rows while the log is scrolled to its end and nothing is selected.
        The scroll waits for the view's own (deferred) layout of the new rows, so one repaint shows both."""
        bar = self.view.verticalScrollBar()
        if bar.value() >= bar.maximum() - 30 and not self.view.selectionModel().hasSelection():
            self._to_end.start()

    # export / import -------------------------------------------------------------------------------

    def export_to(self, path: str | Path) -> int:
        """Write the rows the log shows (filters applied) as JSON Lines; returns how many."""
        self.live.catch_up()
        count = MessageLogModel.export_rows(self.proxy.log_rows(), path)
        self.message.emit(f"exported {count} messages to {path}")
        return count

    def import_from(self, path: str | Path) -> MessageLogModel:
        model = MessageLogModel.import_file(path, self.index.namer)
        self._show_model(model)
        self.source_label.setText(f"imported: {Path(path).name} ({len(model.rows)} messages)")
        self.live_button.show()
        return model

    def back_to_live(self) -> None:
        self._show_model(self.live)
        self.source_label.setText("live")
        self.live_button.hide()

    def _show_model(self, model: MessageLogModel) -> None:
        self.model = model
        self.flow_button.setChecked(False)
        self.proxy.setSourceModel(model)
        self.chart.set_chart(build_chart([], 0, self.lifelines))
        self.flow = None
        self.flow_button.setEnabled(False)

    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export messages", "messages.jsonl", "JSON Lines (*.jsonl)")
        if path:
            self.export_to(path)

    def _import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import messages", "", "JSON Lines (*.jsonl);;All files (*)")
        if path:
            try:
                self.import_from(path)
            except (OSError, LogImportError) as exc:
                self.message.emit(f"import failed: {exc}")

    # selection, detail and chart -------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        row = self.proxy.mapToSource(current).row()
        self.show_detail(row)
        if self._keep_chart or self.flow_button.isChecked():
            self.chart.select_row(row)  # browsing the flow on show: the chart stays
        else:
            self.draw_flow(row)

    def show_detail(self, row: int) -> None:
        event = event_of(self.model.rows[row])
        meta = {k: v for k, v in event.to_dict().items() if k != "message"}
        self.detail.setPlainText(orjson.dumps(event.message, option=orjson.OPT_INDENT_2).decode()
                                 + "\n\n" + orjson.dumps(meta, option=orjson.OPT_INDENT_2).decode())

    def draw_flow(self, row: int) -> None:
        """Draw the journey of the message of log row `row` (every hop of its flow) in Sequence."""
        chart = build_chart(self.model.rows, row, self.lifelines)
        self.chart.set_chart(chart)
        self.chart.select_row(row)
        rows = self.model.rows
        self.flow = frozenset(identity(rows[a.row]) for a in chart.arrows) or None
        self.flow_button.setEnabled(self.flow is not None)

    def filter_to_flow(self, on: bool = True) -> None:
        """Show only the rows of the flow drawn in Sequence (off: every row the other filters let through)."""
        self.flow_button.setChecked(on and self.flow is not None)

    def select_source_row(self, row: int) -> None:
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            self._keep_chart = True  # the chart stays on its flow while its arrows are browsed
            try:
                self.view.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
            finally:
                self._keep_chart = False
            self.view.scrollTo(index)
        self.chart.select_row(row)
        self.show_detail(row)

    def _reporter_of(self, obj: str) -> tuple[str, str] | None:
        rep = self.index.reporter(obj)
        return (rep.hyperty.url, rep.hyperty.runtime.url) if rep is not None else None
