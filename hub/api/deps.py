"""Request dependencies: the storage handle, token authentication and the caller's region scope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.services.analytics_errors import AnalyticsError
from hub.services.analytics_scope import Scope
from hub.storage.base import Storage, TokenInfo

_bearer = HTTPBearer(auto_error=False, description="A token from `touchpoint-hub token create`.")


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]


def require_token(
    storage: StorageDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenInfo:
    """Any valid, unrevoked token; 401 otherwise (the reason never echoes the secret)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    info = storage.verify_token(credentials.credentials)
    if info is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"}
        )
    return info


TokenDep = Annotated[TokenInfo, Depends(require_token)]


def require_admin(token: TokenDep) -> TokenInfo:
    if token.role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint needs an admin token")
    return token


AdminDep = Annotated[TokenInfo, Depends(require_admin)]


def get_scope(token: TokenDep) -> Scope:
    """The caller's region scope: an analyst token with a region sees only that subtree."""
    return Scope.of(token)


ScopeDep = Annotated[Scope, Depends(get_scope)]


@contextmanager
def service_errors() -> Iterator[None]:
    """Turn an analytics service's refusal into an HTTP error carrying its message."""
    try:
        yield
    except AnalyticsError as exc:
        raise HTTPException(exc.status, str(exc)) from None
