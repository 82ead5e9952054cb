"""A message sequence chart: one lifeline per hyperty, runtime bus, Sync Manager and Message Node, one
arrow per hop of each message, top to bottom in order, each with its time since the flow began (in
the left gutter). Clicking an arrow selects the log row of that sighting."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.flow import Chart

LANE = 130
TOP = 46
STEP = 26
MARGIN = 20
#: Width of the gutter holding each hop's time.
GUTTER = 78


class SequenceChart(QWidget):
    messageClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.chart = Chart([], [])
        self.selected_row = -1
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(False)

    def set_chart(self, chart: Chart) -> None:
        self.chart = chart
        self.updateGeometry()
        self.adjustSize()
        self.update()

    def select_row(self, row: int) -> None:
        self.selected_row = row
        self.update()

    def sizeHint(self) -> QSize:
        lanes = max(1, len(self.chart.lifelines))
        return QSize(GUTTER + 2 * MARGIN + lanes * LANE, TOP + (len(self.chart.arrows) + 1) * STEP + MARGIN)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def _x(self, lifeline: str) -> float:
        ids = [lid for lid, _ in self.chart.lifelines]
        return GUTTER + MARGIN + LANE / 2 + ids.index(lifeline) * LANE

    def arrow_rect(self, number: int) -> QRectF:
        arrow = self.chart.arrows[number]
        x1, x2 = self._x(arrow.source), self._x(arrow.target)
        y = TOP + (number + 1) * STEP
        left, right = min(x1, x2), max(x1, x2)
        if left == right:
            right = left + 40
        return QRectF(left - 4, y - STEP / 2 + 2, right - left + 8, STEP - 4)

    def arrow_at(self, point: QPointF) -> int:
        for number in range(len(self.chart.arrows)):
            if self.arrow_rect(number).contains(point):
                return number
        return -1

    def mousePressEvent(self, event: QMouseEvent) -> None:
        number = self.arrow_at(event.position())
        if number >= 0:
            row = self.chart.arrows[number].row
            self.select_row(row)
            self.messageClicked.emit(row)
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        if not self.chart.arrows:
            painter.setPen(text)
            painter.drawText(self.rect().adjusted(MARGIN, MARGIN, 0, 0), Qt.AlignmentFlag.AlignLeft,
                             "Select a message in the log to draw its flow.")
            return
        metrics = QFontMetrics(self.font())
        bottom = TOP + (len(self.chart.arrows) + 1) * STEP
        for lifeline, label in self.chart.lifelines:
            x = self._x(lifeline)
            box = QRectF(x - LANE / 2 + 6, 8, LANE - 12, 26)
            painter.setPen(QPen(text, 1))
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(box, 4, 4)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, metrics.elidedText(label, Qt.TextElideMode.ElideMiddle,
                                                                                   int(box.width()) - 6))
            painter.setPen(QPen(QColor(150, 150, 150), 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(x, 34), QPointF(x, bottom))
        highlight = palette.color(QPalette.ColorRole.Highlight)
        for number, arrow in enumerate(self.chart.arrows):
            selected = arrow.row == self.selected_row
            if selected:
                band = QColor(highlight.red(), highlight.green(), highlight.blue(), 50)
                painter.fillRect(self.arrow_rect(number), band)
            colour = highlight if selected else (QColor(210, 60, 60) if _is_error(arrow.label) else text)
            painter.setPen(QPen(colour, 2 if selected else 1))
            painter.setBrush(colour)
            y = TOP + (number + 1) * STEP
            painter.setPen(QPen(text if not selected else highlight, 1))
            painter.drawText(QRectF(4, y - STEP / 2, GUTTER - 8, STEP), Qt.AlignmentFlag.AlignRight
                             | Qt.AlignmentFlag.AlignVCenter, f"+{arrow.delay * 1000:.2f} ms")
            painter.setPen(QPen(colour, 2 if selected else 1))
            x1, x2 = self._x(arrow.source), self._x(arrow.target)
            if x1 == x2:
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawPolyline(QPolygonF([QPointF(x1, y - 6), QPointF(x1 + 30, y - 6), QPointF(x1 + 30, y + 4),
                                                QPointF(x1 + 4, y + 4)]))
                painter.drawText(QPointF(x1 + 36, y), arrow.label)
                continue
            painter.drawLine(QPointF(x1, y), QPointF(x2, y))
            direction = 1 if x2 > x1 else -1
            head = QPolygonF([QPointF(x2, y), QPointF(x2 - 8 * direction, y - 4), QPointF(x2 - 8 * direction, y + 4)])
            painter.drawPolygon(head)
            label_width = metrics.horizontalAdvance(arrow.label)
            painter.drawText(QPointF((x1 + x2) / 2 - label_width / 2, y - 4), arrow.label)
        painter.end()


def _is_error(label: str) -> bool:
    words = label.split(" · ", 1)
    code = words[0].rsplit(" ", 1)[-1]
    return (code.isdigit() and int(code) >= 300) or (len(words) > 1 and not words[1].startswith("local"))
