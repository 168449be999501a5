"""REST routes for pay: rate cards, settings, earnings, statements, pay runs and payouts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from inlier.audit import service as audit
from inlier.kit.auth import Admin, CurrentUser, Tx
from inlier.kit.openapi import problems
from inlier.kit.pagination import Limit, decode_cursor, page
from inlier.pay import service
from inlier.pay.schemas import (
    EarningsOut,
    LocationTiersIn,
    PayoutOut,
    PayoutResultIn,
    PayRunIn,
    PayRunOut,
    PaySettingsIn,
    RateCardIn,
    StatementOut,
)
from inlier.projects import service as projects

router = APIRouter(tags=["pay"])
DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _now(request: Request) -> Any:
    return request.app.state.clock.now()


@router.put("/projects/{project_id}/rate-card", responses=problems(403, 404, 409))
async def put_rate_card(
    project_id: str, body: RateCardIn, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """A new version of the project's rate card, from ``effective_from`` on (never inside a
    closed pay period: 409)."""
    acc = await projects.manage(s, who, project_id)
    rc = await service.put_rate_card(s, acc.project, body, who, _now(request))
    return service.rate_card_out(rc)


@router.get("/projects/{project_id}/rate-card", responses=problems(404))
async def get_rate_card(
    project_id: str, who: CurrentUser, s: Tx, request: Request
) -> dict[str, Any]:
    """The card in force (rates, time cap, rejected-work policy), and the next one if any."""
    acc = await projects.access(s, who, project_id)
    return await service.rate_card_view(s, acc.project.id, _now(request))


@router.get("/projects/{project_id}/costs", responses=problems(403, 404))
async def project_costs(
    project_id: str,
    who: CurrentUser,
    s: Tx,
    request: Request,
    start: Annotated[
        str | None,
        Query(alias="from", pattern=DAY, description="first day (YYYY-MM-DD), included"),
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", pattern=DAY, description="last day (YYYY-MM-DD), included")
    ] = None,
) -> dict[str, Any]:
    """What the project's work cost (owners and admins): totals by stage, phase and kind of
    line, per approved item, per week, and per contributor pseudonym with the effective hourly
    wage (pay ÷ active time). Days are in the deployment's time zone, by acceptance."""
    acc = await projects.manage(s, who, project_id)
    first, last = service.parse_day(start, "from"), service.parse_day(end, "to")
    return await service.project_costs(s, acc.project, first, last, _now(request))


@router.get("/settings/pay", responses=problems())
async def get_pay_settings(who: CurrentUser, s: Tx) -> dict[str, Any]:
    return service.settings_out(await service.settings(s))


@router.put("/settings/pay", responses=problems(403, 409))
async def put_pay_settings(
    body: PaySettingsIn, who: Admin, s: Tx, request: Request
) -> dict[str, Any]:
    before = service.settings_out(await service.settings(s))
    after = service.settings_out(await service.put_settings(s, body, _now(request)))
    await audit.record(
        s, who.id, "settings.pay", "settings:pay", audit.changes(before, after), None
    )
    return after


@router.put("/settings/location-tiers", responses=problems(403))
async def put_location_tiers(
    body: Annotated[LocationTiersIn, Body()], who: Admin, s: Tx, request: Request
) -> dict[str, Any]:
    """Country (ISO 3166 alpha-2) → tier; a country not listed gets the default tier."""
    before = service.settings_out(await service.settings(s))
    after = service.settings_out(await service.put_location_tiers(s, body, _now(request)))
    diff = audit.changes(before, after)
    await audit.record(s, who.id, "settings.location_tiers", "settings:pay", diff, None)
    return after


@router.get("/me/earnings", response_model=EarningsOut, responses=problems())
async def my_earnings(
    who: CurrentUser,
    s: Tx,
    request: Request,
    period: Annotated[str, Query(max_length=20, description="current or YYYY-MM-DD")] = "current",
) -> dict[str, Any]:
    """The period's lines (with pending ones in the current period), each with its formula."""
    return await service.earnings(s, who, period, _now(request))


@router.get("/me/earnings/summary", responses=problems())
async def my_annual_summary(
    who: CurrentUser,
    s: Tx,
    request: Request,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    """Totals for a contractor's tax filing, and the payouts behind them."""
    now = _now(request)
    return await service.annual_summary(s, who, year or now.year, now)


@router.get("/me/statements", responses=problems())
async def my_statements(
    who: CurrentUser, s: Tx, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    rows = await service.my_statements(s, who, limit, decode_cursor(cursor))
    return page(rows, limit, key=lambda r: int(r["id"]))


@router.get("/statements/{statement_id}", response_model=StatementOut, responses=problems(404))
async def get_statement(statement_id: str, who: CurrentUser, s: Tx) -> dict[str, Any]:
    """Your statement, every line with its inputs and formula (admins: anyone's)."""
    return await service.statement(s, who, statement_id)


@router.post(
    "/payruns",
    status_code=201,
    response_model=PayRunOut,
    responses={
        **problems(403, 409),
        200: {"description": "The period was already paid: that pay run", "model": PayRunOut},
    },
)
async def create_payrun(body: PayRunIn, who: Admin, s: Tx, request: Request) -> Any:
    """Close one ended week into statements; repeating it returns the same run (200)."""
    run, created = await service.create_payrun(s, who, body.period_start, _now(request))
    return JSONResponse(service.payrun_out(run), status_code=201 if created else 200)


@router.get("/payruns", responses=problems(403))
async def list_payruns(
    who: Admin, s: Tx, limit: Limit = 50, cursor: str | None = None
) -> dict[str, Any]:
    rows = await service.list_payruns(s, limit, decode_cursor(cursor))
    return page(rows, limit, key=lambda r: int(r["id"]))


@router.get("/payruns/{payrun_id}", responses=problems(403, 404))
async def get_payrun(payrun_id: str, who: Admin, s: Tx) -> dict[str, Any]:
    run = await service.get_payrun(s, payrun_id)
    return {**service.payrun_out(run), "breakdown": await service.payrun_breakdown(s, run)}


@router.get(
    "/payruns/{payrun_id}/payouts.csv",
    response_class=PlainTextResponse,
    responses={**problems(403, 404), 200: {"content": {"text/csv": {}}}},
)
async def payouts_csv(payrun_id: str, who: Admin, s: Tx) -> PlainTextResponse:
    """One row per person paid, for a payment processor."""
    run = await service.get_payrun(s, payrun_id)
    text = service.payouts_csv(await service.payout_rows(s, run))
    return PlainTextResponse(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="payouts-{run.id}.csv"'},
    )


@router.get("/payruns/{payrun_id}/payouts.json", responses=problems(403, 404))
async def payouts_json(payrun_id: str, who: Admin, s: Tx) -> dict[str, Any]:
    run = await service.get_payrun(s, payrun_id)
    return {"data": await service.payout_rows(s, run)}


@router.post(
    "/payouts/{payout_id}/result", response_model=PayoutOut, responses=problems(403, 404, 409)
)
async def payout_result(
    payout_id: str, body: PayoutResultIn, who: Admin, s: Tx, request: Request
) -> dict[str, Any]:
    """paid or failed, with the processor's reference; a failed payout's amount comes back
    as an adjustment line."""
    return await service.record_result(s, payout_id, body, _now(request), actor_id=who.id)
