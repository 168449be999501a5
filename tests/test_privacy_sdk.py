"""The SDK's privacy and audit methods against a real server (see test_sdk.py)."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Iterator

import pytest

import inlier
from inlier.sdk import AuthenticationError, ConflictError, InvalidInputError, NotFoundError
from test_sdk import PASSWORD, Live, serve


@pytest.fixture
def live(db_url: str) -> Iterator[Live]:
    with serve(db_url) as running:
        yield running


def test_policies_consent_export_and_erasure_through_the_sdk(live: Live) -> None:
    admin = live.admin
    anonymous = live.client()
    with pytest.raises(NotFoundError):
        anonymous.current_policy()
    admin.publish_policy("v1", "# Privacy", changes="First version.")
    assert anonymous.current_policy()["version"] == "v1"
    with pytest.raises(ConflictError):
        admin.publish_policy("v1", "again")
    with pytest.raises(InvalidInputError) as bad:
        admin.publish_policy("v2", "x", effective_at="1999-01-01T00:00:00Z")
    assert bad.value.errors[0]["loc"] == ["body", "effective_at"]

    worker = live.person()
    me = worker.me()
    assert worker.accept_policy("v1")["policy_version"] == "v1"
    with zipfile.ZipFile(io.BytesIO(worker.data_export())) as zf:
        assert "README.md" in zf.namelist() and "account.json" in zf.namelist()

    worker.erase_me()
    assert worker.token is None
    with pytest.raises(AuthenticationError):
        worker.login(me["email"], PASSWORD)
    assert admin.erase_user(me["id"])["status"] == "erased"

    actions = [e["action"] for e in admin.audit(page_size=2)]
    assert actions.count("user.erase") == 1 and "policy.publish" in actions
    [erased] = list(admin.audit(action="user.erase", target=f"user:{me['id']}"))
    assert erased["actor"] == me["id"]


def test_the_async_client_reads_the_audit_log(live: Live) -> None:
    live.admin.publish_policy("v1", "# Privacy")

    async def go() -> list[str]:
        async with inlier.AsyncClient(live.url, token=live.admin.token) as admin:
            return [e["action"] async for e in admin.audit(action="policy.publish")]

    assert asyncio.run(go()) == ["policy.publish"]
