"""API tokens over HTTP (admin only): list without secrets, create (secret shown once), revoke.

The same operations as ``touchpoint-hub token create|list|revoke``. Tokens are
stored as SHA-256 hashes; the secret exists only in the create response.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.api.deps import AdminDep, StorageDep
from hub.storage.base import TokenInfo

router = APIRouter(prefix="/api/v1", tags=["tokens"])


class TokenOut(BaseModel):
    token_id: int
    name: str
    role: Literal["admin", "analyst"]
    region: str | None
    created_at: str
    revoked_at: str | None

    @classmethod
    def of(cls, info: TokenInfo) -> TokenOut:
        return cls(
            token_id=info.token_id,
            name=info.name,
            role=info.role,
            region=info.region,
            created_at=info.created_at,
            revoked_at=info.revoked_at,
        )


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="who or what the token is for")
    role: Literal["admin", "analyst"]
    region: str | None = Field(
        default=None, min_length=1, max_length=200, description="limit an analyst token to a region subtree"
    )

    @model_validator(mode="after")
    def _region_for_analysts(self) -> TokenCreate:
        if self.region is not None and self.role == "admin":
            raise ValueError("region applies to analyst tokens only")
        return self


class TokenCreated(TokenOut):
    secret: str = Field(description="the bearer token; shown only in this response, store it now")


@router.get("/tokens", summary="API tokens, without their secrets (admin)")
def list_tokens(storage: StorageDep, _admin: AdminDep) -> dict[str, list[TokenOut]]:
    return {"rows": [TokenOut.of(t) for t in storage.list_tokens()]}


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Create a token; its secret is in this response only (admin)",
)
def create_token(body: TokenCreate, storage: StorageDep, _admin: AdminDep, response: Response) -> TokenCreated:
    info, secret = storage.create_token(body.name, body.role, body.region)
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated(**TokenOut.of(info).model_dump(), secret=secret)


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a token: it stops working at once (admin)",
)
def revoke_token(token_id: Annotated[int, Path(ge=1, lt=2**63)], storage: StorageDep, _admin: AdminDep) -> Response:
    if not storage.revoke_token(token_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no active token with id {token_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
