"""Admin input errors that name the offending field, for 422 responses."""

from __future__ import annotations

from pydantic import ValidationError


class InputError(ValueError):
    """Bad admin input; the message names the field and what was expected."""


def field_errors(exc: ValidationError, prefix: str = "", limit: int = 5) -> str:
    """``body.question.text: Field required; ...``: each error with the full path of its field."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join([*([prefix] if prefix else []), *(str(p) for p in err["loc"])]) or "body"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "is not a known field (check the spelling)"
        parts.append(f"{where}: {msg}")
    if exc.error_count() > limit:
        parts.append(f"and {exc.error_count() - limit} more")
    return "; ".join(parts)
