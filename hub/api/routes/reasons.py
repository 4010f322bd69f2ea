"""Placeholder: filled in by the HQ work (issue 4)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["reasons"])
