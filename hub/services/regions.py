"""Region paths such as ``nordics/finland``: validation and subtree tests, one definition for surveys and alerts."""

from __future__ import annotations

from edge_agent.protocol import is_valid_id

MAX_REGION_DEPTH = 8


def region_error(path: str) -> str | None:
    """Why ``path`` is not a region path (segments of ``[A-Za-z0-9_-]`` joined by '/'), or None."""
    parts = path.split("/")
    if len(parts) > MAX_REGION_DEPTH:
        return f"region {path!r} is deeper than {MAX_REGION_DEPTH} levels"
    if not all(is_valid_id(p) for p in parts):
        return f"region {path!r} must be segments of [A-Za-z0-9_-] joined by '/', like 'nordics/finland'"
    return None


def within(region: str | None, scope: str | None) -> bool:
    """``nordics/finland`` is within ``nordics``; ``nordicsx`` is not. No scope admits everything."""
    if scope is None:
        return True
    if region is None:
        return False
    return region == scope or region.startswith(scope + "/")


def prefixes(region: str | None) -> list[str]:
    """A region path's ancestors-or-self, deepest first: ``a/b/c`` -> ``a/b/c``, ``a/b``, ``a``."""
    if not region:
        return []
    parts = region.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]
