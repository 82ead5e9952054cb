"""The node connections the user gives the console (File → Connect to node): a name, a Message Node's
URL and its monitor token, checked before use, and kept between runs in the console's settings."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from PySide6.QtCore import QSettings

SETTINGS_KEY = "remote/connections"


@dataclass(frozen=True)
class NodeConnection:
    """What the user gives to watch a node: a name for it, its URL and its monitor token."""

    name: str
    url: str
    token: str
    autoconnect: bool = False
    #: The domain's home secret (`syncscope node --home-secret-file`), if the user has it: checked
    #: by the node at the monitor's open (403 "wrong home secret"), kept with the token.
    secret: str = ""


def url_problem(url: str) -> str | None:
    """Why `url` cannot be a Message Node's address (TRANSPORT §1: ws://host:port/ or wss://), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("ws", "wss"):
        return "a node's URL starts with ws:// or wss:// (e.g. ws://127.0.0.1:9000/)"
    if not parts.hostname:
        return "the URL names no host"
    if port == 0:
        return "port 0 is not a port a node listens on"
    return None


def default_name(url: str) -> str:
    """host:port of a node's URL: the name a connection gets when the user gives none."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "wss" else 80)
    return f"{parts.hostname}:{port}"


def saved_connections(settings: QSettings | None) -> list[NodeConnection]:
    """The node connections saved in `settings` (File → Connect to node), in the order saved."""
    if settings is None:
        return []
    found = []
    count = settings.beginReadArray(SETTINGS_KEY)
    for i in range(count):
        settings.setArrayIndex(i)
        name = str(settings.value("name", "") or "")
        url = str(settings.value("url", "") or "")
        if name and url:
            found.append(NodeConnection(name, url, str(settings.value("token", "") or ""),
                                        _flag(settings.value("autoconnect", False)),
                                        str(settings.value("secret", "") or "")))
    settings.endArray()
    return found


def write_connections(settings: QSettings | None, connections: list[NodeConnection]) -> None:
    """Keep `connections` in `settings` (in place of those kept before), written to disk now."""
    if settings is None:
        return
    settings.remove(SETTINGS_KEY)
    settings.beginWriteArray(SETTINGS_KEY, len(connections))
    for i, connection in enumerate(connections):
        settings.setArrayIndex(i)
        settings.setValue("name", connection.name)
        settings.setValue("url", connection.url)
        settings.setValue("token", connection.token)
        settings.setValue("autoconnect", connection.autoconnect)
        settings.setValue("secret", connection.secret)
    settings.endArray()
    settings.sync()


def _flag(value: object) -> bool:
    """A QSettings boolean: INI files give it back as text."""
    return value is True or str(value).lower() in ("true", "1")
