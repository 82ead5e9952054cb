"""Address GUIDs come from a pool read off the system's random source (issue 16): each is a valid
version-4 UUID in hex, as `uuid.uuid4().hex` gives, none is given twice, and a forked process
never hands out what its parent will."""

from __future__ import annotations

import os
import uuid

from core.node.allocation import _POOL_BYTES, guids


def test_guids_are_version_4_uuids_never_given_twice_across_pool_refills() -> None:
    given = [g for n in (1, 3, _POOL_BYTES // 16, 1, 1000) for g in guids(n)]
    assert len(given) == len(set(given)) == 1005 + _POOL_BYTES // 16
    for g in given:
        parsed = uuid.UUID(hex=g)
        assert parsed.hex == g and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_process_does_not_share_its_parents_pool() -> None:
    guids(1)                                   # the pool holds bytes the parent has not given yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                               # the child: its next three, then gone
        os.write(write, "".join(guids(3)).encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 1024).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 96 and child != "".join(guids(3))
