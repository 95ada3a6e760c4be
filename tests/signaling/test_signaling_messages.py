"""Message schema: golden frames, invalid twins, size limits, fuzzing, the JSON Schema file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signaling.errors import (
    ErrorCode,
    FrameTooLarge,
    InvalidFields,
    MessageError,
    NotJson,
    UnknownType,
    UnsupportedVersion,
)
from signaling.messages import (
    MAX_FRAME_BYTES,
    MAX_SDP_BYTES,
    MESSAGE_TYPES,
    Candidate,
    Description,
    HwOutcome,
    HwResult,
    _parse_checked,
    parse,
    serialize,
)
from signaling.schema import render

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
TWINS: dict[str, list[Any]] = json.loads((HERE / "invalid_twins.json").read_text(encoding="utf-8"))
GOLDEN_NAMES = list(json.loads((HERE / "golden_messages.json").read_text(encoding="utf-8")))


def _text(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


def test_every_type_has_a_golden_frame(golden: dict[str, dict[str, Any]]) -> None:
    """Each message type in the registry is covered by at least one golden frame."""
    assert {g["type"] for g in golden.values()} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_round_trip(golden: dict[str, dict[str, Any]], name: str) -> None:
    """A golden frame parses to its type and serializes back to the same JSON object."""
    message = parse(_text(golden[name]))
    assert message.type == golden[name]["type"]
    assert json.loads(serialize(message)) == golden[name]
    assert parse(serialize(message)) == message


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_parses_from_bytes(golden: dict[str, dict[str, Any]], name: str) -> None:
    """Frames given as UTF-8 bytes parse like text frames."""
    assert parse(_text(golden[name]).encode("utf-8")) == parse(_text(golden[name]))


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_truncated_twin_is_not_json(golden: dict[str, dict[str, Any]], name: str) -> None:
    """Every golden frame cut short raises NotJson."""
    text = _text(golden[name])
    with pytest.raises(NotJson):
        parse(text[: len(text) // 2])


@pytest.mark.parametrize("name", list(TWINS))
def test_invalid_twin_raises_its_error_code(name: str) -> None:
    """Each invalid twin raises the MessageError whose code the table names."""
    frame, code = TWINS[name]
    with pytest.raises(MessageError) as info:
        parse(_text(frame))
    assert info.value.code == ErrorCode(code)


def test_invalid_fields_lists_paths_without_values() -> None:
    """InvalidFields names field paths and error kinds but never the submitted values."""
    secret = "31010119800101123X"
    frame = {"type": "hw.progress", "call_id": "c1", "request_id": "r", "stage": secret}
    with pytest.raises(InvalidFields) as info:
        parse(_text(frame))
    assert info.value.fields == (("stage", "string_pattern_mismatch"),)
    assert secret not in str(info.value)


def test_extra_field_named_with_personal_data_is_not_echoed() -> None:
    """An unexpected field whose name is an ID number appears as '?' in the error."""
    secret = "31010119800101123X"
    with pytest.raises(InvalidFields) as info:
        parse(_text({"type": "ping", secret: 1}))
    assert info.value.fields == (("?", "extra_forbidden"),)
    assert secret not in str(info.value)


def test_unknown_type_with_odd_value_is_not_echoed() -> None:
    """An unknown type that does not look like a type name is reported as None."""
    with pytest.raises(UnknownType) as info:
        parse(_text({"type": "张三 310101"}))
    assert info.value.type_name is None
    assert "张三" not in str(info.value)


def test_frame_over_limit_is_refused_before_decoding() -> None:
    """A frame over MAX_FRAME_BYTES raises FrameTooLarge with size and limit."""
    frame = _text({"type": "event", "topic": "t", "payload": {"x": "a" * MAX_FRAME_BYTES}})
    with pytest.raises(FrameTooLarge) as info:
        parse(frame)
    assert info.value.limit == MAX_FRAME_BYTES
    assert info.value.size > MAX_FRAME_BYTES


def test_multibyte_frame_limit_counts_bytes() -> None:
    """The frame limit counts UTF-8 bytes, not characters."""
    payload = "办" * (MAX_FRAME_BYTES // 3)
    frame = _text({"type": "event", "topic": "t", "payload": {"x": payload}})
    assert len(frame) < MAX_FRAME_BYTES
    with pytest.raises(FrameTooLarge):
        parse(frame)


def test_sdp_limit() -> None:
    """An SDP of exactly the limit is accepted; one byte more is an invalid field."""
    base = {"type": "description", "call_id": "c1", "sdp_type": "answer"}
    assert isinstance(parse(_text({**base, "sdp": "a" * MAX_SDP_BYTES})), Description)
    with pytest.raises(InvalidFields) as info:
        parse(_text({**base, "sdp": "a" * (MAX_SDP_BYTES + 1)}))
    assert info.value.fields == (("sdp", "string_too_long"),)


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        (b"\xff\xfe{}", NotJson),
        ("[1, 2]", NotJson),
        ('"hello"', NotJson),
        ('{"type": "ping", "nonce": NaN}', NotJson),
        ('{"type": "event", "topic": "t", "payload": {"x": 1e999}}', NotJson),
        ("[" * 5000 + "]" * 5000, NotJson),
        ('{"type": "event", "topic": "t", "payload": ' + '{"a":' * 20 + "1" + "}" * 21, NotJson),
        ('{"type": 7}', UnknownType),
        ('{"type": "hello", "protocol": 99}', UnsupportedVersion),
        ("\ud800", NotJson),
    ],
)
def test_malformed_frames(frame: str | bytes, error: type[MessageError]) -> None:
    """Non-JSON, non-objects, NaN, overflow, deep nesting, bad types and versions are refused."""
    with pytest.raises(error):
        parse(frame)


def test_strict_types_do_not_coerce() -> None:
    """Strings are not coerced to numbers or booleans."""
    with pytest.raises(InvalidFields):
        parse(_text({"type": "presence", "role": "agent", "party_id": "a", "online": "true"}))


def test_hw_result_outcome_rules() -> None:
    """hw.result: data only with ok, error required for failed, consent refusal is distinct."""
    refused = HwResult(call_id="c", request_id="r", outcome=HwOutcome.CONSENT_REFUSED)
    assert not refused.ok
    assert refused.outcome is not HwOutcome.FAILED
    with pytest.raises(ValueError, match="error is required"):
        HwResult(call_id="c", request_id="r", outcome=HwOutcome.FAILED)
    with pytest.raises(ValueError, match="error must be absent"):
        HwResult(call_id="c", request_id="r", outcome=HwOutcome.OK, error="x")


def test_end_of_candidates_is_explicit_null() -> None:
    """A null candidate (end of candidates) is serialized as an explicit null."""
    text = serialize(Candidate(call_id="c1", candidate=None))
    assert json.loads(text)["candidate"] is None
    missing = {"type": "candidate", "call_id": "c1"}
    with pytest.raises(InvalidFields):
        parse(_text(missing))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_fuzz_parse_raises_only_message_errors(data: str | bytes) -> None:
    """For arbitrary text or bytes, parse returns a message or raises a MessageError."""
    code: ErrorCode | None = None
    try:
        message = parse(data)
    except MessageError as err:
        code = err.code
    else:
        assert message.type in MESSAGE_TYPES
    assert code is None or code in set(ErrorCode)


_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_json = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(MESSAGE_TYPES)),
    st.dictionaries(
        st.sampled_from(["id", "call_id", "seq", "sdp", "candidate", "outcome", "data", "params", "x"]),
        _json,
        max_size=5,
    ),
)
def test_fuzz_structured_frames(type_name: str, fields: dict[str, Any]) -> None:
    """Objects with a known type and random fields parse or raise MessageError; accepted ones round-trip."""
    try:
        message = parse(json.dumps({**fields, "type": type_name}))
    except MessageError:
        return
    assert parse(serialize(message)) == message


def test_schema_file_is_up_to_date() -> None:
    """docs/signaling.schema.json equals the schema generated from the models."""
    assert (ROOT / "docs" / "signaling.schema.json").read_text(encoding="utf-8") == render()


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_frames_validate_against_schema(golden: dict[str, dict[str, Any]], name: str) -> None:
    """The JSON Schema accepts every golden frame."""
    validator = jsonschema_rs.validator_for(json.loads(render()))
    assert validator.is_valid(golden[name])


@pytest.mark.parametrize("name", [n for n in TWINS if TWINS[n][1] == "invalid_fields"])
def test_schema_rejects_invalid_twins(name: str) -> None:
    """The JSON Schema rejects the invalid twins that fail field validation."""
    validator = jsonschema_rs.validator_for(json.loads(render()))
    assert not validator.is_valid(TWINS[name][0])


def test_documented_examples_parse_and_round_trip() -> None:
    """Every JSON example line in docs/signaling.md parses and serializes back to itself."""
    text = (ROOT / "docs" / "signaling.md").read_text(encoding="utf-8")
    blocks = text.split("```json\n")[1:]
    examples = [line for block in blocks for line in block.split("```")[0].splitlines() if line.strip()]
    assert len(examples) >= len(MESSAGE_TYPES)
    seen = set()
    for line in examples:
        message = parse(line)
        seen.add(message.type)
        assert json.loads(serialize(message)) == json.loads(line)
    assert seen == set(MESSAGE_TYPES)


def _outcome(fn: Any, text: str) -> object:
    try:
        return fn(text)
    except MessageError as err:
        return type(err)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(GOLDEN_NAMES),
    st.sampled_from(["id", "call_id", "seq", "protocol", "payload", "data", "params", "candidate", "state"]),
    _json,
)
def test_fast_and_thorough_paths_agree(name: str, field: str, value: Any) -> None:
    """parse's one-pass path and its thorough path accept and refuse the same frames alike."""
    golden = json.loads((HERE / "golden_messages.json").read_text(encoding="utf-8"))
    text = json.dumps({**golden[name], field: value})
    assert _outcome(parse, text) == _outcome(_parse_checked, text)


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "event", "topic": "t", "payload": {"a": NaN}}',
        '{"type": "event", "topic": "t", "payload": {"a": Infinity}}',
        '{"type": "hw.result", "call_id": "c", "request_id": "r", "outcome": "ok", "data": {"a": -1e999}}',
        '{"type": "hw.request", "call_id": "c", "request_id": "r", "action": "read_id_card", "params": {"a": NaN}}',
        '{"type": "event", "topic": "t", "payload": ' + '{"a":' * 16 + "1" + "}" * 17,
    ],
)
def test_non_finite_or_deep_free_form_fields_are_refused(frame: str) -> None:
    """Free-form fields (payload, data, params) refuse NaN, infinities and excessive nesting."""
    with pytest.raises(NotJson):
        parse(frame)


def test_nesting_at_the_limit_is_accepted() -> None:
    """A frame nested exactly MAX_NESTING deep is accepted by both paths."""
    frame = '{"type": "event", "topic": "t", "payload": ' + '{"a":' * 15 + "1" + "}" * 16
    assert parse(frame) == _parse_checked(frame)
