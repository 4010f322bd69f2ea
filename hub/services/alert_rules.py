"""Alert rule kinds, their parameters with HappyOrNot-like defaults, and validation of admin input.

Stored params are always the full, validated model (defaults filled in), so
what ``GET /alerts/rules`` shows is exactly what the evaluator uses.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_agent.protocol import Identifier, is_valid_id
from hub.services.errors import InputError, field_errors
from hub.services.regions import region_error
from hub.storage.base_alerts import RuleSpec, ScopeKind

RuleKind = Literal[
    "pct_negative", "index_below", "response_count", "device_offline", "baseline_drop", "shift", "praise"
]
GOOD_NEWS_KINDS = frozenset({"praise"})
"""Kinds whose episodes are good news: their webhook text and the digest present them as praise, not trouble."""
MAX_WINDOW_MIN = 24 * 60


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowParams(_Params):
    """Rules over the answers of the last ``window_min`` minutes (misuse excluded), all questions or one."""

    window_min: float = Field(default=15, gt=0, le=MAX_WINDOW_MIN)
    question_id: Identifier | None = None


class PctNegative(WindowParams):
    """At least ``threshold_pct`` % negative answers among at least ``min_n``."""

    min_n: int = Field(default=4, ge=1)
    threshold_pct: float = Field(default=50, gt=0, le=100)


class IndexBelow(WindowParams):
    """A Happy Index below ``threshold`` over at least ``min_n`` answers."""

    window_min: float = Field(default=60, gt=0, le=MAX_WINDOW_MIN)
    min_n: int = Field(default=10, ge=1)
    threshold: float = Field(default=50, gt=0, le=100)


class Praise(WindowParams):
    """Good news: at least ``threshold_pct`` % positive answers (top-2 box) among at least ``min_n``.

    An hour-long window and a high bar, so it marks a good hour rather than a lucky minute:
    a steady store at 75% positive rarely reaches 90% over 20 answers by chance.
    """

    window_min: float = Field(default=60, gt=0, le=MAX_WINDOW_MIN)
    min_n: int = Field(default=20, ge=1)
    threshold_pct: float = Field(default=90, gt=0, le=100)


class ResponseCount(WindowParams):
    """Fewer than ``fewer_than`` answers in a window lying wholly within opening hours (no hours set: always)."""

    window_min: float = Field(default=60, gt=0, le=MAX_WINDOW_MIN)
    fewer_than: int = Field(default=5, ge=1)


class DeviceOffline(_Params):
    """A device offline (retained status or last will) for more than ``minutes`` (0 = at once)."""

    minutes: float = Field(default=10, ge=0, le=7 * 24 * 60)


class BaselineDrop(WindowParams):
    """Negative share significantly above the location's own baseline for this weekday and hour.

    The baseline is the same local weekday and hour over the previous ``weeks``
    weeks (hourly rollups); a one-sided two-proportion z-test at ``confidence``.
    """

    window_min: float = Field(default=60, gt=0, le=MAX_WINDOW_MIN)
    min_n: int = Field(default=10, ge=1)
    weeks: int = Field(default=8, ge=1, le=52)
    min_baseline_n: int = Field(default=30, ge=1)
    confidence: float = Field(default=0.95, ge=0.5, lt=1)


class Shift(_Params):
    """A sustained rise of the negative share above the location's usual for each weekday and hour.

    A one-sided Bernoulli CUSUM over the answers of the last ``lookback_min``
    minutes, tuned to a rise to ``ratio`` x usual or usual + ``max_points``,
    whichever is smaller; it fires at ``threshold``. "Usual" is the same local
    weekday and hour over the previous ``weeks`` weeks, shrunk towards the
    location's share over all hours, itself shrunk towards ``prior_pct``: each
    step weighs as ``prior_n`` answers, so a new store starts from the prior.
    Defaults come from ``touchpoint-hub alerts simulate`` (README, Alerts).
    """

    question_id: Identifier | None = None
    lookback_min: float = Field(default=180, ge=15, le=MAX_WINDOW_MIN)
    threshold: float = Field(default=6.5, gt=0, le=100)
    ratio: float = Field(default=2, gt=1, le=10)
    max_points: float = Field(default=30, gt=0, le=100)
    weeks: int = Field(default=8, ge=1, le=52)
    prior_pct: float = Field(default=20, ge=0.1, le=99.9)
    prior_n: float = Field(default=50, ge=1, le=100_000)


PARAMS: dict[str, type[_Params]] = {
    "pct_negative": PctNegative,
    "index_below": IndexBelow,
    "response_count": ResponseCount,
    "device_offline": DeviceOffline,
    "baseline_drop": BaselineDrop,
    "shift": Shift,
    "praise": Praise,
}


SIMULATED_LEVELS = (8, 20, 60)
FALSE_ALARMS_PER_WEEK: dict[str, tuple[float, float, float]] = {
    "pct_negative": (29.07, 64.2, 37.69),
    "index_below": (1.89, 3.29, 0.33),
    "response_count": (46.23, 1.66, 0.0),
    "baseline_drop": (10.6, 27.9, 38.09),
    "shift": (0.03, 0.11, 0.47),
}
"""False alarm episodes per location-week with each kind's defaults, on steady stores answering 8, 20 and 60
times per open hour: ``touchpoint-hub alerts simulate --seed 1`` (README, Alerts); a test reruns it."""
KIND_NOTES = {
    "pct_negative": "HappyOrNot's rule: many negative answers in a short window",
    "index_below": "a low Happy Index",
    "response_count": "too few answers while open",
    "device_offline": "a device offline (not simulated: traffic does not change it)",
    "baseline_drop": "negatives significantly above the usual for the weekday and hour (z-test)",
    "shift": "recommended: a lasting rise of the negative share above the usual for the weekday and hour (CUSUM)",
    "praise": "good news: a high share of positive answers over an hour, so good hours are seen too",
}


def kinds_description() -> str:
    """Each kind and its simulated false alarms, for the API docs: how often a rule cries wolf is part of choosing."""
    levels = " / ".join(f"{n:g}" for n in SIMULATED_LEVELS)
    lines = []
    for kind, note in KIND_NOTES.items():
        rates = FALSE_ALARMS_PER_WEEK.get(kind)
        measured = "" if rates is None else f"; {' / '.join(f'{r:g}' for r in rates)} false alarms per location-week"
        lines.append(f"`{kind}`: {note}{measured}")
    return f"The rule kind. Simulated at {levels} answers per open hour:\n" + "\n".join(f"- {x}" for x in lines)


def parse_params(kind: str, params: dict[str, Any]) -> _Params:
    """The validated parameters of ``kind``; InputError names the bad field."""
    model = PARAMS.get(kind)
    if model is None:
        raise InputError(f"kind: must be one of {', '.join(PARAMS)} (got {kind!r})")
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise InputError(field_errors(exc, "params")) from None


class RuleInput(BaseModel):
    """``POST /alerts/rules``: everything but ``kind`` has a default."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: RuleKind = Field(description=kinds_description())
    scope_kind: ScopeKind = "all"
    scope: str | None = Field(default=None, description="the location id or region path; none for 'all'")
    params: dict[str, Any] = Field(default_factory=dict, description="kind-specific; omitted ones take defaults")
    webhook_url: str | None = Field(default=None, max_length=2000)
    enabled: bool = True


class RulePatch(BaseModel):
    """``PATCH /alerts/rules/{id}``: only the given fields change; ``params`` merge into the current ones."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: RuleKind | None = None
    scope_kind: ScopeKind | None = None
    scope: str | None = None
    params: dict[str, Any] | None = None
    webhook_url: str | None = Field(default=None, max_length=2000)
    enabled: bool | None = None


def check_webhook_url(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"webhook_url: must be an http:// or https:// URL with a host (got {redact_url(url)!r})")
    return url


def redact_url(url: str) -> str:
    """Scheme, host and port only: a webhook's path is often its secret (Slack), so never log or export it."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…" if parts.path not in ("", "/") else f"{parts.scheme}://{host}{port}/"


def check_scope(scope_kind: ScopeKind, scope: str | None) -> str | None:
    if scope_kind == "all":
        if scope:
            raise InputError("scope: must be empty when scope_kind is 'all'")
        return None
    if not scope:
        raise InputError(f"scope: a {'location id' if scope_kind == 'location' else 'region path'} is required")
    if scope_kind == "location" and not is_valid_id(scope):
        raise InputError(f"scope: {scope!r} is not a location id ([A-Za-z0-9_-]{{1,64}})")
    problem = region_error(scope) if scope_kind == "region" else None
    if problem:
        raise InputError(f"scope: {problem}")
    return scope


def _scope_text(scope_kind: ScopeKind, scope: str | None) -> str:
    return "all locations" if scope_kind == "all" else f"{scope_kind} {scope}"


def new_spec(data: RuleInput) -> RuleSpec:
    params = parse_params(data.kind, data.params)
    scope = check_scope(data.scope_kind, data.scope)
    name = data.name or f"{data.kind} at {_scope_text(data.scope_kind, scope)}"
    return RuleSpec(
        name=name, kind=data.kind, scope_kind=data.scope_kind, scope=scope, params=params.model_dump(mode="json"),
        webhook_url=check_webhook_url(data.webhook_url), enabled=data.enabled,
    )  # fmt: skip


def patched_spec(current: RuleSpec, patch: RulePatch) -> RuleSpec:
    """Apply a patch; a new kind starts from its defaults plus the patch's params."""
    given = patch.model_fields_set
    kind = patch.kind or current.kind
    base = current.params if kind == current.kind else {}
    params = parse_params(kind, {**base, **(patch.params or {})})
    scope_kind = patch.scope_kind or current.scope_kind
    scope = patch.scope if "scope" in given else (current.scope if scope_kind == current.scope_kind else None)
    return RuleSpec(
        name=patch.name or current.name,
        kind=kind,
        scope_kind=scope_kind,
        scope=check_scope(scope_kind, scope),
        params=params.model_dump(mode="json"),
        webhook_url=check_webhook_url(patch.webhook_url) if "webhook_url" in given else current.webhook_url,
        enabled=current.enabled if patch.enabled is None else patch.enabled,
    )
