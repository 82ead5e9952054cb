"""NATS subjects and JetStream key-value names of one clustered domain (issue 15).

Addresses, runtime URLs and tokens are peer-supplied strings with characters NATS does not allow in
a subject token or a key (`.`, `*`, `>`, `:`), so each is named by a digest of it; the string itself
travels in the message or the stored value. Pure functions: no I/O.
"""

from __future__ import annotations

import hashlib
import re

#: Root of every subject SyncScope publishes on.
ROOT = "syncscope"
#: Hex digits of SHA-256 kept in a subject token or key: 128 bits, no collision in practice.
DIGITS = 32

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:DIGITS]


def domain_token(domain: str) -> str:
    """A domain as one subject token and bucket-name part: readable where it can be, unique always."""
    readable = _UNSAFE.sub("_", domain)[:40]
    return f"{readable}-{digest(domain)[:8]}"


class Names:
    """The subjects and buckets of `domain`."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.token = domain_token(domain)
        base = f"{ROOT}.{self.token}"
        self.base = base
        self.trace = f"{base}.trace"          # every node's trace events, for domain-scope monitors
        self.members = f"{base}.members"      # membership announcements (join, leave)

    def runtime(self, runtime_url: str) -> str:
        """Messages for the live session of `runtime_url`, wherever it is."""
        return f"{self.base}.rt.{digest(runtime_url)}"

    def address(self, address: str) -> str:
        """Messages for the node subscriptions of `address` (one copy per node with interest)."""
        return f"{self.base}.ad.{digest(address)}"

    def node(self, node_id: str) -> str:
        return f"{self.base}.node.{node_id}"

    def bucket(self, what: str) -> str:
        """JetStream key-value bucket `what` (owners, tokens, fences, bound, registry, members)."""
        return f"syncscope_{self.token}_{what}"
