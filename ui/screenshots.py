"""Screenshots of the console's main views (docs/*.png), rendered from a running demo lab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel

from core.schemas import COMM_SCHEMA
from ui.main_window import MainWindow
from ui.models.log_row import SENDER, TYPE


def save_window(window: MainWindow, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    return path


def _save(widget: Any, path: Path) -> Path:
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    return path


async def save_views(window: MainWindow, demo: Any, folder: Path) -> list[Path]:
    """One PNG per main view: the window, topology, tree, side by side (diverged), history,
    subscriptions, routing, message log, sequence chart of one subscribe."""
    folder.mkdir(parents=True, exist_ok=True)
    lab = demo.lab
    saved = [save_window(window, folder / "console.png")]
    saved.append(_save(window.topology_dock, folder / "console-topology.png"))
    objects = window.objects_dock
    window.select_object(demo.chat.url)
    objects.tabs.setCurrentIndex(0)
    window.flush()
    saved.append(_save(objects, folder / "console-objects.png"))

    # A diverged replica: carol's runtime is cut off while the chat changes.
    carol = demo.observers[-1]
    lab.partition(carol.runtime)
    for _ in range(5):
        demo.edit_chat()
    await lab.settle()
    window.flush()
    objects.choose(objects.left_box, demo.reporter.url)
    objects.choose(objects.right_box, carol.url)
    objects.tabs.setCurrentIndex(1)
    window.flush()
    saved.append(_save(objects, folder / "console-side-by-side.png"))
    lab.heal(carol.runtime)

    objects.tabs.setCurrentIndex(2)
    window.flush()
    rows = objects.history_model.rowCount()
    if rows >= 2:
        selection = objects.versions.selectionModel()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        selection.select(objects.history_model.index(max(0, rows - 6), 0), flags)
        selection.select(objects.history_model.index(rows - 1, 0), flags)
        objects.versions.scrollTo(objects.history_model.index(rows - 1, 0))
    saved.append(_save(objects, folder / "console-history.png"))
    objects.tabs.setCurrentIndex(0)

    saved.append(_save(window.subscriptions_dock, folder / "console-subscriptions.png"))
    window.routing_dock.filter.setText(demo.chat.url + "*")
    saved.append(_save(window.routing_dock, folder / "console-routing.png"))
    window.routing_dock.filter.setText("")

    # One subscribe, start to end, for the sequence chart.
    erin = await carol.runtime.hyperty("erin")
    messages = window.messages_dock
    await erin.syncher.subscribe(demo.chat.url, COMM_SCHEMA)
    await lab.settle()
    window.flush()
    rows_ = messages.model.rows
    seed = next(i for i in range(len(rows_) - 1, -1, -1)
                if rows_[i][TYPE] == "subscribe" and rows_[i][SENDER] == erin.url)
    messages.select_source_row(seed)
    messages.draw_flow(seed)
    saved.append(_save(messages, folder / "console-messages.png"))
    messages.tabs.setCurrentIndex(1)
    saved.append(_save(messages, folder / "console-sequence.png"))
    messages.tabs.setCurrentIndex(0)
    return saved
