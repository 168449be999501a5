"""Invariants of the queue, read straight from the database after any sequence of actions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text


async def check_invariants(db: Any, overlap: int) -> dict[str, int]:
    """Raise AssertionError if any rule of the queue is broken; return a few counts."""
    async with db.session() as s:

        async def rows(sql: str) -> list[Any]:
            return list((await s.execute(text(sql))).all())

        too_many = await rows(
            "SELECT item_id, COUNT(*) FROM responses WHERE stage = 'attempt' "
            f"AND status <> 'rejected' GROUP BY item_id HAVING COUNT(*) > {overlap}"
        )
        assert not too_many, f"items with more than {overlap} accepted attempts: {too_many}"
        twice = await rows(
            "SELECT item_id, user_id, COUNT(*) FROM responses "
            "GROUP BY item_id, user_id HAVING COUNT(*) > 1"
        )
        assert not twice, f"someone worked an item twice: {twice}"
        self_review = await rows(
            "SELECT r.id FROM responses r JOIN responses t ON t.id = r.target_response_id "
            "WHERE r.stage = 'review' AND r.user_id = t.user_id"
        )
        assert not self_review, f"self-reviews: {self_review}"
        two_leases = await rows(
            "SELECT user_id, project_id FROM assignments WHERE state = 'active' "
            "GROUP BY user_id, project_id HAVING COUNT(*) > 1"
        )
        assert not two_leases, f"people holding two leases: {two_leases}"
        orphan = await rows(
            "SELECT s.id FROM slots s LEFT JOIN assignments a ON a.id = s.assignment_id "
            "WHERE s.state = 'leased' AND (a.id IS NULL OR a.state <> 'active' "
            "OR a.user_id <> s.leased_by)"
        )
        assert not orphan, f"leased slots without their active assignment: {orphan}"
        ghost = await rows(
            "SELECT a.id FROM assignments a JOIN slots s ON s.id = a.slot_id "
            "WHERE a.state = 'active' AND (s.state <> 'leased' OR s.assignment_id <> a.id)"
        )
        assert not ghost, f"active assignments whose slot is not theirs: {ghost}"
        lost = await rows(
            "SELECT a.id FROM assignments a LEFT JOIN responses r ON r.id = a.response_id "
            "WHERE a.state = 'submitted' AND r.id IS NULL"
        )
        assert not lost, f"submitted assignments without their response: {lost}"
        done_without = await rows(
            "SELECT s.id FROM slots s WHERE s.state = 'done' AND s.stage = 'attempt' "
            "AND NOT EXISTS (SELECT 1 FROM responses r "
            "WHERE r.slot_id = s.id AND r.status <> 'rejected')"
        )
        assert not done_without, f"done attempt slots without an accepted response: {done_without}"
        counts = dict(await rows("SELECT state, COUNT(*) FROM slots GROUP BY state"))
        return {k: int(v) for k, v in counts.items()}
