"""A stress run: create N objects (with progress, cancellable), then update them M times a second
until stopped."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QProgressBar, QSpinBox, QWidget

from ui import workload
from ui.dialogs.base import ActionDialog
from ui.dialogs.pickers import HypertyPicker
from ui.index import EngineIndex


class StressDialog(ActionDialog):
    title = "Stress run"
    run_label = "Start"

    def __init__(self, index: EngineIndex, objects: int = 1_000, rate: int = 500,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.reporter = HypertyPicker(index)
        self.observer = HypertyPicker(index)
        self.reporter.currentIndexChanged.connect(self._other_observer)
        self._other_observer()
        self.with_observer = QCheckBox("each object also has this observer")
        self.with_observer.setChecked(True)
        self.objects = QSpinBox()
        self.objects.setRange(1, 100_000)
        self.objects.setValue(objects)
        self.rate = QSpinBox()
        self.rate.setRange(0, 100_000)
        self.rate.setSuffix(" updates/s")
        self.rate.setValue(rate)
        self.progress = QProgressBar()
        self.form.addRow("Reporter", self.reporter)
        self.form.addRow("Observer", self.observer)
        self.form.addRow("", self.with_observer)
        self.form.addRow("Objects", self.objects)
        self.form.addRow("Updates", self.rate)
        self.form.addRow("Progress", self.progress)
        self.created: list[Any] = []
        self.updates = 0

    def _other_observer(self, *_: object) -> None:
        """The observer defaults to a hyperty other than the reporter (the same one is refused)."""
        if self.observer.url() == self.reporter.url():
            others = [i for i in range(self.observer.count()) if self.observer.itemData(i) != self.reporter.url()]
            if others:
                self.observer.setCurrentIndex(others[0])

    def validate(self) -> str | None:
        if not self.reporter.url():
            return "choose the reporter"
        if self.with_observer.isChecked() and self.observer.url() == self.reporter.url():
            return "the observer must be another hyperty"
        return None

    async def perform(self) -> str:
        reporter = self.index.hyperty(self.reporter.url())
        observers = [self.index.hyperty(self.observer.url())] if self.with_observer.isChecked() else []
        total = self.objects.value()
        self.progress.setRange(0, total)
        self.run_button.setText("Running…")
        try:
            self.created = await workload.create_objects(reporter, total, [o for o in observers if o is not None],
                                                         progress=self.progress.setValue)
            self.show_answer(f"{len(self.created)} objects created; updating {self.rate.value()} times a second "
                             "(Close stops the run)")
            self.progress.setRange(0, 0)

            def ticked(done: int) -> None:
                self.updates = done

            await workload.update_objects(self.created, self.rate.value(), on_tick=ticked)
        finally:
            self.run_button.setText(self.run_label)
        return f"{len(self.created)} objects, {self.updates} updates"
