"""Agreement: Krippendorff's alpha per question, checked against values computed by hand,
and each contributor's agreement with the per-item majority."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import World
from inlier.datasets.agreement import alpha, majority

TEMPLATE: dict[str, Any] = {
    "fields": [{"name": "prompt", "type": "markdown"}],
    "questions": [
        {"name": "topic", "type": "label", "options": {"labels": ["a", "b"]}},
        {"name": "score", "type": "rating", "options": {"min": 1, "max": 5}},
        {"name": "note", "type": "text", "required": False},
    ],
}


def units(*values: list[Any]) -> dict[Any, list[tuple[int, Any]]]:
    return {u: list(enumerate(vs)) for u, vs in enumerate(values)}


def test_nominal_alpha_by_hand() -> None:
    # n = 6, n_a = n_b = 3, one disagreeing pair each way: 1 - 5 * 2 / (2 * 3 * 3) = 4/9.
    assert alpha(units(["a", "a"], ["b", "b"], ["a", "b"]), "nominal") == pytest.approx(4 / 9)


def test_interval_and_ordinal_alpha_by_hand() -> None:
    data = units([1, 2], [3, 3])
    # interval: D_o sum = 2 (1^2 twice); D_e sum = 2*(1*1*1) + 2*(1*2*4) + 2*(1*2*1) = 22.
    assert alpha(data, "interval") == pytest.approx(1 - 3 * 2 / 22)
    # ordinal (n_1 = 1, n_2 = 1, n_3 = 2): d(1,2) = 1, d(1,3) = 6.25, d(2,3) = 2.25.
    assert alpha(data, "ordinal") == pytest.approx(1 - 3 * 2 / 36)


def test_alpha_is_undefined_without_variation_or_pairs() -> None:
    assert alpha(units(["a", "a"], ["a", "a"]), "nominal") is None
    assert alpha(units(["a"], ["b"]), "nominal") is None
    assert alpha(units(["a", "a"], ["b", "b"]), "nominal") == 1.0


def test_alpha_matches_the_krippendorff_package() -> None:
    import krippendorff
    import numpy as np

    rng = np.random.default_rng(5)
    # 4 coders, 30 units, values 1..5 with some missing.
    data = rng.integers(1, 6, size=(4, 30)).astype(float)
    data[rng.random(data.shape) < 0.2] = np.nan
    units = {
        u: [(c, int(data[c, u])) for c in range(4) if not np.isnan(data[c, u])] for u in range(30)
    }
    for ours, theirs in (("nominal", "nominal"), ("interval", "interval"), ("ordinal", "ordinal")):
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement=theirs)
        assert alpha(units, ours) == pytest.approx(expected, abs=1e-9)


def test_majority_needs_more_than_half() -> None:
    assert majority(["a", "a", "b"]) == "a" and majority(["a", "b"]) is None


async def test_agreement_per_question_and_per_contributor(world: World) -> None:
    owner = await world.user("owner")
    proj = await world.project(owner, template=TEMPLATE, workflow={"overlap": 3})
    pid = proj["id"]
    items = [{"external_id": f"i{n}", "data": {"prompt": f"P{n}"}} for n in range(3)]
    await world.items(owner, pid, items)
    # Three contributors on three items; the third disagrees on one label.
    plan = {
        0: {"P0": ("a", 1), "P1": ("b", 2), "P2": ("a", 3)},
        1: {"P0": ("a", 1), "P1": ("b", 2), "P2": ("a", 3)},
        2: {"P0": ("b", 2), "P1": ("b", 2), "P2": ("a", 3)},
    }
    for k in range(3):
        w = await world.user()
        await world.member(owner, pid, w)
        while (r := await w.next(pid)).status_code == 200:
            topic, score = plan[k][r.json()["item"]["data"]["prompt"]]
            answer = {"topic": topic, "score": score}
            s = await w.post(f"/assignments/{r.json()['id']}/submit", json={"answer": answer})
            assert s.status_code == 201, s.text
    r = await owner.get(f"/projects/{pid}/agreement")
    assert r.status_code == 200, r.text
    got = r.json()
    # topic: units a,a,b | b,b,b | a,a,a; n = 9, n_a = 5, n_b = 4; one unit disagrees:
    # o_ab = o_ba = 2/2 = 1 -> 1 - 8 * 2 / (2 * 5 * 4) = 0.6.
    assert got["questions"]["topic"] == {"alpha": pytest.approx(0.6), "method": "nominal",
                                         "items": 3}  # fmt: skip
    # score: 1,1,2 | 2,2,2 | 3,3,3; n_1 = 2, n_2 = 4, n_3 = 3.
    # D_o sum = 2 * (2*1/2) * 1 = 2; D_e sum = 2*(2*4*1 + 2*3*4 + 4*3*1) = 88.
    assert got["questions"]["score"]["alpha"] == pytest.approx(1 - 8 * 2 / 88)
    assert got["questions"]["score"]["method"] == "interval"
    assert got["questions"]["note"] == {"alpha": None, "method": "unsupported", "items": 0}
    # The project's alpha: the questions' alphas weighted by their items (3 and 3).
    assert got["project"] == {"alpha": pytest.approx((0.6 + 1 - 16 / 88) / 2), "questions": 2}
    accuracies = sorted((c["accuracy"], c["n"]) for c in got["contributors"])
    assert accuracies == [(pytest.approx(2 / 3), 3), (1.0, 3), (1.0, 3)]
    assert all(c["pseudonym"].startswith("c_") for c in got["contributors"])
    w = await world.user()
    assert (await w.get(f"/projects/{pid}/agreement")).status_code == 404
