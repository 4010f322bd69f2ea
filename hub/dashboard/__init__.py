"""The HQ dashboard: server-rendered pages over the same numbers as the API, behind a token login."""

from __future__ import annotations

from fastapi import APIRouter

from hub.dashboard import auth, inbox_pages, pages

router = APIRouter()
router.include_router(auth.router)
router.include_router(pages.router)
router.include_router(inbox_pages.router)

__all__ = ["router"]
