"""Schema descriptors by schema URL, from `resources/schemas` (PROTOCOL §1.2 step 1)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from core.protocol.schema import Descriptor, DescriptorError, parse_descriptor

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "resources" / "schemas"


@lru_cache(maxsize=1)
def _bundled() -> dict[str, Descriptor]:
    found = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        descriptor = parse_descriptor(orjson.loads(path.read_bytes()))
        found[path.stem] = descriptor
    return found


def schema_name(schema: str) -> str:
    """The descriptor name a schema URL ends with (`…/.well-known/dataschema/<name>`)."""
    return schema.rstrip("/").rsplit("/", 1)[-1]


class Catalogue:
    """Resolves schema URLs to descriptors: the bundled ones plus any registered by a test or app."""

    def __init__(self) -> None:
        self._extra: dict[str, Descriptor] = {}

    def register(self, name: str, raw: dict[str, Any]) -> Descriptor:
        descriptor = parse_descriptor(raw)
        self._extra[name] = descriptor
        return descriptor

    def names(self) -> list[str]:
        return sorted({*_bundled(), *self._extra})

    def resolve(self, schema: str) -> Descriptor:
        name = schema_name(schema)
        descriptor = self._extra.get(name) or _bundled().get(name)
        if descriptor is None:
            raise DescriptorError(f"unknown schema {schema}")
        return descriptor
