"""Dashboard login: a token typed once becomes a server-side session behind an HttpOnly cookie.

The browser never keeps the API token, only a random session id; the hub keeps
only that id's SHA-256, so a leaked database cannot be replayed as a login.
Sessions end after 12 h, on logout, or when their token is revoked.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from hub.api.deps import StorageDep
from hub.dashboard.ratelimit import LoginLimiter
from hub.dashboard.render import page
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage, TokenInfo

log = logging.getLogger("touchpoint.hub.dashboard")

COOKIE = "tp_session"
SESSION_TTL = timedelta(hours=12)
MAX_FORM_BYTES = 4096
UNKNOWN_TOKEN = "Unknown or revoked token."

router = APIRouter(include_in_schema=False)
limiter = LoginLimiter(limit=5, window_s=60)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the token behind the session, and the region it is limited to."""

    token: TokenInfo
    expires_at: str

    @property
    def scope(self) -> Scope:
        return Scope.of(self.token)

    @property
    def region(self) -> str | None:
        """The region this viewer is limited to; None for the whole fleet."""
        return self.scope.region


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def current_viewer(request: Request, storage: Storage) -> Viewer | None:
    session_id = request.cookies.get(COOKIE)
    if not session_id or len(session_id) > 128:
        return None
    found = storage.session_token(session_hash(session_id), datetime.now(UTC))
    return None if found is None else Viewer(*found)


def safe_next(target: str | None) -> str:
    """Only a path on this site: an attacker's link must not bounce a fresh login elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def require_viewer(request: Request, storage: StorageDep) -> Viewer:
    """The logged-in viewer; otherwise a redirect to the login form that comes back here afterwards."""
    viewer = current_viewer(request, storage)
    if viewer is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
        raise HTTPException(status.HTTP_303_SEE_OTHER, "login required", headers={"Location": location})
    return viewer


ViewerDep = Annotated[Viewer, Depends(require_viewer)]


def _client(request: Request) -> str:
    """The client address as uvicorn resolved it (X-Forwarded-For is honoured only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def same_origin(request: Request) -> bool:
    """Browsers send Origin on form posts; a post from another site is refused (clients without it pass)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _login_form(
    next_url: str, error: str | None = None, code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return page("login.html", {"next": next_url, "error": error, "viewer": None}, code, headers)


@router.get("/login")
def login_form(request: Request, storage: StorageDep, next: str | None = None) -> Response:
    if current_viewer(request, storage) is not None:
        return RedirectResponse(safe_next(next), status.HTTP_303_SEE_OTHER)
    return _login_form(safe_next(next))


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> dict[str, str]:
    """A small urlencoded form, parsed here so the hub needs no multipart package."""
    body = await request.body()
    if len(body) > max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "form too large")
    fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=10)
    return {key: values[0] for key, values in fields.items()}


@router.post("/login")
async def login(request: Request, storage: StorageDep) -> Response:
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site login refused")
    form = await read_form(request)
    next_url = safe_next(form.get("next"))
    client = _client(request)
    wait = await run_in_threadpool(limiter.retry_after, storage, client)
    if wait:
        message = f"Too many failed logins from your address. Try again in {wait} s."
        return _login_form(next_url, message, status.HTTP_429_TOO_MANY_REQUESTS, {"Retry-After": str(wait)})
    secret = form.get("token", "").strip()
    info = await run_in_threadpool(storage.verify_token, secret) if secret else None
    if info is None:
        await run_in_threadpool(limiter.failed, storage, client)
        log.warning("dashboard login failed from %s", client)
        return _login_form(next_url, UNKNOWN_TOKEN, status.HTTP_403_FORBIDDEN)
    session_id = secrets.token_urlsafe(32)  # 256 random bits
    now = datetime.now(UTC)
    await run_in_threadpool(storage.create_session, session_hash(session_id), info.token_id, now, now + SESSION_TTL)
    old = request.cookies.get(COOKIE)
    if old:  # a fresh id on every login: a planted cookie never becomes a live session
        await run_in_threadpool(storage.delete_session, session_hash(old))
    log.info("dashboard login: token %s (%s) from %s", info.token_id, info.role, client)
    response = RedirectResponse(next_url, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=int(SESSION_TTL.total_seconds()),
        expires=now + SESSION_TTL,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout")
def logout(request: Request, storage: StorageDep) -> Response:
    if not same_origin(request):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site logout refused")
    session_id = request.cookies.get(COOKIE)
    if session_id:
        storage.delete_session(session_hash(session_id))
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict")
    return response
