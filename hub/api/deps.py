"""Request dependencies: the storage handle and token authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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
