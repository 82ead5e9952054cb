"""URL shapes and routing helpers of PROTOCOL §1.1, §1.4 step 5 and §1.5."""

from __future__ import annotations

import pytest

from core.protocol import address as addr

OBJ = "comm://a.example/5b1e-77"


@pytest.mark.parametrize(("to", "domain"), [
    ("domain://msg-node.a.example/sm", "a.example"),
    ("domain://msg-node.a.example/object-address-allocation", "a.example"),
    ("domain://msg-node.a.example/hyperty-address-allocation", "a.example"),
    ("domain://msg-node.b.example", "b.example"),
    ("domain://registry.c.example", "c.example"),
    ("domain://registry.c.example/x", "c.example"),
    (OBJ, "a.example"),
    (OBJ + "/subscription", "a.example"),
    (OBJ + "/changes", "a.example"),
    (OBJ + "/children/messages", "a.example"),
    ("context://ctx.example:8080/g", "ctx.example:8080"),
    ("hyperty://d.example/alice-1", "d.example"),
    ("hyperty-runtime://e.example/rt1", "e.example"),
    ("hyperty-runtime://e.example/rt1/sm", "e.example"),
    ("hyperty-catalogue://catalogue.f.example/.well-known/dataschema/Comm", "catalogue.f.example"),
    ("mn:/session", ""),
    ("no-scheme", ""),
])
def test_route_domain(to: str, domain: str) -> None:
    assert addr.route_domain(to) == domain


def test_component_addresses() -> None:
    assert addr.mn_sm("a.example") == "domain://msg-node.a.example/sm"
    assert addr.object_allocation("a.example") == "domain://msg-node.a.example/object-address-allocation"
    assert addr.hyperty_allocation("a.example") == "domain://msg-node.a.example/hyperty-address-allocation"
    assert addr.registry("a.example") == "domain://registry.a.example"
    assert addr.runtime_url("a.example", "rt1") == "hyperty-runtime://a.example/rt1"
    assert addr.sm_of("hyperty-runtime://a.example/rt1") == "hyperty-runtime://a.example/rt1/sm"
    assert addr.allocation_of("hyperty-runtime://a.example/rt1") == "hyperty-runtime://a.example/rt1/address-allocation"
    assert addr.subscription(OBJ) == OBJ + "/subscription"
    assert addr.changes(OBJ) == OBJ + "/changes"
    assert addr.children(OBJ, "messages") == OBJ + "/children/messages"
    assert addr.schema_url("a.example", "Communication") == \
        "hyperty-catalogue://catalogue.a.example/.well-known/dataschema/Communication"


def test_scheme_and_authority() -> None:
    assert addr.scheme_of(OBJ) == "comm"
    assert addr.scheme_of("mn:/session") == ""
    assert addr.authority(OBJ + "/changes") == "a.example"
    assert addr.authority("domain://registry.a.example") == "registry.a.example"
    assert addr.authority("plain") == ""


@pytest.mark.parametrize(("address", "obj"), [
    (OBJ, OBJ),
    (OBJ + "/subscription", OBJ),
    (OBJ + "/changes", OBJ),
    (OBJ + "/children/messages", OBJ),
    (OBJ + "/registration", OBJ),
    ("comm://a.example", ""),
    ("comm://a.example/", ""),
    ("comm:///x", ""),
    ("mn:/session", ""),
    ("", ""),
])
def test_object_of(address: str, obj: str) -> None:
    assert addr.object_of(address) == obj


@pytest.mark.parametrize(("address", "name"), [
    (OBJ + "/children/messages", "messages"),
    (OBJ + "/children/", ""),
    (OBJ + "/children", ""),
    (OBJ + "/changes", ""),
    (OBJ, ""),
    (OBJ + "/children/a/b", ""),
    ("mn:/session", ""),
])
def test_child_name(address: str, name: str) -> None:
    assert addr.child_name(address) == name


@pytest.mark.parametrize(("url", "expected"), [
    (OBJ, True),
    ("connection://b.example/guid", True),
    ("context://c.example/g", True),
    ("resource://c.example/g", True),
    (OBJ + "/changes", False),
    (OBJ + "/children/messages", False),
    ("comm://a.example", False),
    ("comm://a.example/", False),
    ("comm:///guid", False),
    ("://a.example/guid", False),
    ("hyperty://a.example/alice", False),
    ("hyperty-runtime://a.example/rt1", False),
    ("domain://registry.a.example/x", False),
    ("user://idp.example/alice", False),
    ("hyperty-catalogue://catalogue.a.example/x", False),
    ("mn:/session", False),
    ("guid", False),
])
def test_is_object_url(url: str, expected: bool) -> None:
    assert addr.is_object_url(url) is expected


@pytest.mark.parametrize(("url", "runtime"), [
    ("hyperty-runtime://a.example/rt1", "hyperty-runtime://a.example/rt1"),
    ("hyperty-runtime://a.example/rt1/sm", "hyperty-runtime://a.example/rt1"),
    ("hyperty-runtime://a.example/rt1/address-allocation", "hyperty-runtime://a.example/rt1"),
    ("hyperty-runtime://a.example/rt1/sm/x", "hyperty-runtime://a.example/rt1"),
    ("hyperty-runtime://a.example", ""),
    ("hyperty-runtime://a.example/", ""),
    ("hyperty-runtime:///rt1", ""),
    ("hyperty://a.example/alice", ""),
    (OBJ, ""),
])
def test_runtime_of(url: str, runtime: str) -> None:
    assert addr.runtime_of(url) == runtime


def test_is_runtime_address() -> None:
    assert addr.is_runtime_address("hyperty-runtime://a.example/rt1/sm") is True
    assert addr.is_runtime_address("hyperty://a.example/rt1") is False


@pytest.mark.parametrize(("url", "expected"), [
    ("hyperty://a.example/alice", True),
    ("hyperty://a.example/3f2a-11", True),
    ("hyperty://a.example/", False),
    ("hyperty://a.example", False),
    ("hyperty:///alice", False),
    ("hyperty://a.example/alice/x", False),
    ("hyperty-runtime://a.example/rt1", False),
    ("comm://a.example/alice", False),
])
def test_is_hyperty(url: str, expected: bool) -> None:
    assert addr.is_hyperty(url) is expected
