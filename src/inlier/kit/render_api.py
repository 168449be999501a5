"""``POST /render``: markdown → the sanitized HTML pages show (the editors' live preview)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from inlier.kit.auth import CurrentUser
from inlier.kit.fields import RequestBody
from inlier.kit.markdown import render
from inlier.kit.openapi import problems

router = APIRouter(tags=["render"])

Markdown = Annotated[str, Field(max_length=100_000)]


class RenderIn(RequestBody):
    texts: list[Markdown] = Field(min_length=1, max_length=200)


class RenderOut(BaseModel):
    html: list[str]


@router.post("/render", response_model=RenderOut, responses=problems())
async def render_markdown(body: RenderIn, who: CurrentUser) -> dict[str, Any]:
    """Render markdown texts (math as MathML, sanitized) exactly as the pages show them."""
    return {"html": [render(t) for t in body.texts]}
