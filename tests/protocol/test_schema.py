"""Schema descriptors (PROTOCOL §1.2 step 1, §7 #2): scheme and children names."""

from __future__ import annotations

from typing import Any

import pytest

from core.protocol.schema import Descriptor, DescriptorError, parse_descriptor


def descriptor(props: Any, **top: Any) -> dict[str, Any]:
    return {**top, "sourcePackage": {"sourceCode": {"properties": props}}}


def test_string_scheme_and_childrens_list() -> None:
    raw = descriptor({"scheme": "comm", "childrens": ["messages", "files"]}, name="Communication")
    assert parse_descriptor(raw) == Descriptor("Communication", "comm", ("messages", "files"), raw)


def test_constant_scheme_and_children_constant() -> None:
    raw = descriptor({"scheme": {"constant": "context"}, "children": {"constant": ["values"]}}, name="Context")
    d = parse_descriptor(raw)
    assert (d.name, d.scheme, d.children) == ("Context", "context", ("values",))


def test_childrens_as_constant_is_accepted() -> None:
    d = parse_descriptor(descriptor({"scheme": "connection", "childrens": {"constant": ["peers"]}}))
    assert d.children == ("peers",)


def test_childrens_wins_over_children() -> None:
    d = parse_descriptor(descriptor({"scheme": "comm", "childrens": ["a"], "children": {"constant": ["b"]}}))
    assert d.children == ("a",)


def test_defaults_scheme_resource_no_children_name_from_scheme() -> None:
    d = parse_descriptor(descriptor({}))
    assert (d.name, d.scheme, d.children) == ("resource", "resource", ())


def test_children_plain_list_under_children() -> None:
    assert parse_descriptor(descriptor({"children": ["x", "y"]})).children == ("x", "y")


def test_duplicate_children_names_collapse() -> None:
    assert parse_descriptor(descriptor({"childrens": ["m", "f", "m"]})).children == ("m", "f")


@pytest.mark.parametrize("scheme", ["comm", "ctxt", "a+b", "x.y-z", "S3"])
def test_good_schemes(scheme: str) -> None:
    assert parse_descriptor(descriptor({"scheme": scheme})).scheme == scheme


@pytest.mark.parametrize("raw", [None, [], "descriptor", 5])
def test_non_object_descriptor(raw: Any) -> None:
    with pytest.raises(DescriptorError, match="descriptor is not an object"):
        parse_descriptor(raw)


@pytest.mark.parametrize("raw", [{}, {"sourcePackage": {}}, {"sourcePackage": "x"},
                                 {"sourcePackage": {"sourceCode": None}}, {"sourcePackage": {"sourceCode": {}}},
                                 {"sourcePackage": ["sourceCode"]}])
def test_missing_properties(raw: Any) -> None:
    with pytest.raises(DescriptorError, match=r"no sourcePackage\.sourceCode\.properties"):
        parse_descriptor(raw)


@pytest.mark.parametrize("props", [[], "props", None, 3])
def test_properties_not_an_object(props: Any) -> None:
    with pytest.raises(DescriptorError, match="properties are not an object"):
        parse_descriptor(descriptor(props))


@pytest.mark.parametrize("scheme", ["", "a/b", "a:b", "a b", "ü", "1abc", "-x", 5, None, ["comm"], {"constant": 5},
                                    {"constant": ""}, {"value": "comm"}, "hyperty", "hyperty-runtime", "domain",
                                    {"constant": "user"}, "hyperty-catalogue", "mn"])
def test_bad_scheme(scheme: Any) -> None:
    with pytest.raises(DescriptorError, match="bad scheme"):
        parse_descriptor(descriptor({"scheme": scheme}))


@pytest.mark.parametrize("children", ["messages", 5, {"constant": "m"}, [1], [""], ["a/b"], [None], {"value": ["a"]}])
def test_bad_children(children: Any) -> None:
    with pytest.raises(DescriptorError, match="children names must be a list of strings"):
        parse_descriptor(descriptor({"childrens": children}))
