"""Combo boxes of what the lab holds: hyperties, runtimes, objects, replicas."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QListWidget, QListWidgetItem

from ui.index import EngineIndex, Replica


def hyperty_label(hyperty: Any) -> str:
    runtime = hyperty.runtime
    return f"{hyperty.name} · {runtime.url.rsplit('/', 1)[-1]} · {runtime.domain}"


class HypertyPicker(QComboBox):
    def __init__(self, index: EngineIndex, selected: str = "", exclude: str = "") -> None:
        super().__init__()
        self.index = index
        self.offer(selected, {exclude})

    def offer(self, selected: str = "", exclude: set[str] | frozenset[str] = frozenset()) -> None:
        """List the lab's hyperties but `exclude`, choosing `selected` when listed (else the first)."""
        self.blockSignals(True)
        self.clear()
        for hyperty in self.index.all_hyperties():
            if hyperty.url not in exclude:
                self.addItem(hyperty_label(hyperty), hyperty.url)
        self.blockSignals(False)
        self.select(selected)
        self.currentIndexChanged.emit(self.currentIndex())

    def select(self, url: str) -> None:
        position = self.findData(url)
        if position >= 0:
            self.setCurrentIndex(position)

    def url(self) -> str:
        return str(self.currentData() or "")


class RuntimePicker(QComboBox):
    def __init__(self, index: EngineIndex, selected: str = "") -> None:
        super().__init__()
        for runtime in index.lab.runtimes:
            self.addItem(f"{runtime.url.rsplit('/', 1)[-1]} · {runtime.domain}", runtime.url)
        position = self.findData(selected)
        if position >= 0:
            self.setCurrentIndex(position)

    def url(self) -> str:
        return str(self.currentData() or "")


class ObjectPicker(QComboBox):
    """Object URLs the lab knows (reporters only with `reporters_only`); editable for any URL."""

    def __init__(self, index: EngineIndex, selected: str = "", reporters_only: bool = False,
                 editable: bool = False) -> None:
        super().__init__()
        self.setEditable(editable)
        urls = index.reporter_urls() if reporters_only else index.object_urls()
        for url in urls:
            rep = index.reporter(url)
            name = rep.obj.metadata.get("name", "") if rep is not None else ""
            self.addItem(f"{index.short(url)}  {name}".strip(), url)
        position = self.findData(selected)
        if position >= 0:
            self.setCurrentIndex(position)
        elif editable and selected:
            self.setEditText(selected)

    def url(self) -> str:
        if self.isEditable():
            text = self.currentText().strip()
            data = self.currentData()
            if data and self.itemText(self.currentIndex()) == text:
                return str(data)
            return text
        return str(self.currentData() or "")


class ReplicaPicker(QComboBox):
    """Replicas: (object, hyperty) pairs, reporters and/or observers."""

    def __init__(self, index: EngineIndex, selected_object: str = "", observers: bool = True,
                 reporters: bool = True) -> None:
        super().__init__()
        self.replicas: list[Replica] = []
        for url in index.object_urls():
            for rep in index.replicas(url):
                if rep.passive:
                    continue  # a live node's replica is only watched
                if (rep.is_reporter and reporters) or (not rep.is_reporter and observers):
                    self.replicas.append(rep)
                    self.addItem(f"{index.short(url)} · {rep.label}", len(self.replicas) - 1)
        for position, rep in enumerate(self.replicas):
            if rep.url == selected_object:
                self.setCurrentIndex(position)
                break

    def replica(self) -> Replica | None:
        position = self.currentIndex()
        return self.replicas[position] if 0 <= position < len(self.replicas) else None


class HypertyChecklist(QListWidget):
    def __init__(self, index: EngineIndex, exclude: str = "") -> None:
        super().__init__()
        for hyperty in index.all_hyperties():
            if hyperty.url == exclude:
                continue
            item = QListWidgetItem(hyperty_label(hyperty))
            item.setData(Qt.ItemDataRole.UserRole, hyperty.url)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        self.setMaximumHeight(110)

    def checked(self) -> list[str]:
        return [str(self.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.count())
                if self.item(i).checkState() == Qt.CheckState.Checked]

    def check(self, urls: list[str]) -> None:
        for i in range(self.count()):
            item = self.item(i)
            if item.data(Qt.ItemDataRole.UserRole) in urls:
                item.setCheckState(Qt.CheckState.Checked)
