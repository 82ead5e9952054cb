"""The message log dock: a filter expression, follow and pause, clear, export and import (JSON Lines),
the pretty-printed envelope of the selected message, and the sequence chart of its flow."""

from __future__ import annotations

from pathlib import Path

import orjson
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
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
from ui.models import filter_expression
from ui.models.filter_expression import FilterError
from ui.models.log_row import event_of, identity
from ui.models.message_filter import MessageFilter
from ui.models.message_log import LogImportError, MessageFilterProxy, MessageLogModel
from ui.widgets.flash import fade_flashes
from ui.widgets.sequence_chart import SequenceChart

#: The widest value of each log column, to size it (From and To: an object's sub-address, named short).
WIDEST = ("00:00:00.000", "node a.example", "drop", "unsubscribe", "comm://a.example/3f2a…/subscription",
          "comm://a.example/3f2a…/subscription", "00000", "000", "00000 B")
FILTER_HELP = (filter_expression.__doc__ or "").strip()


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

        self.expression = QLineEdit()
        self.expression.setPlaceholderText("filter (Ctrl+F): type != update and code >= 400 · type in (subscribe, "
                                           "forward) · address = comm://a.example/3f* · node = rt1 · words")
        self.expression.setClearButtonEnabled(True)
        self.expression.setToolTip(FILTER_HELP)
        self.expression.textChanged.connect(self.apply_filter)
        self.filter_problem = QLabel("")
        self.filter_problem.setStyleSheet("color: #d04040;")
        self.flow_button = QToolButton()
        self.flow_button.setText("Only this flow")
        self.flow_button.setCheckable(True)
        self.flow_button.setEnabled(False)
        self.flow_button.setToolTip("Show only the rows of the flow drawn in Sequence: every hop of the selected "
                                    "message, of its answers and of the requests it caused")
        self.flow_button.toggled.connect(self.apply_filter)
        self.flow: frozenset[Identity] | None = None
        self.follow_button = QToolButton()
        self.follow_button.setText("Follow")
        self.follow_button.setCheckable(True)
        self.follow_button.setChecked(True)
        self.follow_button.setToolTip("Keep the newest row in view. Scrolling up or clicking a row stops following.")
        self.follow_button.toggled.connect(self.set_following)
        self.newest_button = QToolButton()
        self.newest_button.setText("⤓ Newest")
        self.newest_button.setToolTip("Jump to the newest row and follow again")
        self.newest_button.clicked.connect(self.jump_to_newest)
        self.unseen = 0   # rows that arrived below the view since following stopped
        self.pause_button = QToolButton()
        self.pause_button.setText("❚❚ Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Hold new rows back (nothing is lost) until Resume")
        self.pause_button.toggled.connect(self.set_paused)
        live.pausedChanged.connect(self._counts)
        live.heldChanged.connect(self._counts)
        clear = QPushButton("Clear")
        clear.setToolTip("Forget every row of the log")
        clear.clicked.connect(lambda: self.model.clear())
        export = QPushButton("⤓ Export…")
        export.setToolTip("Write the rows the filter shows as JSON Lines")
        export.clicked.connect(self._export_clicked)
        load = QPushButton("Import…")
        load.setToolTip("Browse a JSON Lines log written by Export")
        load.clicked.connect(self._import_clicked)
        self.live_button = QPushButton("Back to live")
        self.live_button.clicked.connect(self.back_to_live)
        self.live_button.hide()
        self.source_label = QLabel("live")

        self.view = table_view()
        # The proxy's signals drive the flashes, column sizes and following whichever model the view
        # shows: with no filter and no sort it shows the log's model itself (see `_show_rows`).
        self.view.setModel(self.proxy)
        live.shadingChanged.connect(self.view.viewport().update)
        metrics = self.view.fontMetrics()
        for column, sample in enumerate(WIDEST):
            self.view.setColumnWidth(column, metrics.horizontalAdvance(sample) + 18)
        self.view.horizontalHeader().setStretchLastSection(False)
        self.view.horizontalHeader().sortIndicatorChanged.connect(self._sorted)
        self.fade = fade_flashes(self.view)  # new rows flash (ui.models.flash)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._row_menu)
        self.view.verticalScrollBar().actionTriggered.connect(self._scrolled_by_user)
        self.view.pressed.connect(lambda _index: self.set_following(False))
        self.proxy.rowsInserted.connect(self._rows_arrived)
        self._show_rows()
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
        bar.addWidget(self.expression, 1)
        for widget in (self.filter_problem, self.flow_button, self.follow_button, self.newest_button,
                       self.pause_button, clear, export, load, self.live_button, self.source_label):
            bar.addWidget(widget)
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.setObjectName("messages-split")
        self.split.addWidget(self.tabs)
        self.split.addWidget(self.detail)
        self.split.setSizes([900, 320])
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.split, 1)
        self.setWidget(body)

    # filters, follow and pause ---------------------------------------------------------------------

    def current_filter(self) -> MessageFilter:
        """The filter the expression and the flow button ask for (raises FilterError)."""
        flow = self.flow if self.flow_button.isChecked() else None
        return MessageFilter(self.expression.text(), flow, self.index.namer)

    def apply_filter(self) -> None:
        try:
            chosen = self.current_filter()
        except FilterError as exc:  # the rows stay as they were until the expression reads
            self.filter_problem.setText(str(exc))
            self.expression.setStyleSheet("QLineEdit { border: 1px solid #d04040; }")
            return
        self.filter_problem.setText("")
        self.expression.setStyleSheet("")
        self.proxy.set_filter(chosen)
        self._show_rows()
        if self.follow_button.isChecked():
            self._to_end.start()

    def focus_filter(self) -> None:
        self.tabs.setCurrentIndex(0)
        self.expression.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.expression.selectAll()

    def set_paused(self, paused: bool) -> None:
        self.live.set_paused(paused)
        self.pause_button.setChecked(paused)
        self._counts()

    def set_following(self, on: bool) -> None:
        """Follow the newest row (on), or leave the view where it is and count what arrives (off)."""
        if self.follow_button.isChecked() != on:
            self.follow_button.setChecked(on)  # comes back here through `toggled`
            return
        if on:
            self.unseen = 0
            self._to_end.start()
        self._counts()

    def jump_to_newest(self) -> None:
        if self.live.paused:
            self.set_paused(False)
        self.model.catch_up()
        self.set_following(True)
        self.view.scrollToBottom()

    def _scrolled_by_user(self, _action: int) -> None:
        bar = self.view.verticalScrollBar()
        # the action moves the bar after this signal: look once it has
        QTimer.singleShot(0, lambda: self.set_following(False) if bar.value() < bar.maximum() else None)

    def _rows_arrived(self, _parent: QModelIndex, first: int, last: int) -> None:
        if self.follow_button.isChecked():
            self._to_end.start()  # after the view's own (deferred) layout of the rows: one repaint shows both
        else:
            self.unseen += last - first + 1
            self._counts()

    def _counts(self) -> None:
        held = len(self.live.held)
        self.pause_button.setText(f"▶ Resume ({held:,} held)" if self.live.paused else "❚❚ Pause")
        self.newest_button.setText(f"⤓ Newest ({self.unseen:,} new)" if self.unseen else "⤓ Newest")

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
        self._show_rows(force=True)
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
        row = self.source_row(current)
        if self.view.hasFocus():
            self.set_following(False)  # the user moves in the log: it stays where they are
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

    def _row_menu(self, point: QPoint) -> None:
        index = self.view.indexAt(point)
        if not index.isValid():
            return
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        menu = QMenu(self.view)
        menu.addAction("Show its journey (Sequence)", lambda: self.tabs.setCurrentIndex(1))
        menu.addAction("Filter the log to this flow", lambda: self.filter_to_flow(True))
        menu.exec(self.view.viewport().mapToGlobal(point))

    def filter_to_flow(self, on: bool = True) -> None:
        """Show only the rows of the flow drawn in Sequence (off: every row the other filters let through)."""
        self.flow_button.setChecked(on and self.flow is not None)

    def select_source_row(self, row: int) -> None:
        index = self.view_index(row)
        if index.isValid():
            self.set_following(False)
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

    # which model the view shows ---------------------------------------------------------------------

    def _show_rows(self, force: bool = False) -> None:
        """Show the log's model itself when nothing is filtered or sorted, else the filter proxy. Through
        the proxy every painted cell costs a second call into Python (its source index): some 40% more
        per repaint of the followed log, which under heavy traffic repaints twice a second."""
        sorted_by = self.view.horizontalHeader().sortIndicatorSection()
        wanted = self.proxy if not self.proxy.filter.empty or 0 <= sorted_by < self.proxy.columnCount() \
            else self.model
        if wanted is self.view.model() and not force:
            return
        current = self.view.currentIndex()
        row = self.source_row(current) if current.isValid() else -1
        old = self.view.selectionModel()
        self.view.setModel(wanted)          # the header keeps its widths and sort indicator (same columns)
        if old is not None:
            old.deleteLater()
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        if row >= 0:   # the same message stays selected, if the view still shows it
            index = self.view_index(row)
            if index.isValid():
                self._keep_chart = True
                try:
                    self.view.selectionModel().setCurrentIndex(
                        index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                        | QItemSelectionModel.SelectionFlag.Rows)
                finally:
                    self._keep_chart = False
                if not self.follow_button.isChecked():
                    self.view.scrollTo(index)

    def _sorted(self, column: int, order: Qt.SortOrder) -> None:
        """A header was clicked: rows are sorted by the proxy (the log's model keeps arrival order)."""
        self._show_rows()
        if self.view.model() is self.proxy:
            self.proxy.sort(column, order)

    def source_row(self, index: QModelIndex) -> int:
        """The log row of `index`, an index of the model the view shows."""
        return (self.proxy.mapToSource(index) if index.model() is self.proxy else index).row()

    def view_index(self, row: int) -> QModelIndex:
        """The index of the log's row `row` in the model the view shows (invalid when filtered out)."""
        index = self.model.index(row, 0)
        return self.proxy.mapFromSource(index) if self.view.model() is self.proxy else index
