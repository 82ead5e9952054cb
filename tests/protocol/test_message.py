"""The envelope of PROTOCOL §2: validation, responses, codes and correlation keys."""

from __future__ import annotations

from typing import Any

import pytest

from core.protocol.message import (
    MAX_ID,
    REASONS,
    SyncError,
    body,
    code_of,
    correlation,
    description_of,
    envelope_error,
    is_request,
    response,
)

R = "hyperty://a.example/alice"
SM = "hyperty-runtime://a.example/rt1/sm"


def envelope(**changes: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"id": 7, "type": "subscribe", "from": R, "to": SM, "body": {"resource": "comm://a/x"}}
    msg.update(changes)
    return msg


def without(field: str) -> dict[str, Any]:
    msg = envelope()
    del msg[field]
    return msg


# envelope_error ---------------------------------------------------------------------------------


def test_valid_envelope_has_no_error() -> None:
    assert envelope_error(envelope()) is None


def test_missing_body_is_an_empty_body() -> None:
    assert envelope_error(without("body")) is None
    assert body(without("body")) == {}


@pytest.mark.parametrize("field", ["id", "type", "from", "to"])
def test_missing_field(field: str) -> None:
    assert envelope_error(without(field)) == f"missing {field}"


@pytest.mark.parametrize("field", ["id", "type", "from", "to"])
@pytest.mark.parametrize("empty", [None, ""])
def test_empty_field_is_missing(field: str, empty: Any) -> None:
    assert envelope_error(envelope(**{field: empty})) == f"missing {field}"


def test_first_missing_field_is_reported() -> None:
    assert envelope_error({"type": "read"}) == "missing id"
    assert envelope_error({"id": 1, "from": R}) == "missing type"
    assert envelope_error({"id": 1, "type": "read", "to": SM}) == "missing from"


@pytest.mark.parametrize("msg", [[], "{}", 5, None, ("id", 1)])
def test_non_dict_message(msg: Any) -> None:
    assert envelope_error(msg) == "message is not a JSON object"


@pytest.mark.parametrize("ident", [1, 2, 10**9, MAX_ID, "1", "42"])
def test_good_ids(ident: Any) -> None:
    assert envelope_error(envelope(id=ident)) is None


@pytest.mark.parametrize("ident", [True, False, 1.0, 2.5, 0, -1, -(2**60), MAX_ID + 1, 2**64, [1], {"n": 1},
                                   "abc", "0", "-3", "1.5", " 1", "x" * 41, str(MAX_ID + 1), "٣"])
def test_bad_ids(ident: Any) -> None:
    assert envelope_error(envelope(id=ident)) == "bad id"


@pytest.mark.parametrize("mtype", ["create", "read", "update", "delete", "subscribe", "unsubscribe", "response",
                                   "forward", "execute"])
def test_every_protocol_type_is_known(mtype: str) -> None:
    assert envelope_error(envelope(type=mtype)) is None
    assert envelope_error(envelope(type=mtype), link=True) is None


@pytest.mark.parametrize("mtype", ["CREATE", "Update", "publish", "notify", 5, ["read"], {"t": "read"}, True])
def test_unknown_type(mtype: Any) -> None:
    assert envelope_error(envelope(type=mtype)) == "unknown type"
    assert envelope_error(envelope(type=mtype), link=True) == "unknown type"


@pytest.mark.parametrize("mtype", ["open", "close", "event"])
def test_link_types_only_on_links(mtype: str) -> None:
    assert envelope_error(envelope(type=mtype)) == "unknown type"
    assert envelope_error(envelope(type=mtype), link=True) is None


@pytest.mark.parametrize("field", ["from", "to"])
@pytest.mark.parametrize("value", [5, ["hyperty://a/b"], {"url": "x"}, True])
def test_non_string_address(field: str, value: Any) -> None:
    assert envelope_error(envelope(**{field: value})) == "bad address"


@pytest.mark.parametrize("value", [[], ["code"], "body", 5, None, True])
def test_non_dict_body(value: Any) -> None:
    assert envelope_error(envelope(body=value)) == "body is not an object"


def test_body_helper_tolerates_bad_bodies() -> None:
    assert body(envelope(body=[1])) == {}
    assert body(envelope(body={"code": 200})) == {"code": 200}


# responses -----------------------------------------------------------------------------------------


def test_response_swaps_from_and_to_and_keeps_id() -> None:
    assert response(envelope(), 200) == {"id": 7, "type": "response", "from": SM, "to": R, "body": {"code": 200}}


def test_response_keeps_a_string_id_verbatim() -> None:
    assert response(envelope(id="12"), 100)["id"] == "12"


@pytest.mark.parametrize("code", [400, 401, 403, 404, 408, 409, 413, 429, 500, 503])
def test_error_response_description_defaults_to_reason(code: int) -> None:
    assert response(envelope(), code)["body"] == {"code": code, "description": REASONS[code]}


def test_unknown_error_code_gets_generic_description() -> None:
    assert response(envelope(), 418)["body"] == {"code": 418, "description": "error"}


@pytest.mark.parametrize("code", [100, 200])
def test_success_and_provisional_have_no_default_description(code: int) -> None:
    assert response(envelope(), code)["body"] == {"code": code}


def test_explicit_description_and_fields() -> None:
    msg = response(envelope(), 403, "Blocked by policy", source=R, value={"a": [1]})
    assert msg["body"] == {"code": 403, "description": "Blocked by policy", "source": R, "value": {"a": [1]}}
    assert response(envelope(), 404, "")["body"] == {"code": 404, "description": ""}
    assert response(envelope(), 200, "fine")["body"] == {"code": 200, "description": "fine"}


def test_response_is_a_valid_envelope() -> None:
    assert envelope_error(response(envelope(), 500)) is None


# codes, descriptions, correlation ------------------------------------------------------------------


@pytest.mark.parametrize(("b", "code"), [({"code": 404}, 404), ({"code": 100}, 100), ({}, 0), ({"code": "200"}, 0),
                                         ({"code": True}, 0), ({"code": 200.0}, 0), ({"code": None}, 0)])
def test_code_of(b: dict[str, Any], code: int) -> None:
    assert code_of(envelope(body=b)) == code


def test_code_of_without_or_with_bad_body() -> None:
    assert code_of(without("body")) == 0
    assert code_of(envelope(body="x")) == 0


@pytest.mark.parametrize(("b", "text"), [({"description": "not found"}, "not found"),
                                         ({"desc": "no route"}, "no route"), ({"description": "a", "desc": "b"}, "a"),
                                         ({}, ""), ({"description": 5}, "5"), ({"description": None}, ""),
                                         ({"description": None, "desc": "gone"}, "gone"), ({"desc": None}, "")])
def test_description_of_accepts_desc(b: dict[str, Any], text: str) -> None:
    assert description_of(envelope(body=b)) == text


def test_correlation_keys_are_strings() -> None:
    assert correlation(R, 5) == "hyperty://a.example/alice|5"
    assert correlation(R, 5) == correlation(R, "5")
    assert correlation(R, 5) != correlation(SM, 5)
    assert isinstance(correlation(R, 5), str)


def test_is_request() -> None:
    assert is_request(envelope()) is True
    assert is_request(envelope(type="response")) is False


def test_sync_error_carries_code_and_description() -> None:
    answer = response(envelope(), 403, "not the reporter")
    err = SyncError(403, "not the reporter", answer)
    assert (err.code, err.description, err.response, str(err)) == (403, "not the reporter", answer,
                                                                    "403 not the reporter")
