"""Users as admins see them."""

from __future__ import annotations

from conftest import World


async def test_the_user_list_pages_and_shows_each_users_skills(world: World) -> None:
    admin = await world.admin()
    people = [await world.user() for _ in range(3)]
    await admin.put(f"/users/{people[0].id}/skills/medicine.cardiology", json={"level": 3})
    await admin.put(f"/users/{people[2].id}/skills/math.olympiad", json={"level": 5})
    first = (await admin.get("/users?limit=2")).json()
    rest = (await admin.get(f"/users?limit=2&cursor={first['next_cursor']}")).json()
    assert rest["next_cursor"] is None
    listed = {u["email"]: u["skills"] for u in first["data"] + rest["data"]}
    assert len(listed) == 4  # the admin and three people
    assert listed[people[0].email] == {"medicine.cardiology": 3}
    assert listed[people[1].email] == {}
    assert listed[people[2].email] == {"math.olympiad": 5}
    assert (await people[0].get("/users")).status_code == 403
