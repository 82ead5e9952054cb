"""Schema descriptors (PROTOCOL §1.2 step 1): the object URL scheme and the children names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    if not isinstance(scheme, str) or not scheme.isascii() or not scheme or "/" in scheme or ":" in scheme:
        raise DescriptorError(f"bad scheme {scheme!r}")
    children: Any = props.get("childrens")
    if children is None:
        children = _constant(props.get("children", []))
    children = _constant(children)
    if not isinstance(children, list) or not all(isinstance(c, str) and c and "/" not in c for c in children):
        raise DescriptorError("children names must be a list of strings")
    name = raw.get("name", scheme)
    return Descriptor(str(name), scheme, tuple(children), raw)
