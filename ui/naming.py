"""Short, readable names for protocol addresses (the full URL stays in tooltips and the detail pane)."""

from __future__ import annotations

MN_PREFIX = "domain://msg-node."
REGISTRY_PREFIX = "domain://registry."
RUNTIME_PREFIX = "hyperty-runtime://"
#: A runtime of reTHINK's own implementation (INTEROP.md): shown as such wherever it appears.
RETHINK_PREFIX = "runtime://"
RUNTIME_PREFIXES = (RUNTIME_PREFIX, RETHINK_PREFIX)
HYPERTY_PREFIX = "hyperty://"
RETHINK_LABEL = "reTHINK"


def is_rethink(address: str) -> bool:
    """An address of a reTHINK runtime (its runtime URL or one under it)."""
    return address.startswith(RETHINK_PREFIX)


def runtime_label(url: str) -> str:
    """A runtime URL as a view names it: its id, `reTHINK <id>` for a reTHINK runtime."""
    ident = url.rstrip("/").rsplit("/", 1)[-1]
    return f"{RETHINK_LABEL} {short_id(ident, 8)}" if is_rethink(url) else ident


def counted(count: int, one: str, many: str = "") -> str:
    """`1 hyperty`, `2 hyperties`: a count with its noun in the right number."""
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def short_id(ident: str, keep: int = 6) -> str:
    return ident if len(ident) <= keep + 1 else ident[:keep] + "…"


#: Addresses whose object is remembered: every trace event asks, and the same few thousand
#: addresses come back again and again.
OBJECTS_KEPT = 16_384
_objects: dict[str, str] = {}


def object_of(address: str) -> str:
    """The ObjectURL an address belongs to (`O`, `O/subscription`, `O/changes`, `O/children/n`), or ''."""
    found = _objects.get(address)
    if found is None:
        if len(_objects) >= OBJECTS_KEPT:
            _objects.clear()
        found = _objects[address] = _object_of(address)
    return found


def _object_of(address: str) -> str:
    scheme, sep, rest = address.partition("://")
    if not sep or scheme in ("hyperty", "hyperty-runtime", "runtime", "domain", "user", "hyperty-catalogue"):
        return ""
    parts = rest.split("/")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return ""
    return f"{scheme}://{parts[0]}/{parts[1]}"


def runtime_of(address: str) -> str:
    if not address.startswith(RUNTIME_PREFIXES):
        return ""
    parts = address.split("/")
    return "/".join(parts[:4]) if len(parts) >= 4 else ""


#: Short names remembered (a view repaints the same few addresses over and over).
NAMES_KEPT = 4_096


class Namer:
    """Turns URLs into names: hyperties by their name, runtimes by their id, objects by a short guid."""

    def __init__(self) -> None:
        self.hyperties: dict[str, str] = {}
        self._names: dict[str, str] = {}

    def name_hyperty(self, url: str, name: str | None) -> None:
        """Call hyperty `url` `name` from now on (None: by its short id again)."""
        if self.hyperties.get(url) != name:
            if name is None:
                self.hyperties.pop(url, None)
            else:
                self.hyperties[url] = name
            self._names.clear()

    def short(self, address: str) -> str:
        name = self._names.get(address)
        if name is None:
            if len(self._names) >= NAMES_KEPT:
                self._names.clear()
            name = self._names[address] = self._short(address)
        return name

    def _short(self, address: str) -> str:
        if not address:
            return ""
        if address.startswith(HYPERTY_PREFIX):
            base, _, child = address.partition("#")
            name = self.hyperties.get(base)
            if name is None:
                name = short_id(base.rsplit("/", 1)[-1])
            return f"{name}#{child}" if child else name
        if address.startswith(RUNTIME_PREFIX):
            parts = address[len(RUNTIME_PREFIX):].split("/")
            rest = "/".join(parts[2:])
            return f"{parts[1] if len(parts) > 1 else parts[0]}{'/' + rest if rest else ''}"
        if address.startswith(RETHINK_PREFIX):
            parts = address[len(RETHINK_PREFIX):].split("/")
            rest = "/".join(parts[2:])
            return f"{runtime_label(RETHINK_PREFIX + '/'.join(parts[:2]))}{'/' + rest if rest else ''}"
        if address.startswith(MN_PREFIX):
            domain, _, rest = address[len(MN_PREFIX):].partition("/")
            return f"node {domain}{'/' + rest if rest else ''}"
        if address.startswith(REGISTRY_PREFIX):
            return f"registry {address[len(REGISTRY_PREFIX):]}"
        obj = object_of(address)
        if obj:
            scheme, _, rest = obj.partition("://")
            domain, _, guid = rest.partition("/")
            return f"{scheme}://{domain}/{short_id(guid, 4)}{address[len(obj):]}"
        return address
