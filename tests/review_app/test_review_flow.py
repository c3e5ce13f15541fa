"""Quality leads' work end to end through the API: queue, review, export, agreement; admin."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pandas as pd
import pytest
from builder import BuiltOutput
from review_helpers import PASSWORD, Env, app_options, csrf_of
from sqlalchemy import create_engine, inspect, select, text

from pipeline.errors import CallQAError
from review.app import create_app
from review.db import AuditEntry, PackGrant
from review.export import AGREEMENT_COLUMNS, agreement
from review.users import add_user


def _review(client, call_id: str, **fields: str):
    token = csrf_of(client, f"/calls/{call_id}")
    return client.post(f"/calls/{call_id}/review", data={"csrf_token": token, **fields})


def test_queue_lists_flagged_calls_most_urgent_first_and_filters(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    shown = []
    for number in (1, 2):
        shown += re.findall(r'href="/calls/([^"?]+)', lena.get(f"/queue?page={number}").text)
    assert "Page 1 of 2" in lena.get("/queue").text
    assert sorted(shown) == sorted(b.flagged)  # every flagged call, nothing else
    scores = env.app.state.store.calls().set_index("call_id")
    complaints = [scores.loc[c, "complaint"] for c in shown]
    assert complaints == sorted(complaints, reverse=True)  # complaints first
    # The open safeguarding call is pinned first whatever the filters; the rest match them.
    pinned, *only = re.findall(
        r'href="/calls/([^"?]+)', lena.get("/queue?queue=parking&flag=complaint").text
    )
    assert pinned == b.safeguarding and scores.loc[pinned, "queue"] != "parking"
    assert only and all(
        scores.loc[c, "queue"] == "parking" and scores.loc[c, "complaint"] for c in only
    )
    _, *day = re.findall(
        r'href="/calls/([^"?]+)',
        lena.get(f"/queue?date_from={b.dates[1]}&date_to={b.dates[1]}").text,
    )
    assert day and all(scores.loc[c, "call_date"] == b.dates[1] for c in day)
    _, *reason = re.findall(r'href="/calls/([^"?]+)', lena.get("/queue?reason=online_account").text)
    assert reason and all("online_account" in scores.loc[c, "contact_reasons"] for c in reason)
    # A reviewed call leaves the default queue and shows under "Reviewed".
    assert _review(lena, shown[0], action="reviewed").status_code == 303
    assert shown[0] not in lena.get("/queue").text
    assert shown[0] in lena.get("/queue?status=reviewed").text


def test_call_page_marks_evidence_and_shows_unredacted_only_on_request(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    call = b.flagged[0]  # call 0: a complaint
    page = lena.get(f"/calls/{call}").text
    assert "<mark>I want to make a complaint</mark>" in page
    assert "[PERSON_NAME]" in page and b.secrets[0] not in page
    full = lena.get(f"/calls/{call}?view=restricted").text
    assert b.secrets[0] in full and "Your viewing has been recorded" in full
    assert 'data-seek="' in page and f'src="/calls/{call}/audio?listen=' in page


def test_reviews_are_exported_and_agreement_computed(env: Env) -> None:
    b = env.built
    lena = env.client("lena")
    first, second, third = b.flagged[:3]
    _review(
        lena,
        first,
        action="reviewed",
        tag_primary_reason="agree",
        tag_complaint="agree",
        notes="Good call",
    )
    _review(
        lena,
        second,
        action="reviewed",
        tag_primary_reason="agree",
        tag_complaint="disagree",
        corrected_primary_reason="benefits",
    )
    _review(lena, third, action="save", tag_primary_reason="disagree")  # a draft: not counted
    reviews = pd.read_parquet(b.out_dir / "reviews" / "reviews.parquet")
    assert set(reviews["call_id"]) == {first, second, third}
    assert "notes" not in reviews.columns  # free text stays in the database
    row = reviews[(reviews["call_id"] == second) & (reviews["tag"] == "complaint")].iloc[0]
    assert not row["agree"] and row["corrected_primary_reason"] == "benefits"
    assert row["call_date"] == env.app.state.store.call(second)["call_date"]
    table = agreement(b.out_dir).set_index("tag")
    assert list(agreement(b.out_dir).columns) == AGREEMENT_COLUMNS
    assert (
        table.loc["primary_reason", "n_reviewed"] == 2
        and table.loc["primary_reason", "agreement"] == 1.0
    )
    assert table.loc["complaint", "n_agree"] == 1 and table.loc["complaint", "agreement"] == 0.5
    assert 0 <= table.loc["complaint", "ci_low"] < 0.5 < table.loc["complaint", "ci_high"] <= 1
    assert agreement(b.out_dir, month="1999-01").empty
    saved = pd.read_parquet(b.out_dir / "reviews" / "agreement.parquet").set_index("tag")
    assert saved.loc["complaint", "agreement"] == 0.5
    # A later review of the same call replaces the earlier one in the export.
    _review(lena, second, action="reviewed", tag_complaint="agree")
    assert agreement(b.out_dir).set_index("tag").loc["complaint", "agreement"] == 1.0
    dashboard = lena.get("/dashboard").text
    assert (
        "Do reviewers agree with the machine?" in dashboard
        and "Caller made a complaint" in dashboard
    )


def test_review_form_rejects_values_outside_the_taxonomy(env: Env) -> None:
    lena = env.client("lena")
    call = env.built.flagged[0]
    assert (
        _review(lena, call, action="reviewed", corrected_primary_reason="../../x").status_code
        == 400
    )
    assert _review(lena, call, action="delete").status_code == 400
    assert _review(lena, "no-such-call", action="save").status_code == 404


def test_admin_manages_users_and_shares_packs(env: Env) -> None:
    ada = env.client("ada")
    token = csrf_of(ada, "/admin/users")
    short = ada.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "name": "zoe",
            "role": "scrutiny",
            "password": "short",
            "confirm": "short",
        },
    )
    assert short.status_code == 400 and "at least 12 characters" in short.text
    made = ada.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "name": "zoe",
            "role": "scrutiny",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert made.status_code == 303
    self_demote = ada.post(
        f"/admin/users/{env.user_ids['ada']}",
        data={"csrf_token": token, "role": "scrutiny", "active": "on"},
    )
    assert self_demote.status_code == 400
    folder = ada.post(
        "/admin/packs", data={"csrf_token": token, "name": "Bad", "folder": "relative/path"}
    )
    assert folder.status_code == 400 and "no folder relative/path" in folder.text
    ids = ada.post(
        "/admin/packs",
        data={"csrf_token": token, "name": "By id", "call_ids": env.built.call_ids[0]},
    )
    assert ids.status_code == 303
    with env.app.state.sessionmaker() as db:
        zoe = next(e for e in db.scalars(select(AuditEntry)) if e.action == "user_added")
        assert zoe.target == "zoe"
        pack_id = max(g.pack_id for g in db.scalars(select(PackGrant))) + 1
    assert (
        ada.post(
            f"/admin/packs/{pack_id}/grants",
            data={"csrf_token": token, "user_id": str(env.user_ids["lena"])},
        ).status_code
        == 400
    )
    assert (
        ada.post(
            f"/admin/packs/{pack_id}/grants",
            data={"csrf_token": token, "user_id": str(env.user_ids["sid"])},
        ).status_code
        == 303
    )
    sid = env.client("sid")
    assert sid.get(f"/scrutiny/packs/{pack_id}").status_code == 200
    assert sid.get(f"/scrutiny/packs/{pack_id}/calls/1").status_code == 200
    assert sid.get(f"/scrutiny/packs/{pack_id}/calls/1/audio").status_code == 404
    assert sid.get(f"/scrutiny/packs/{env.pack_id}").status_code == 403


def test_migrations_run_on_start_and_are_idempotent(built: BuiltOutput, db_url: str) -> None:
    for _ in range(2):
        app = create_app(built.out_dir, db_url, built.recordings_dir, **app_options(built))
        app.state.engine.dispose()
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {
        "users",
        "packs",
        "pack_calls",
        "pack_grants",
        "reviews",
        "review_tags",
        "audit_log",
        "sessions",
        "listens",
        "login_throttle",
        "assignments",
    } <= tables


def test_add_user_for_the_cli(db_url: str) -> None:
    add_user(db_url, "clara", "quality_lead", PASSWORD)
    with pytest.raises(CallQAError, match="already exists"):
        add_user(db_url, "clara", "admin", PASSWORD)
    with pytest.raises(CallQAError, match="Role must be"):
        add_user(db_url, "dave", "superuser", PASSWORD)
    with pytest.raises(CallQAError, match="at least"):
        add_user(db_url, "dave", "admin", "short")


def test_default_database_lives_under_out_and_keys_apart(built: BuiltOutput) -> None:
    options = app_options(built)
    app = create_app(built.out_dir, None, built.recordings_dir, **options)
    app.state.engine.dispose()
    key = options["state_dir"] / "session.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_bytes()
    create_app(built.out_dir, None, None, **options).state.engine.dispose()
    assert key.read_bytes() == first  # made once, then reused
    assert (built.out_dir / ".callqa" / "review.sqlite").exists()
    assert not (built.out_dir / ".callqa" / "review_secret.key").exists()


def test_pages_work_before_any_nightly_output(tmp_path: Path, db_url: str) -> None:
    from review_helpers import password_hash

    from review.db import User

    app = create_app(tmp_path / "empty", db_url, None, state_dir=tmp_path / "state")
    with app.state.sessionmaker() as db:
        db.add(User(name="lena", role="quality_lead", password_hash=password_hash(), active=True))
        db.commit()
    from fastapi.testclient import TestClient
    from review_helpers import login

    client = TestClient(app, follow_redirects=False)
    assert login(client, "lena").status_code == 303
    for path in ("/queue", "/agents", "/dashboard"):
        assert client.get(path).status_code == 200, path
    assert client.get("/calls/x").status_code == 404
    app.state.engine.dispose()
