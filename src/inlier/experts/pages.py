"""Pages for applicants, admins reviewing them, and assessments."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
