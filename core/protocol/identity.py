"""`body.identity` (PROTOCOL §2.2): the user behind a hyperty."""

from __future__ import annotations

from typing import Any


def user_of(identity: Any) -> str:
    """`identity.userProfile.userURL`, or the identity itself when it is a string ('' if neither)."""
    if isinstance(identity, str):
        return identity
    if isinstance(identity, dict):
        profile = identity.get("userProfile")
        if isinstance(profile, dict) and isinstance(profile.get("userURL"), str):
            return str(profile["userURL"])
    return ""
