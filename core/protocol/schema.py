"""Schema descriptors (PROTOCOL §1.2 step 1): the object URL scheme and the children names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.protocol.address import RESERVED_SCHEMES

#: RFC 3986 §3.1 scheme syntax: the scheme becomes the ObjectURL's `<scheme>://` (PROTOCOL §1.1).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


class DescriptorError(Exception):
    """A descriptor that cannot be read (answered 500 with the reason, PROTOCOL §3.1 step 2)."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    name: str
    scheme: str
    children: tuple[str, ...]
    raw: dict[str, Any]


def _constant(value: Any) -> Any:
    if isinstance(value, dict) and "constant" in value:
        return value["constant"]
    return value


def parse_descriptor(raw: Any) -> Descriptor:
    """Read `sourcePackage.sourceCode.properties`: `scheme` as string or `{constant}`, children as
    `childrens` (list) or `children.constant` (PROTOCOL §7 #2: both forms accepted)."""
    if not isinstance(raw, dict):
        raise DescriptorError("descriptor is not an object")
    try:
        props = raw["sourcePackage"]["sourceCode"]["properties"]
    except (KeyError, TypeError) as exc:
        raise DescriptorError("descriptor has no sourcePackage.sourceCode.properties") from exc
    if not isinstance(props, dict):
        raise DescriptorError("descriptor properties are not an object")
    scheme = _constant(props.get("scheme", "resource"))
    # A reserved scheme (`hyperty`, `domain`, …) would mint URLs that no component takes for an ObjectURL.
    if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme) or scheme in RESERVED_SCHEMES:
        raise DescriptorError(f"bad scheme {scheme!r}")
    children: Any = props.get("childrens")
    if children is None:
        children = _constant(props.get("children", []))
    children = _constant(children)
    if not isinstance(children, list) or not all(isinstance(c, str) and c and "/" not in c for c in children):
        raise DescriptorError("children names must be a list of strings")
    name = raw.get("name", scheme)
    # One channel per name (PROTOCOL §1.1 `O/children/<name>`): a repeated name would double the listeners.
    return Descriptor(str(name), scheme, tuple(dict.fromkeys(children)), raw)
