"""Fault injection: drop, duplicate, delay, reorder on every link or on one link; active fault
sets are listed and can be removed."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ui.dialogs.base import ActionDialog
from ui.index import EngineIndex

#: Fault sets opened from the console, with a description, so they can be listed and closed.
ACTIVE: list[tuple[str, Any]] = []


def percent_box(value: float = 0.0) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 100.0)
    box.setSuffix(" %")
    box.setValue(value)
    return box


def ms_box(value: int = 0) -> QSpinBox:
    box = QSpinBox()
    box.setRange(0, 60_000)
    box.setSuffix(" ms")
    box.setValue(value)
    return box


class FaultsDialog(ActionDialog):
    title = "Link faults"
    run_label = "Add faults"

    def __init__(self, index: EngineIndex, link: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.scope = QComboBox()
        self.scope.addItem("every link (present and future)", None)
        for candidate in index.lab.links:
            if candidate.state != "down":
                self.scope.addItem(candidate.name, candidate)
                if candidate is link:
                    self.scope.setCurrentIndex(self.scope.count() - 1)
        self.drop = percent_box()
        self.duplicate = percent_box()
        self.delay_min, self.delay_max = ms_box(), ms_box()
        delays = QHBoxLayout()
        delays.addWidget(self.delay_min)
        delays.addWidget(self.delay_max)
        delay_row = QWidget()
        delay_row.setLayout(delays)
        self.reorder = QCheckBox("reorder")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.active = QListWidget()
        self.active.setMaximumHeight(100)
        self.remove_button = QPushButton("Remove selected fault set")
        self.remove_button.clicked.connect(self.remove_selected)
        self.form.addRow("Links", self.scope)
        self.form.addRow("Drop", self.drop)
        self.form.addRow("Duplicate", self.duplicate)
        self.form.addRow("Delay min / max", delay_row)
        self.form.addRow("", self.reorder)
        self.form.addRow("Seed", self.seed)
        self.form.addRow("Active", self.active)
        self.form.addRow("", self.remove_button)
        self._list()

    def _list(self) -> None:
        self.active.clear()
        for text, handle in ACTIVE:
            item = QListWidgetItem(text)
            item.setData(256, id(handle))
            self.active.addItem(item)

    def validate(self) -> str | None:
        if self.delay_max.value() < self.delay_min.value():
            return "the longest delay must not be shorter than the shortest"
        nothing = not (self.drop.value() or self.duplicate.value() or self.delay_max.value()
                       or self.reorder.isChecked())
        return "choose at least one fault" if nothing else None

    async def perform(self) -> str:
        low, high = self.delay_min.value() / 1000, self.delay_max.value() / 1000
        delay: float | tuple[float, float] = low if low == high else (low, high)
        kwargs = {"drop": self.drop.value() / 100, "duplicate": self.duplicate.value() / 100, "delay": delay,
                  "reorder": self.reorder.isChecked(), "seed": self.seed.value()}
        link = self.scope.currentData()
        handle = self.index.lab.faults(**kwargs) if link is None else self.index.lab.link_faults(link, **kwargs)
        parts = [f"drop {self.drop.value():g}%" if self.drop.value() else "",
                 f"duplicate {self.duplicate.value():g}%" if self.duplicate.value() else "",
                 f"delay {self.delay_min.value()}–{self.delay_max.value()} ms" if high else "",
                 "reorder" if self.reorder.isChecked() else ""]
        text = f"{self.scope.currentText()}: {', '.join(p for p in parts if p)}"
        ACTIVE.append((text, handle))
        self._list()
        return f"faults on: {text}"

    def remove_selected(self) -> None:
        item = self.active.currentItem()
        if item is None:
            return
        for entry in list(ACTIVE):
            if id(entry[1]) == item.data(256):
                entry[1].close()
                ACTIVE.remove(entry)
                self.show_answer(f"faults removed: {entry[0]}")
        self._list()
