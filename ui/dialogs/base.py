"""The action dialog: inputs, a Run button, and the protocol's answer or error in words."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QShowEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from core import SyncError

#: PROTOCOL §2.4 codes in words.
REASONS = {
    100: "in progress", 200: "ok", 400: "bad request", 401: "unauthorized", 403: "forbidden",
    404: "not found", 408: "no answer in time", 409: "conflict", 413: "message too large",
    429: "limit reached", 500: "internal error", 503: "object in delegation",
}


class NotAvailable(Exception):
    """An operation this build of the engine does not offer yet."""


def in_words(code: int, description: str = "") -> str:
    reason = REASONS.get(code, "error" if code >= 300 else "ok")
    if description and description.lower() != reason.lower():
        return f"{code} {reason}: {description}"
    return f"{code} {reason}"


def describe(exc: BaseException) -> str:
    """An exception as a sentence (protocol errors with their code), never a traceback."""
    if isinstance(exc, SyncError):
        return in_words(exc.code, exc.description)
    if isinstance(exc, NotAvailable):
        return f"not available in this build: {exc}"
    if isinstance(exc, KeyError):
        return f"no such path: {exc.args[0] if exc.args else ''}"
    return f"{type(exc).__name__}: {exc}"


def json_problem(text: str, want_object: bool = True) -> tuple[Any, str | None, int]:
    """(value, problem, character offset of the problem) of a JSON text."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"line {exc.lineno}, column {exc.colno}: {exc.msg}", exc.pos
    if want_object and not isinstance(value, dict):
        return None, "the data must be a JSON object ({…})", 0
    return value, None, -1


class JsonEdit(QPlainTextEdit):
    """A JSON text box that points at its syntax error."""

    def __init__(self, text: str = "{}", want_object: bool = True) -> None:
        super().__init__(text)
        self.want_object = want_object
        self.setTabChangesFocus(True)
        self.setMinimumHeight(90)

    def value(self) -> tuple[Any, str | None]:
        value, problem, offset = json_problem(self.toPlainText(), self.want_object)
        self._mark(offset if problem else -1)
        return value, problem

    def _mark(self, offset: int) -> None:
        if offset < 0:
            self.setExtraSelections([])
            return
        cursor = self.textCursor()
        cursor.setPosition(min(offset, len(self.toPlainText())))
        cursor.movePosition(QTextCursor.MoveOperation.Right, QTextCursor.MoveMode.KeepAnchor)
        selection = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(230, 70, 70, 120))
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        selection.format = fmt  # type: ignore[attr-defined]
        selection.cursor = cursor  # type: ignore[attr-defined]
        self.setExtraSelections([selection])
        self.setTextCursor(cursor)


class ActionDialog(QDialog):
    """Subclasses add fields to `form`, and implement `validate()` and `perform()`."""

    succeeded = Signal(str)
    title = "Action"
    run_label = "Run"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.title)
        self.setMinimumWidth(480)
        self.form = QFormLayout()
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.run_button = QPushButton(self.run_label)
        self.run_button.setDefault(True)
        self.buttons.addButton(self.run_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.run_button.clicked.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.answer)
        layout.addWidget(self.buttons)
        self.task: asyncio.Task[None] | None = None
        self._watching = False
        self.ok: bool | None = None
        self.answer_text = ""

    def validate(self) -> str | None:
        """Why the input cannot be run, or None."""
        return None

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._watching:
            self._watching = True
            for box in self.findChildren(QComboBox):
                box.currentIndexChanged.connect(self.check_input)
                box.editTextChanged.connect(self.check_input)
            for edit in (*self.findChildren(QLineEdit), *self.findChildren(QPlainTextEdit)):
                edit.textChanged.connect(self.check_input)
            for button in self.findChildren(QCheckBox):
                button.toggled.connect(self.check_input)
            for spin in self.findChildren(QSpinBox):
                spin.valueChanged.connect(self.check_input)
        self.check_input()

    def check_input(self, *_: object) -> None:
        """Run is enabled only for input that can run; otherwise its tooltip says why."""
        if self.task is not None and not self.task.done():
            return
        problem = self.validate()
        self.run_button.setEnabled(problem is None)
        self.run_button.setToolTip(problem or "")

    async def perform(self) -> str:
        """Run the operation; return the answer in words (raise SyncError on a refusal)."""
        raise NotImplementedError

    def show_answer(self, text: str, error: bool = False) -> None:
        self.answer_text = text
        self.answer.setText(text)
        self.answer.setStyleSheet("color: #d04040;" if error else "")

    def submit(self) -> asyncio.Task[None] | None:
        """Validate and start the operation; returns its task (None when the input is invalid)."""
        if self.task is not None and not self.task.done():
            return self.task
        problem = self.validate()
        if problem is not None:
            self.ok = False
            self.show_answer(problem, error=True)
            return None
        self.ok = None
        self.run_button.setEnabled(False)
        self.show_answer("waiting for the protocol's answer…")
        self.task = asyncio.ensure_future(self._run())
        return self.task

    async def _run(self) -> None:
        try:
            text = await self.perform()
        except asyncio.CancelledError:
            self.ok = False
            self.show_answer("cancelled", error=True)
            raise
        except Exception as exc:  # shown in words: the console never shows a traceback
            self.ok = False
            self.show_answer(describe(exc), error=True)
        else:
            self.ok = True
            self.show_answer(text)
            self.succeeded.emit(text)
        finally:
            self.run_button.setEnabled(True)
            self.check_input()

    def reject(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
        super().reject()
