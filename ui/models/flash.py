"""A row that just changed flashes: the models answer its background with FLASH_BRUSH while the time
the row names (an object's last change, a message's time) is under FLASH_SECONDS old. Nothing is
stored per row, and the check is one subtraction in the background role the models answer anyway
(a delegate doing it cost a third more per repaint: `python -m bench.console_paint`). The log stops
flashing under heavy traffic, when every row would."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor

#: How long a changed row stays highlighted.
FLASH_SECONDS = 0.8
#: The JSON tree's flash colour, a little lighter.
FLASH_BRUSH = QBrush(QColor(250, 215, 90, 150))
