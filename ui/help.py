"""The Help menu: keyboard shortcuts, a legend of listener kinds and states, and About."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

#: Keys of the window that are not actions (the actions list their own).
WINDOW_KEYS = (
    ("Ctrl+F", "Filter the message log (type != update and code >= 400 …)"),
    ("Ctrl+L", "Filter the objects table"),
    ("Ctrl+K", "Connect to a live node"),
    ("Ctrl+Q", "Quit"),
    ("F1", "This list"),
)

#: (kind, meaning) of the Routing view's entries (GLOSSARY; PROTOCOL §1).
LISTENERS = (
    ("L", "listener: a component's own address on a runtime bus (its Sync Manager, a reporter's store)"),
    ("FWD", "forward: a message for the address is also delivered, unchanged, into a hyperty's sandbox"),
    ("PUB", "publish: a message for the address that started in this runtime also goes to the Message "
            "Node (one per runtime and address, reference-counted)"),
    ("SB", "sandbox listener: a Syncher object's handler on the hyperty's own bus"),
    ("MNS", "the runtime's subscription of the address at the Message Node (one per runtime and address)"),
    ("owner", "the Message Node's allocation: which runtime owns the address (moves on delegation)"),
)

STATES = (
    ("Links (Topology)", (("● up", "connected, no faults"), ("◐ faulty", "connected with faults set (loss, "
                          "delay, duplication…)"), ("○ partitioned", "everything dropped both ways until healed"),
                         ("× down", "closed: crashed, restarted or gone"))),
    ("Subscriptions", (("pending", "asked, not answered yet"), ("live", "receiving updates"),
                       ("stale", "an update is missing: the replica waits, then reads the reporter again"),
                       ("resyncing", "reading the reporter's value again"),
                       ("revoked", "the reporter ended it"), ("unsubscribed", "the observer ended it"),
                       ("deleted", "the object was deleted"), ("refused", "the reporter said no"))),
    ("Objects", (("live", "takes requests"), ("delegating", "the reporter is handing the role over (PROTOCOL "
                                                          "§4)"),
                 ("standby", "the candidate holds the object until the commit"))),
    ("Messages", (("in", "arrived at the runtime or node in Where"), ("out", "sent from there"),
                  ("drop", "refused or lost there (red)"), ("local", "made there, e.g. a timeout's 408"))),
    ("Live nodes", (("● live", "the node's monitor feed is connected"), ("connecting", "opening the feed"),
                    ("down", "the feed is closed; it retries"))),
)


def _table(rows: Iterable[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td><b>{escape(a)}</b></td><td>{escape(b)}</td></tr>" for a, b in rows)
    return f"<table cellspacing=4>{cells}</table>"


def shortcuts_html(actions: Iterable[tuple[str, str]]) -> str:
    """Every key of the console: the actions' (name, key) pairs, then the window's own keys."""
    listed = [(key, name.rstrip("…")) for name, key in actions if key]
    return ("<h3>Actions</h3>" + _table(listed) + "<h3>Window</h3>" + _table(WINDOW_KEYS)
            + "<p>Right-click a table header to choose its columns; right-click the topology for runtime "
              "actions.</p>")


def legend_html() -> str:
    parts = ["<h3>Listener kinds (Routing)</h3>", _table(LISTENERS)]
    for title, rows in STATES:
        parts += [f"<h3>{escape(title)}</h3>", _table(rows)]
    return "".join(parts)


ABOUT_HTML = ("<h3>SyncScope</h3><p>A lab and console for the reTHINK P2P Data Sync protocol: reporters, "
              "observers, Message Nodes and the messages between them, live.</p>"
              "<p>docs/CONSOLE.md describes every view; docs/DECISIONS.md what the protocol left open.</p>")


class HelpDialog(QDialog):
    def __init__(self, title: str, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(620, 520)
        self.text = QTextBrowser()
        self.text.setHtml(html)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
