"""Pages for pay: a contributor's earnings and statements, and the admins' pay runs."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
