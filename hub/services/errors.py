"""Admin input errors that name the offending field, for 422 responses."""

from __future__ import annotations

from pydantic import ValidationError

from edge_agent.validation import Invalid, Problem, describe


class InputError(ValueError):
    """Bad admin input; the message names the field and what was expected."""


def field_errors(exc: ValidationError | Invalid, prefix: str = "", limit: int = 5) -> str:
    """``body.question.text: Field required; ...``: each error with the full path of its field.

    ``exc`` is pydantic's (the HTTP API's own models) or msgspec's (the shared device-side types).
    """
    problems: list[Problem] = exc.problems if isinstance(exc, Invalid) else []
    if isinstance(exc, ValidationError):
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "is not a known field (check the spelling)"
            problems.append((".".join(str(p) for p in err["loc"]), msg))
    named = [(".".join(p for p in (prefix, path) if p) or "body", msg) for path, msg in problems]
    return describe(named, limit)
