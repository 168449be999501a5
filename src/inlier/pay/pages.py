"""Pages for pay: a contributor's earnings and statements, and the admins' pay runs."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from inlier.kit.errors import Forbidden, invalid
from inlier.kit.web import CsrfForm, PageUser, redirect, render
from inlier.pay import rules, service
from inlier.pay.schemas import PayoutResultIn, PayRunIn

router = APIRouter(include_in_schema=False)


@router.get("/earnings", response_class=HTMLResponse)
async def earnings_page(request: Request, who: PageUser) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        current = await service.earnings(s, who, "current", now)
        statements = await service.my_statements(s, who, 100, None)
        wages = await service.my_wages(s, who)
    return await render(
        request,
        "earnings.html",
        {"current": current, "statements": statements, "wages": wages, "money": rules.money},
        who=who,
    )


def _year(request: Request, year: str | None) -> int:
    if not year:
        return int(request.app.state.clock.now().year)
    if not year.isdigit() or not 2000 <= int(year) <= 2100:
        raise invalid(["query", "year"], "a year, 2000 to 2100")
    return int(year)


@router.get("/earnings/summary", response_class=HTMLResponse)
async def summary_page(
    request: Request, who: PageUser, year: Annotated[str | None, Query(max_length=4)] = None
) -> Response:
    """The annual summary, printable: the totals a contractor files and the payouts."""
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        summary = await service.annual_summary(s, who, _year(request, year), now)
    return await render(
        request, "earnings_summary.html", {"summary": summary, "money": rules.money}, who=who
    )


@router.get("/earnings/summary.csv")
async def summary_csv(
    request: Request, who: PageUser, year: Annotated[str | None, Query(max_length=4)] = None
) -> Response:
    now = request.app.state.clock.now()
    async with request.app.state.db.session() as s:
        summary = await service.annual_summary(s, who, _year(request, year), now)
    return PlainTextResponse(
        service.summary_csv(summary),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="earnings-{summary["year"]}.csv"'},
    )


@router.get("/earnings/statements/{statement_id}.csv")
async def statement_csv(request: Request, statement_id: str, who: PageUser) -> Response:
    async with request.app.state.db.session() as s:
        st = await service.statement(s, who, statement_id)
    return PlainTextResponse(
        service.statement_csv(st),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="statement-{st["id"]}.csv"'},
    )


@router.get("/earnings/statements/{statement_id}", response_class=HTMLResponse)
async def statement_page(request: Request, statement_id: str, who: PageUser) -> Response:
    async with request.app.state.db.session() as s:
        st = await service.statement(s, who, statement_id)
    return await render(request, "statement.html", {"st": st, "money": rules.money}, who=who)


def _admin(who: object) -> None:
    if not getattr(who, "is_admin", False):
        raise Forbidden("only admins run pay runs")


@router.get("/admin/payruns", response_class=HTMLResponse)
async def payruns_page(request: Request, who: PageUser) -> Response:
    _admin(who)
    async with request.app.state.db.session() as s:
        runs = await service.list_payruns(s, 200, None)
        settings = service.settings_out(await service.settings(s))
    now = request.app.state.clock.now()
    last_monday = rules.week_start(now.date()).toordinal() - 7
    return await render(
        request,
        "payruns.html",
        {
            "runs": runs,
            "settings": settings,
            "suggested": date.fromordinal(last_monday).isoformat(),
            "money": rules.money,
        },
        who=who,
    )


@router.post("/admin/payruns")
async def run_payrun(
    request: Request,
    who: PageUser,
    _csrf: CsrfForm,
    period_start: Annotated[str, Form(max_length=10)],
) -> Response:
    _admin(who)
    try:
        day = PayRunIn.model_validate({"period_start": period_start}).period_start
    except ValueError:
        raise invalid(["form", "period_start"], "a date, YYYY-MM-DD") from None
    async with request.app.state.db.session() as s:
        run, _ = await service.create_payrun(s, who, day, request.app.state.clock.now())
    return redirect(f"/admin/payruns/{run.id}")


@router.get("/admin/payruns/{payrun_id}", response_class=HTMLResponse)
async def payrun_page(request: Request, payrun_id: str, who: PageUser) -> Response:
    _admin(who)
    async with request.app.state.db.session() as s:
        run = await service.get_payrun(s, payrun_id)
        breakdown = await service.payrun_breakdown(s, run)
        payouts = await service.payout_rows(s, run)
    return await render(
        request,
        "payrun.html",
        {
            "run": service.payrun_out(run),
            "breakdown": breakdown,
            "payouts": payouts,
            "money": rules.money,
        },
        who=who,
    )


@router.get("/admin/payruns/{payrun_id}/payouts.csv")
async def payrun_csv(request: Request, payrun_id: str, who: PageUser) -> Response:
    _admin(who)
    async with request.app.state.db.session() as s:
        run = await service.get_payrun(s, payrun_id)
        rows = await service.payout_rows(s, run)
    return PlainTextResponse(
        service.payouts_csv(rows),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="payouts-{run.id}.csv"'},
    )


@router.post("/admin/payruns/{payrun_id}/payouts/{payout_id}/result")
async def payout_result(
    request: Request,
    payrun_id: str,
    payout_id: str,
    who: PageUser,
    _csrf: CsrfForm,
    status: Annotated[str, Form(max_length=10)],
    reference: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The page's "Paid" / "Failed" buttons: the same service as POST /payouts/{id}/result."""
    _admin(who)
    try:
        body = PayoutResultIn.model_validate({"status": status, "reference": reference.strip()})
    except ValueError:
        raise invalid(["form", "status"], "paid or failed") from None
    async with request.app.state.db.session() as s:
        run = await service.get_payrun(s, payrun_id)
        await service.record_result(
            s, payout_id, body, request.app.state.clock.now(), actor_id=who.id, payrun_id=run.id
        )
    return redirect(f"/admin/payruns/{run.id}")
