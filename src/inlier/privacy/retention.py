"""Retention: personal data kept only as long as it serves its purpose, then purged.

Client addresses (sign-in failures, consent records), drafts of tasks that ended, and read
notifications are deleted after the number of days the settings give. ``purge`` is idempotent
and set-based. On SQLite the ``inlier serve`` process runs it on a timer
(``INLIER_PURGE_EVERY_MINUTES``); on PostgreSQL job workers run it on a cron schedule
(``INLIER_PURGE_CRON``, see ``inlier.jobs``); ``inlier privacy purge`` runs it once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from inlier.accounts.models import LoginFailure
from inlier.db.engine import Database
from inlier.kit.clock import Clock
from inlier.notify.models import Notification
from inlier.privacy.models import Consent
from inlier.settings import Settings
from inlier.workflow.models import Assignment

log = structlog.get_logger()


@dataclass(frozen=True)
class Purged:
    sign_in_failures: int
    consent_addresses: int
    drafts: int
    notifications: int


async def purge(s: AsyncSession, settings: Settings, now: datetime) -> Purged:
    """Delete what has outlived its retention period; returns how many rows each step touched."""
    addresses = now - timedelta(days=settings.retention_address_days)
    drafts = now - timedelta(days=settings.retention_draft_days)
    notes = now - timedelta(days=settings.retention_notification_days)
    failures = await s.execute(delete(LoginFailure).where(LoginFailure.at < addresses))
    consents = await s.execute(
        update(Consent)
        .where(Consent.accepted_at < addresses, Consent.address_hash.is_not(None))
        .values(address_hash=None)
    )
    ended = await s.execute(
        update(Assignment)
        .where(
            Assignment.draft.is_not(None),
            Assignment.state != "active",
            Assignment.draft_saved_at < drafts,
        )
        .values(draft=None, draft_saved_at=None)
    )
    read = await s.execute(
        delete(Notification).where(Notification.read_at.is_not(None), Notification.read_at < notes)
    )
    counts = [getattr(r, "rowcount", 0) or 0 for r in (failures, consents, ended, read)]
    return Purged(*counts)


async def run_every(db: Database, settings: Settings, clock: Clock) -> None:
    """The server's purge timer: first run a minute after start, then every interval."""
    every = settings.purge_every_minutes * 60
    await asyncio.sleep(min(60, every))
    while True:
        try:
            async with db.session() as s:
                done = await purge(s, settings, clock.now())
            log.info("purged expired personal data", **vars(done))
        except Exception:  # the timer must outlive a failed run; the next one retries
            log.exception("purge failed")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def purging(db: Database, settings: Settings, clock: Clock) -> AsyncIterator[None]:
    """Run the purge timer for as long as the block lasts (the app's lifespan)."""
    if settings.purge_every_minutes <= 0:
        yield
        return
    task = asyncio.create_task(run_every(db, settings, clock))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
