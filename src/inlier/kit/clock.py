"""Time comes from one place so that lease expiry and pay periods can be tested without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move this app's time forward (tests and simulations only)."""
        self._offset += delta


def iso(value: datetime | None) -> str | None:
    """RFC 3339 UTC; the database stores naive UTC."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"
