"""The optional home-session secret of a node (TRANSPORT §2, ours): with one set, a session of the
node's own domain (a home session, which may allocate and own addresses) opens only by presenting
it in its `open` body (`"secret"`); visiting sessions need nothing and still cannot allocate."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

#: Bytes of a secret file read (a secret is a line of text; anything longer is not one).
MAX_SECRET = 4096


def read_secret(path: str | Path) -> str:
    """The secret in `path`: its text without surrounding whitespace (ValueError if none or too long)."""
    data = Path(path).read_bytes()[:MAX_SECRET + 1]
    if len(data) > MAX_SECRET:
        raise ValueError(f"{path}: a secret file holds at most {MAX_SECRET} bytes")
    text = data.decode("utf-8", errors="strict").strip()
    if not text:
        raise ValueError(f"{path}: the secret file is empty")
    return text


def home_refusal(secret: str | None, body: dict[str, Any]) -> tuple[int, str] | None:
    """Why a home `open` with this body is refused (403), or None; None too when no secret is set."""
    if secret is None:
        return None
    given = body.get("secret")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), secret.encode()):
        return 403, "home sessions need the domain secret"
    return None
