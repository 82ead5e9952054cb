"""Column headers for models whose columns are a list of titles, with a tooltip per column that says
what the column holds (not its title again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt

#: Each table's columns (as its model lists them) → what each column means.
HEADER_TIPS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("URL", "Name", "Schema", "Reporter", "Version", "Observers", "Children", "Last change", "State", "Behind"): (
        "The object's ObjectURL (full URL in the cell's tooltip)",
        "The name given at create (metadata `name`)",
        "The data schema it was created with (Communication, Context…)",
        "The hyperty that reports it: the only one whose edits become updates",
        "The reporter's version: each update adds one",
        "Accepted subscriptions at the reporter",
        "Children kept by the reporter, all collections together",
        "Time since the reporter's version last changed",
        "The reporter's object state: live; delegating or standby during a delegation (PROTOCOL §4)",
        "Observer replicas behind the reporter's version or not live (orange when any)",
    ),
    ("Object", "Observer", "Runtime", "State", "Version", "Lag"): (
        "The observed object",
        "The hyperty that subscribed",
        "The observer's runtime",
        "pending (asked, no answer yet) · live · stale (a gap: an update is missing) · resyncing (reading "
        "the reporter again) · revoked · unsubscribed",
        "The version this replica holds",
        "Versions behind the reporter (0: up to date)",
    ),
    ("Where", "Kind", "Address", "Owner / sessions"): (
        "The runtime bus or Message Node that holds the entry",
        "L listener · FWD forward into a hyperty · PUB publish to the node · SB sandbox listener · "
        "MNS the runtime's subscription at the node · owner: the node's address allocation (Help → Legend)",
        "The address it listens on (`*` wildcards in the filter above)",
        "Who handles it (a listener's owner) or, at a node, the runtimes subscribed",
    ),
    ("Name", "State", "Details"): (
        "Domain, Message Node, runtime, hyperty or link",
        "Link state: ● up · ◐ faulty (faults set) · ○ partitioned · × down",
        "Counts: runtimes, sessions, subscriptions, hyperties, links, frames sent",
    ),
    ("Node / session", "State", "Details"): (
        "A live node watched through its monitor (File → Connect to node), and its sessions",
        "Whether the monitor connection is live, connecting or down",
        "What the node reports: sessions, subscriptions, owned addresses, events received",
    ),
    ("Version", "Time", "JSON Patch"): (
        "The object's version after the update",
        "When the update was seen",
        "The update's operations (full JSON Patch in the tooltip; select one version, or two for a diff)",
    ),
    ("Time", "Where", "Dir", "Type", "From", "To", "Id", "Code", "Size"): (
        "When the message was seen (local clock, milliseconds)",
        "The runtime bus or Message Node that saw it",
        "in: arrived there · out: sent from there · drop: refused or lost · local: made there (a timeout)",
        "The message type (PROTOCOL §2)",
        "The sender's address, named short (full address in the cell's tooltip)",
        "The recipient's address, named short",
        "The sender's message id: a response carries its request's id",
        "A response's code (PROTOCOL §2.4): 1xx in progress, 200 ok, 4xx/5xx refused",
        "The envelope's size as JSON",
    ),
}


def column_header(columns: Sequence[str], section: int, orientation: Qt.Orientation, role: int) -> Any:
    """`headerData` of a model with `columns` as horizontal titles and no vertical header."""
    if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(columns):
        return None
    if role == Qt.ItemDataRole.DisplayRole:
        return columns[section]
    if role == Qt.ItemDataRole.ToolTipRole:
        tips = HEADER_TIPS.get(tuple(columns))
        return tips[section] if tips is not None else None
    return None
