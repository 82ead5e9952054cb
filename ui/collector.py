"""Short pauses of Python's cyclic garbage collector on a large, long-lived heap.

A full (generation 2) collection walks every object the collector tracks, whatever its age. With
2,000 data objects the engine alone holds some 300,000 (listeners, handles, replicas), so a full
collection stops the shared loop for 150–250 ms (measured), and CPython starts one each time the
old generation has grown by a quarter: during a stress run, every few seconds.

`CollectorPacing` moves what survived a full collection out of the collector's way
(`gc.freeze()`): the next full collections walk only what was kept since, tens of milliseconds.
Objects that die later are still freed by reference counting as usual; only a reference cycle
among frozen objects would wait, so every `thaw_every` seconds the frozen objects go back to the
old generation (`gc.unfreeze()`) and the next full collection, a long one, looks at them all.
"""

from __future__ import annotations

import gc
from typing import Any

from PySide6.QtCore import QObject, QTimer

#: How often the pacing looks whether a full collection happened (and freezes its survivors).
CHECK_MS = 500
#: How often frozen objects are handed back to the collector, in seconds.
THAW_EVERY = 600.0


class CollectorPacing(QObject):
    """Freezes the survivors of each full collection; thaws them every `thaw_every` seconds."""

    def __init__(self, thaw_every: float = THAW_EVERY, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.full_collections = 0
        self.freezes = 0
        self._full_since_check = False
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_MS)
        self._timer.timeout.connect(self.check)
        self._thaw = QTimer(self)
        self._thaw.setInterval(int(thaw_every * 1000))
        self._thaw.timeout.connect(gc.unfreeze)
        gc.callbacks.append(self._collected)
        self._timer.start()
        self._thaw.start()

    def _collected(self, phase: str, info: dict[str, Any]) -> None:
        # Called by the collector itself: only note it (freezing waits for the next check).
        if phase == "stop" and info.get("generation") == 2:
            self.full_collections += 1
            self._full_since_check = True

    def check(self) -> None:
        """Freeze what survived the full collections since the last check."""
        if self._full_since_check:
            self._full_since_check = False
            gc.collect(1)  # young garbage goes now rather than being frozen
            gc.freeze()
            self.freezes += 1

    def stop(self) -> None:
        self._timer.stop()
        self._thaw.stop()
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        gc.unfreeze()
