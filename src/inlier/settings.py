"""One settings object for the whole deployment, read from ``INLIER_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INLIER_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./inlier.db",
        description="sqlite:///path.db or postgresql://user@host/db",
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Signs session cookies; when unset a key is generated once and kept in the database."
        ),
    )
    login_max_failures: int = 10
    login_window_minutes: int = 15
    max_body_bytes: int = 16 * 1024 * 1024
    # `next` and `submit` answered before FastAPI's routing (inlier/workflow/hot.py); off, the
    # routes answer everything (for comparing the two).
    hot_path: bool = True
    db_pool_size: int = 10
    log_level: str = "INFO"
    log_json: bool = True
    idempotency_hours: int = 24
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=8)
    llm_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long a model provider may stay silent (connect, or between bytes).",
    )
    forum_posts_per_minute: int = Field(
        default=10, ge=1, description="Posts (threads and replies) one person may make a minute."
    )
    data_dir: Path = Field(
        default=Path("./inlier-data"),
        description="Where files the platform keeps live (dataset snapshots); created on demand.",
    )
    # Outgoing mail (notifications sent by email). No host: mail stays in the outbox.
    retention_address_days: int = Field(
        default=30, ge=1, description="days client addresses (sign-in failures, consents) are kept"
    )
    retention_draft_days: int = Field(
        default=30, ge=1, description="days a draft is kept after its task ended"
    )
    retention_notification_days: int = Field(
        default=90, ge=1, description="days a read notification is kept"
    )
    purge_every_minutes: int = Field(
        default=60, ge=0, description="SQLite: how often the server purges expired data (0: never)"
    )
    # Background jobs on PostgreSQL (procrastinate); see inlier.jobs.
    purge_cron: str = Field(
        default="7 * * * *",
        description="PostgreSQL: when workers purge expired data (cron; empty: never)",
    )
    mail_cron: str = Field(
        default="* * * * *",
        description="PostgreSQL: when workers send the email outbox, if INLIER_SMTP_HOST is set "
        "(cron; empty: never)",
    )
    worker_in_server: bool = Field(
        default=True,
        description="PostgreSQL: every `inlier serve` process also runs a job worker; turn off "
        "when dedicated `inlier worker` processes run the jobs",
    )
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Inlier <inlier@localhost>"
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("purge_cron", "mail_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        value = value.strip()
        if value and not croniter.is_valid(value):
            raise ValueError(f"not a cron schedule: {value!r} (e.g. '7 * * * *')")
        return value


def async_database_url(url: str) -> str:
    """Map the user-facing URL to the async driver SQLAlchemy needs."""
    if url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://"):
        return url
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"unsupported database URL: {url!r} (use sqlite:/// or postgresql://)")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")
