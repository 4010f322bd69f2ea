"""The caller's region scope: the one place that decides which locations a token may see.

An analyst token limited to ``nordics`` sees locations whose region is
``nordics`` or lies under ``nordics/``; admins and unlimited analysts see
everything. Asking explicitly for something outside the scope is refused
(403); lists are filtered instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.services.analytics_errors import OutOfScope
from hub.services.regions import within
from hub.storage.base import TokenInfo
from hub.storage.base_analytics import LocationRecord


@dataclass(frozen=True)
class Scope:
    """``region`` None: the whole fleet."""

    region: str | None = None

    @classmethod
    def of(cls, token: TokenInfo) -> Scope:
        return cls(token.region if token.role == "analyst" and token.region else None)

    def covers(self, region: str | None) -> bool:
        return within(region, self.region)

    def narrow(self, region: str | None) -> str | None:
        """The region a query may cover: the one asked for if it is inside the scope, else the scope itself."""
        if region is None:
            return self.region
        if not self.covers(region):
            raise OutOfScope(f"region {region!r} is outside this token's region {self.region!r}")
        return region

    def check(self, location: LocationRecord) -> None:
        if not self.covers(location.region):
            raise OutOfScope(f"location {location.location_id!r} is outside this token's region {self.region!r}")
