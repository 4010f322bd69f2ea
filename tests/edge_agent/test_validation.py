"""edge_agent.validation: once msgspec's one pass has failed, every bad field is named with what was wrong."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import pytest
from msgspec import Meta, Struct

from edge_agent.validation import Check, Invalid, check_fields, convert, describe, problems


class Inner(Struct, forbid_unknown_fields=True):
    size: Annotated[int, Meta(ge=1)]


class Outer(Struct, kw_only=True):
    field_checks: ClassVar[dict[str, Check]] = {"name": lambda v: None if v.islower() else "must be lower case"}

    name: Annotated[str, Meta(max_length=5)]
    kind: Literal["a", "b"] = "a"
    inner: Inner | None = None
    items: Annotated[list[Inner], Meta(max_length=2)] = []
    labels: dict[Annotated[str, Meta(pattern="^[a-z]+$")], Annotated[str, Meta(min_length=1)]] = {}

    def __post_init__(self) -> None:
        check_fields(self)


def test_every_bad_field_is_named_with_its_path_and_what_was_wrong() -> None:
    data = {"name": "Toolong", "kind": "c", "inner": {"size": 0, "extra": 1}, "items": [{"size": 1}, {"size": "x"}],
            "labels": {"ok": "", "BAD": "x"}}  # fmt: skip
    assert problems(data, Outer) == [
        ("name", "Expected str of length <= 5 (got 'Toolong')"),
        ("kind", "Expected 'a' or 'b', got 'c'"),
        ("inner.size", "Expected int >= 1 (got 0)"),
        ("inner.extra", "is not a known field (check the spelling)"),
        ("items.1.size", "Expected int, got str"),
        ("labels.ok", "Expected str of length >= 1 (got '')"),
        ("labels.BAD", "key 'BAD': Expected str matching regex '^[a-z]+$' (got 'BAD')"),
    ]


def test_a_field_check_is_named_even_when_other_fields_fail_to_convert() -> None:
    assert problems({"name": "Ab", "kind": "z"}, Outer) == [
        ("name", "must be lower case"),
        ("kind", "Expected 'a' or 'b', got 'z'"),
    ]
    with pytest.raises(Invalid) as info:
        convert({"name": "Ab"}, Outer)
    assert info.value.problems == [("name", "must be lower case")]


def test_a_good_value_has_no_problems_and_converts() -> None:
    assert problems({"name": "ab", "items": [{"size": 2}]}, Outer) == []
    assert convert({"name": "ab", "items": [{"size": "2"}]}, Outer).items == [Inner(2)]  # lax: "2" is 2


def test_a_missing_field_and_a_too_long_list() -> None:
    assert problems({"items": [{"size": 1}] * 3}, Outer) == [
        ("name", "Field required"),
        ("items", "Expected array of length <= 2"),
    ]


def test_describe_names_the_whole_value_payload_and_counts_the_rest() -> None:
    found = [("", "Expected object, got array"), ("a", "x"), ("b", "y"), ("c", "z")]
    assert describe(found) == "payload: Expected object, got array; a: x; b: y; and 1 more"
    assert describe(found, limit=10).count("; ") == 3
