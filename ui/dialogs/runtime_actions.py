"""Dialogs for the lab's shape: add a runtime or a hyperty, restart (resume) or crash a runtime."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from ui.dialogs.base import ActionDialog, NotAvailable
from ui.dialogs.pickers import RuntimePicker
from ui.index import EngineIndex
from ui.restart_plan import Fate, restart_plan

DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
SYNCSCOPE, RETHINK = "SyncScope (hyperty-runtime://)", "reTHINK (runtime://)"


class AddRuntimeDialog(ActionDialog):
    title = "Add a runtime"
    run_label = "Add runtime"

    def __init__(self, index: EngineIndex, domain: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.domain = QComboBox()
        self.domain.setEditable(True)
        self.domain.addItems(list(index.lab.nodes))
        if domain:
            self.domain.setCurrentText(domain)
        self.form.addRow("Domain", self.domain)
        self.flavour = QComboBox()
        self.flavour.addItems([SYNCSCOPE, RETHINK])
        self.flavour.setToolTip("reTHINK: a runtime that speaks as reTHINK's own implementation does (INTEROP.md)")
        self.form.addRow("Flavour", self.flavour)

    def validate(self) -> str | None:
        domain = self.domain.currentText().strip()
        return None if DOMAIN.match(domain) else "a domain looks like a.example (lower case, at least one dot)"

    async def perform(self) -> str:
        domain = self.domain.currentText().strip()
        new = domain not in self.index.lab.nodes
        runtime = await self.index.lab.runtime(domain, rethink=self.flavour.currentText() == RETHINK)
        return f"200 ok: {runtime.url} opened its session{' at a new Message Node' if new else ''}"


class AddHypertyDialog(ActionDialog):
    title = "Add a hyperty"
    run_label = "Add hyperty"

    def __init__(self, index: EngineIndex, runtime: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.runtime = RuntimePicker(index, runtime)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. erin")
        self.form.addRow("Runtime", self.runtime)
        self.form.addRow("Name", self.name)

    def validate(self) -> str | None:
        runtime = self.index.runtime(self.runtime.url())
        if runtime is None:
            return "choose a runtime"
        name = self.name.text().strip()
        if not NAME.match(name):
            return "a name is 1 to 40 letters, digits, '.', '_' or '-'"
        return f"{runtime.url} already has a hyperty called {name}" if name in runtime.hyperties else None

    async def perform(self) -> str:
        runtime = self.index.runtime(self.runtime.url())
        assert runtime is not None
        hyperty = await runtime.hyperty(self.name.text().strip())
        return f"200 ok: allocated {hyperty.url}"


class RestartRuntimeDialog(ActionDialog):
    """Crash then resume with the same URL and storage (PROTOCOL §3.8). Before it runs, the dialog
    lists which objects will resume and which are not stored and will be lost (`ui.restart_plan`)."""

    title = "Restart a runtime (crash and resume)"
    run_label = "Restart"

    def __init__(self, index: EngineIndex, runtime: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index = index
        self.runtime = RuntimePicker(index, runtime)
        self.form.addRow("Runtime", self.runtime)
        self.plan: list[Fate] = []
        self.outlook = QLabel("")
        self.outlook.setWordWrap(True)
        self.outlook.setTextFormat(Qt.TextFormat.PlainText)
        self.form.addRow("After the restart", self.outlook)
        self.form.setRowVisible(self.outlook, self.is_restart)
        self.runtime.currentIndexChanged.connect(self._show_plan)
        self._show_plan()

    def _show_plan(self) -> None:
        runtime = self.index.runtime(self.runtime.url())
        self.plan = restart_plan(runtime) if runtime is not None and self.is_restart else []
        self.outlook.setText(plan_text(self.plan, self.index) if runtime is not None and self.is_restart else "")

    @property
    def is_restart(self) -> bool:
        return True

    def validate(self) -> str | None:
        return None if self.index.runtime(self.runtime.url()) is not None else "choose a runtime"

    async def perform(self) -> str:
        runtime = self.index.runtime(self.runtime.url())
        restart = getattr(runtime, "restart", None)
        if restart is None:
            raise NotAvailable("restart and resume (PROTOCOL §3.8) need the persistence engine")
        plan = restart_plan(runtime)
        await restart()
        after = {(h.name, url) for h in runtime.hyperties.values()
                 for url in (*h.syncher.reporters, *h.syncher.observers)}
        resumed = sum(1 for f in plan if f.resumes and (f.hyperty, f.url) in after)
        lost = len(plan) - resumed
        return (f"200 ok: {runtime.url} restarted; {resumed} object{'s' * (resumed != 1)} resumed, "
                f"{lost} lost")


def plan_text(plan: list[Fate], index: EngineIndex) -> str:
    if not plan:
        return "its hyperties hold no object: nothing to resume"
    lines = [f"{'✓' if fate.resumes else '✗'} {index.short(fate.url)} ({fate.hyperty}, {fate.role}): {fate.note}"
             for fate in plan]
    return "\n".join(lines)


class CrashRuntimeDialog(RestartRuntimeDialog):
    """Stop a runtime without resuming it: its sessions end, its peers see it go."""

    title = "Crash a runtime"
    run_label = "Crash"

    @property
    def is_restart(self) -> bool:
        return False

    async def perform(self) -> str:
        runtime = self.index.runtime(self.runtime.url())
        assert runtime is not None
        crash = getattr(runtime, "crash", None)
        await (crash() if crash is not None else runtime.close())
        return f"{runtime.url} is down; its node sessions are closed"
