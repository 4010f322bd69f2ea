"""Placeholder: filled in by the HQ work (issue 4)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["operations"])
