"""Invariants of the queue, read straight from the database after any sequence of actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

# Each rule is a query for the rows that break it, and what it means when it finds any.
RULES: list[tuple[str, str]] = [
    # An item's attempt slots are its replicas: the overlap, or more under dynamic overlap (up
    # to its max, which callers pass as :overlap); accepted attempts never outnumber them.
    (
        "SELECT item_id, COUNT(*) FROM slots WHERE stage = 'attempt' "
        "GROUP BY item_id HAVING COUNT(*) > :overlap",
        "items with more attempt slots than the overlap allows",
    ),
    (
        "SELECT r.item_id, COUNT(*) FROM responses r WHERE r.stage = 'attempt' "
        "AND r.status <> 'rejected' GROUP BY r.item_id HAVING COUNT(*) > "
        "(SELECT COUNT(*) FROM slots s WHERE s.item_id = r.item_id AND s.stage = 'attempt')",
        "items with more accepted attempts than attempt slots",
    ),
    (
        "SELECT item_id, user_id, COUNT(*) FROM responses "
        "GROUP BY item_id, user_id HAVING COUNT(*) > 1",
        "someone worked an item twice",
    ),
    (
        "SELECT r.id FROM responses r JOIN responses t ON t.id = r.target_response_id "
        "WHERE r.stage = 'review' AND r.user_id = t.user_id",
        "someone reviewed their own work",
    ),
    (
        "SELECT user_id, project_id FROM assignments WHERE state = 'active' "
        "GROUP BY user_id, project_id HAVING COUNT(*) > 1",
        "someone holds two leases on one project",
    ),
    (
        "SELECT s.id FROM slots s LEFT JOIN assignments a ON a.id = s.assignment_id "
        "WHERE s.state = 'leased' AND (a.id IS NULL OR a.state <> 'active' "
        "OR a.user_id <> s.leased_by)",
        "leased slots without their active assignment",
    ),
    (
        "SELECT a.id FROM assignments a JOIN slots s ON s.id = a.slot_id "
        "WHERE a.state = 'active' AND (s.state <> 'leased' OR s.assignment_id <> a.id)",
        "active assignments whose slot is not theirs",
    ),
    (
        "SELECT a.id FROM assignments a LEFT JOIN responses r ON r.id = a.response_id "
        "WHERE a.state = 'submitted' AND r.id IS NULL",
        "submitted assignments without their response (lost work)",
    ),
    (
        "SELECT s.id FROM slots s WHERE s.state = 'done' AND s.stage = 'attempt' "
        "AND NOT EXISTS (SELECT 1 FROM responses r "
        "WHERE r.slot_id = s.id AND r.status <> 'rejected')",
        "done attempt slots without an accepted response",
    ),
]


async def check_invariants(db: Any, overlap: int) -> dict[str, int]:
    """Raise AssertionError if any rule of the queue is broken; return slot counts by state.
    ``overlap`` is the most attempts an item may get (a dynamic overlap's ``max``)."""
    async with db.session() as s:
        for sql, meaning in RULES:
            broken = (await s.execute(text(sql), {"overlap": overlap})).all()
            assert not broken, f"{meaning}: {broken}"
        counts = (await s.execute(text("SELECT state, COUNT(*) FROM slots GROUP BY state"))).all()
        return {state: int(n) for state, n in counts}
