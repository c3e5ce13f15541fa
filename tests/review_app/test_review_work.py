"""Quality leads' queue and call-page work (issues 15 and 18) through the real app on both
databases: safeguarding calls pinned for every lead and acted on, assignment, save-and-next,
and two leads' agreement with each other."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest
import yaml
from review_helpers import Env, csrf_of, password_hash
from sqlalchemy import select

from review.db import Assignment, AuditEntry, Review, User
from review.export import REVIEWER_AGREEMENT_COLUMNS, reviewer_agreement
from review.users import set_scope

VULNERABILITY_YAML = Path(__file__).resolve().parents[2] / "models" / "vulnerability.yaml"
CHILD_AT_RISK = next(
    v["label"]
    for v in yaml.safe_load(VULNERABILITY_YAML.read_text())["vulnerabilities"]
    if v["id"] == "child_at_risk"
)
#: The queue's links to call pages: the call id before any carried query.
CALL_LINK = re.compile(r'href="/calls/([^"?/]+)')


def _add_lead(env: Env, name: str, *, active: bool = True, role: str = "quality_lead") -> int:
    with env.app.state.sessionmaker() as db:
        user = User(name=name, role=role, password_hash=password_hash(), active=active)
        db.add(user)
        db.commit()
        return user.id


def _audit(env: Env, action: str) -> list[AuditEntry]:
    with env.app.state.sessionmaker() as db:
        return list(
            db.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def _post(client, call_id: str, path: str, **fields: str):
    token = csrf_of(client, f"/calls/{call_id}")
    return client.post(f"/calls/{call_id}/{path}", data={"csrf_token": token, **fields})


def test_safeguarding_call_is_first_for_every_lead_whatever_the_filters_and_scope(
    env: Env,
) -> None:
    b = env.built
    calls = env.app.state.store.calls().set_index("call_id")
    assert calls.loc[b.safeguarding, "queue"] == "housing"
    lena = env.client("lena")
    for query in (
        "",
        "queue=parking&flag=avoidable",
        "status=reviewed",
        f"date_from={b.dates[0]}&date_to={b.dates[0]}",
        "assigned=me",
        "team=Red&reason=parking",
    ):
        page = lena.get(f"/queue?{query}").text
        links = CALL_LINK.findall(page)
        assert links[0] == b.safeguarding, query
        assert links.count(b.safeguarding) == 1
        assert "Pinned until reviewed: " + CHILD_AT_RISK in page and "Safeguarding" in page
    # A lead whose scope leaves out the call's queue sees it first too, marked as outside it,
    # and can open, hear and act on it; other calls outside their scope stay closed.
    _add_lead(env, "lou")
    set_scope(env.db_url, "lou", ["queue:parking"])
    lou = env.client("lou")
    page = lou.get("/queue?flag=complaint").text
    links = CALL_LINK.findall(page)
    assert links[0] == b.safeguarding and "Outside your queues" in page
    assert all(calls.loc[c, "queue"] == "parking" for c in links[1:])
    call_page = lou.get(f"/calls/{b.safeguarding}")
    assert call_page.status_code == 200 and "This call is outside your queues" in call_page.text
    assert lou.get(f"/calls/{b.safeguarding}?view=restricted").status_code == 200
    src = re.search(r'<audio[^>]*src="([^"]+)"', call_page.text)
    assert src and lou.get(src.group(1).replace("&amp;", "&")).status_code == 200
    other_housing = next(
        c for c in b.flagged if calls.loc[c, "queue"] == "housing" and c != b.safeguarding
    )
    assert lou.get(f"/calls/{other_housing}").status_code == 403
    assert _post(lou, b.safeguarding, "review", action="save").status_code == 303
    # Other pages keep the scope: the housing-only agent filter choice is not offered.
    assert 'value="housing"' not in lou.get("/queue").text
    # Once reviewed it is no longer pinned: out of the default queue, out of lou's queue.
    assert _post(lena, b.safeguarding, "review", action="reviewed").status_code == 303
    assert b.safeguarding not in CALL_LINK.findall(lena.get("/queue?queue=parking").text)
    assert b.safeguarding not in CALL_LINK.findall(lou.get("/queue?status=all").text)
    assert b.safeguarding in CALL_LINK.findall(lena.get("/queue?status=reviewed").text)
    assert lou.get(f"/calls/{b.safeguarding}").status_code == 200  # still a safeguarding call


def test_call_page_banner_links_to_the_highlighted_vulnerability_evidence(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    page = lena.get(f"/calls/{b.safeguarding}").text
    banner = page[
        page.index('class="safeguarding-banner"') : page.index(
            "</div>", page.index('class="safeguarding-banner"')
        )
    ]
    assert "Safeguarding: the caller may be at risk" in banner and CHILD_AT_RISK in banner
    turn = re.search(r'href="#turn-(\d+)"', banner)
    assert turn
    item = page[page.index(f'id="turn-{turn.group(1)}"') :]
    item = item[: item.index("</li>")]
    assert "<mark>left on his own since Friday</mark>" in item and CHILD_AT_RISK in item
    assert page.index("safeguarding-banner") < page.index("<h1")
    assert 'name="safeguarding_action"' in page
    plain = lena.get(f"/calls/{b.flagged[0]}").text
    assert "safeguarding-banner" not in plain and 'name="safeguarding_action"' not in plain
    # Why each call is in the queue, as labels, on the call page and in the queue.
    assert "Complaint" in plain[plain.index("Why it is in the queue") :]
    queue = lena.get("/queue").text
    assert "Why it is here" in queue and "Not done: asked if there was anything else" in queue


def test_safeguarding_action_is_stored_audited_shown_and_exported(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    call = b.safeguarding
    refused = _post(lena, call, "review", action="reviewed", safeguarding_action="no_action")
    assert refused.status_code == 400 and "why no action was taken" in refused.text
    plain = _post(lena, b.flagged[0], "review", action="save", safeguarding_action="police")
    assert plain.status_code == 400  # not a safeguarding call
    assert _post(lena, call, "review", action="save", safeguarding_action="x").status_code == 400
    with env.app.state.sessionmaker() as db:
        assert db.scalars(select(Review)).first() is None
    saved = _post(
        lena,
        call,
        "review",
        action="reviewed",
        tag_complaint="agree",
        safeguarding_action="police",
        safeguarding_note="Reported, reference 4471",
    )
    assert saved.status_code == 303
    assert (
        _post(
            lena,
            call,
            "review",
            action="reviewed",
            tag_complaint="agree",
            safeguarding_action="no_action",
            safeguarding_note="Police already attending",
        ).status_code
        == 303
    )
    with env.app.state.sessionmaker() as db:
        rows = list(db.scalars(select(Review).where(Review.call_id == call).order_by(Review.id)))
    assert [(r.safeguarding_action, r.safeguarding_note) for r in rows] == [
        ("police", "Reported, reference 4471"),
        ("no_action", "Police already attending"),
    ]
    logged = _audit(env, "safeguarding_action")
    assert [(e.user_name, e.target, e.detail) for e in logged] == [
        ("lena", call, "police"),
        ("lena", call, "no_action"),
    ]
    history = lena.get(f"/calls/{call}").text
    history = history[history.index("Review history") :]
    assert "safeguarding: Referred to the police" in history
    assert "safeguarding: No action (Police already attending)" in history
    exported = pd.read_parquet(env.built.out_dir / "reviews" / "reviews.parquet")
    mine = exported[exported["call_id"] == call]
    assert not mine.empty and set(mine["safeguarding_action"]) == {"no_action"}
    assert "safeguarding_note" not in exported.columns  # free text stays in the database


def test_a_call_is_assigned_to_an_active_lead_and_the_queue_filters_by_it(env: Env) -> None:
    b = env.built
    lou_id = _add_lead(env, "lou")
    old_id = _add_lead(env, "old", active=False)
    lena = env.client("lena")
    call = b.flagged[1]
    page = lena.get(f"/calls/{call}").text
    assert f'<option value="{lou_id}">lou</option>' in page and ">old<" not in page
    for bad in (str(old_id), str(env.user_ids["sam"]), "abc", "999"):
        assert _post(lena, call, "assign", user_id=bad).status_code == 400, bad
    assert _post(lena, call, "assign", user_id=str(lou_id)).status_code == 303
    assert f'<option value="{lou_id}" selected>lou</option>' in lena.get(f"/calls/{call}").text
    lou = env.client("lou")
    assert CALL_LINK.findall(lou.get("/queue?assigned=me").text) == [b.safeguarding, call]
    assert call not in CALL_LINK.findall(lena.get("/queue?assigned=me").text)
    unassigned = CALL_LINK.findall(lena.get("/queue?assigned=none&status=all").text)
    unassigned += CALL_LINK.findall(lena.get("/queue?assigned=none&status=all&page=2").text)
    assert call not in unassigned and set(unassigned) == set(b.flagged) - {call}
    assert "<td>lou</td>" in lou.get("/queue?assigned=me").text
    # Reassigned to lena, then to nobody: one row at most, every change audited.
    assert _post(lena, call, "assign", user_id=str(env.user_ids["lena"])).status_code == 303
    assert call in CALL_LINK.findall(lena.get("/queue?assigned=me").text)
    assert _post(lena, call, "assign", user_id="").status_code == 303
    with env.app.state.sessionmaker() as db:
        assert db.scalars(select(Assignment)).all() == []
    assert [(e.target, e.detail) for e in _audit(env, "assign_call")] == [
        (call, "to lou"),
        (call, "to lena"),
        (call, "unassigned"),
    ]


def test_save_and_next_walks_the_filtered_queue_then_returns_to_it(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    filters = "queue=parking&flag=complaint&status=to_review"
    order = CALL_LINK.findall(lena.get(f"/queue?{filters}").text)
    calls = env.app.state.store.calls().set_index("call_id")
    assert order[0] == b.safeguarding and len(order) >= 3
    assert all(calls.loc[c, "queue"] == "parking" for c in order[1:])
    # The queue's links carry its filters; the call page puts them in the form.
    assert f'href="/calls/{order[1]}?queue_query=' in lena.get(f"/queue?{filters}").text
    page = lena.get(f"/calls/{order[1]}?queue_query=queue%3Dparking%26flag%3Dcomplaint")
    assert 'name="queue_query" value="queue=parking&amp;flag=complaint&amp;status=to_review"' in (
        page.text
    )
    visited = []
    current = order[0]
    for _ in range(len(order)):
        visited.append(current)
        answer = _post(
            lena, current, "review", action="next", tag_complaint="agree", queue_query=filters
        )
        assert answer.status_code == 303
        where = urlsplit(answer.headers["location"])
        if where.path == "/queue":
            break
        assert parse_qs(where.query) == {"saved": ["next"], "queue_query": [filters]}
        current = where.path.removeprefix("/calls/")
        assert "This is the next call in the queue" in lena.get(answer.headers["location"]).text
    assert visited == order
    assert parse_qs(where.query) == {
        "queue": ["parking"],
        "flag": ["complaint"],
        "status": ["to_review"],
        "done": ["1"],
    }
    end = lena.get(answer.headers["location"]).text
    assert "You have reached the end of the queue." in end
    assert CALL_LINK.findall(end) == []  # every one of them is reviewed now
    with env.app.state.sessionmaker() as db:
        done = {r.call_id for r in db.scalars(select(Review).where(Review.reviewed))}
    assert done == set(order)
    # Plain "Mark as reviewed" stays on the call and keeps the queue's filters for the way back.
    again = _post(lena, order[1], "review", action="reviewed", queue_query=filters)
    assert parse_qs(urlsplit(again.headers["location"]).query)["queue_query"] == [filters]


def test_two_leads_agreement_per_month_and_tag(env: Env) -> None:
    b = env.built
    _add_lead(env, "lou")
    lena, lou = env.client("lena"), env.client("lou")
    first, second, third, fourth, fifth = b.flagged[:5]
    # (call, lena's complaint, lou's complaint, lena's reason, lou's reason) verdicts.
    verdicts = [
        (first, "agree", "agree", "agree", "agree"),
        (second, "agree", "disagree", "agree", "agree"),
        (third, "disagree", "disagree", "agree", "disagree"),
        (fourth, "disagree", "disagree", "agree", "agree"),
    ]
    # lena's first verdict on `first` is replaced by her later one: only the newest counts.
    _post(lena, first, "review", action="reviewed", tag_complaint="disagree")
    for call, lena_c, lou_c, lena_r, lou_r in verdicts:
        for client, c, r in ((lena, lena_c, lena_r), (lou, lou_c, lou_r)):
            answer = _post(
                client, call, "review", action="reviewed", tag_complaint=c, tag_primary_reason=r
            )
            assert answer.status_code == 303
    _post(lena, fifth, "review", action="reviewed", tag_complaint="agree")  # one lead only
    _post(lou, fifth, "review", action="save", tag_complaint="disagree")  # a draft: not counted
    table = reviewer_agreement(b.out_dir)
    assert list(table.columns) == REVIEWER_AGREEMENT_COLUMNS
    got = table.set_index("tag")
    assert set(table["month"]) == {b.month}
    # Hand-counted. complaint: same verdict on 3 of 4; lena agreed 2/4, lou 1/4, so chance
    # agreement is 0.5*0.25 + 0.5*0.75 = 0.5 and kappa (0.75 - 0.5) / (1 - 0.5) = 0.5.
    assert got.loc["complaint", "n_calls"] == 4 and got.loc["complaint", "n_agree"] == 3
    assert got.loc["complaint", "agreement"] == pytest.approx(0.75)
    assert got.loc["complaint", "kappa"] == pytest.approx(0.5)
    # primary_reason: 3 of 4; lena always agreed, lou 3/4: chance 0.75, kappa 0.
    assert got.loc["primary_reason", "n_calls"] == 4
    assert got.loc["primary_reason", "agreement"] == pytest.approx(0.75)
    assert got.loc["primary_reason", "kappa"] == pytest.approx(0.0)
    assert reviewer_agreement(b.out_dir, month="1999-01").empty
    dashboard = lena.get("/dashboard").text
    section = dashboard[dashboard.index('id="reviewer-agreement"') :]
    assert "Do reviewers agree with each other?" in dashboard
    assert "Caller made a complaint" in section and "75%" in section and "0.50" in section


def test_safeguarding_notes_are_emptied_with_the_other_notes(env: Env) -> None:
    from datetime import UTC, date, datetime

    from review.retention import erase_review_notes, purge_review_rows

    recent = datetime(2025, 6, 30, tzinfo=UTC)
    with env.app.state.sessionmaker() as db:
        for call_id, saved in (("old", datetime(2024, 1, 2, tzinfo=UTC)), ("new", recent)):
            db.add(
                Review(
                    call_id=call_id,
                    reviewer="lena",
                    created_at=saved,
                    reviewed=True,
                    safeguarding_action="no_action",
                    safeguarding_note=f"mother named on the call ({call_id})",
                )
            )
        db.add(Review(call_id="kept", reviewer="lena", created_at=recent, safeguarding_note="x"))
        db.commit()
    purge_review_rows(env.db_url, date(2025, 7, 1), keep_review_notes_days=365, keep_audit_days=0)
    assert erase_review_notes(env.db_url, ["new"]) == 1  # a subject-access erasure
    with env.app.state.sessionmaker() as db:
        notes = {
            r.call_id: (r.safeguarding_action, r.safeguarding_note)
            for r in db.scalars(select(Review))
        }
    # The notes go; what was done stays.
    assert notes == {"old": ("no_action", ""), "new": ("no_action", ""), "kept": (None, "x")}
