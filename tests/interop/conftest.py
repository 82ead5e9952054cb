"""reTHINK-shaped peers over real WebSocket nodes (INTEROP.md); the `net` fixture of tests/net."""

from __future__ import annotations

from tests.net.conftest import net  # noqa: F401  (fixtures re-exported for tests/interop)
from tests.net.test_cli import processes  # noqa: F401
