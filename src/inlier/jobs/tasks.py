"""The jobs workers run. Each is idempotent and holds a procrastinate lock, so that two workers
never run it at once, and a queueing lock, so that at most one waits in the queue.

Periodic tasks are deferred by every worker's scheduler; procrastinate records each tick once
(``procrastinate_periodic_defers``), so N workers defer a tick once, not N times.
"""

from __future__ import annotations

from typing import Any

import procrastinate
import structlog

from inlier.db.engine import Database
from inlier.kit.clock import Clock
from inlier.notify import mail
from inlier.privacy import retention
from inlier.settings import Settings

log = structlog.get_logger()

PURGE = "inlier.privacy.purge"
SEND_MAIL = "inlier.notify.send_mail"
#: Emails one run sends at most (claimed 100 at a time); the rest wait for the next run.
MAIL_PER_RUN = 1000
MAIL_BATCH = 100


def register(
    app: procrastinate.App,
    settings: Settings,
    db: Database,
    clock: Clock,
    *,
    sender: mail.MailSender | None = None,
) -> None:
    """Register our tasks on ``app``, scheduled by ``INLIER_PURGE_CRON`` and
    ``INLIER_MAIL_CRON`` (the outbox only when there is a way to send: an SMTP host)."""

    async def purge(timestamp: int) -> None:
        """Delete what has outlived its retention period (``timestamp``: the cron tick, unused:
        the purge looks at the clock when it runs)."""
        async with db.session() as s:
            done = await retention.purge(s, settings, clock.now())
        log.info("purged expired personal data", job=PURGE, **vars(done))

    purge_task: Any = app.task(name=PURGE, lock=PURGE, queueing_lock=PURGE)(purge)
    if settings.purge_cron:
        app.periodic(cron=settings.purge_cron)(purge_task)

    if sender is None and settings.smtp_host:
        sender = mail.SmtpSender(settings)
    if sender is None:
        return
    outgoing = sender

    async def send_mail(timestamp: int) -> None:
        """Deliver due emails from the outbox, as `inlier mail send` does."""
        total = mail.Delivery()
        while total.done < MAIL_PER_RUN:
            step = await mail.deliver_pending(db, outgoing, MAIL_BATCH, now=clock.now)
            if not step.done:
                break
            total.sent += step.sent
            total.retried += step.retried
            total.failed += step.failed
        if total.done:
            log.info(
                "sent the outbox",
                job=SEND_MAIL,
                sent=total.sent,
                retried=total.retried,
                failed=total.failed,
            )

    mail_task: Any = app.task(name=SEND_MAIL, lock=SEND_MAIL, queueing_lock=SEND_MAIL)(send_mail)
    if settings.mail_cron:
        app.periodic(cron=settings.mail_cron)(mail_task)
