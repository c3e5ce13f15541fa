"""review/retention.py on a real, migrated review database (SQLite, and PostgreSQL when installed).

Rows are dated by their own columns (`created_at`, `at`); `today` is a parameter.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import store
from pipeline.errors import CallQAError
from pipeline.retention import purge_expired
from review.db import AuditEntry, CoachingEntry, Review, ReviewTag, make_engine, migrate
from review.retention import (
    audit_rights_request,
    erase_review_notes,
    purge_review_rows,
    review_db_for,
    review_holdings,
    review_purger,
)

TODAY = date(2025, 7, 1)


def _at(days_ago: int) -> datetime:
    return datetime(TODAY.year, TODAY.month, TODAY.day, 9, tzinfo=UTC) - timedelta(days=days_ago)


def _fill(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with Session(engine) as db:
        for call_id, days_ago in (("old", 400), ("edge", 364), ("new", 1)):
            review = Review(
                call_id=call_id,
                reviewer="lena",
                created_at=_at(days_ago),
                reviewed=True,
                notes=f"caller said her son is ill ({call_id})",
                corrected_primary_reason="council_tax",
            )
            review.tags = [ReviewTag(tag="avoidable", machine_value="true", agree=False)]
            db.add(review)
        for agent, days_ago in (("A1", 400), ("A2", 364)):
            db.add(
                CoachingEntry(
                    agent_id=agent, author="lena", held_on=_at(days_ago).date(),
                    created_at=_at(days_ago), discussed="talked about her bereavement",
                    agreed_actions="shadow a colleague", acknowledged=True,
                )
            )  # fmt: skip
        for days_ago in (800, 731, 729, 0):
            db.add(
                AuditEntry(
                    at=_at(days_ago), user_name="lena", role="quality_lead", action="view_call",
                    target="old" if days_ago == 0 else "new", ip="", detail="",
                )
            )  # fmt: skip
        db.commit()
    engine.dispose()


def test_old_notes_are_emptied_verdicts_kept_and_old_audit_rows_deleted(db_url: str) -> None:
    _fill(db_url)
    notes, coaching, audit = purge_review_rows(
        db_url, TODAY, keep_review_notes_days=365, keep_audit_days=730
    )
    assert (notes.what, notes.rows, notes.cutoff) == ("review_notes", 1, TODAY - timedelta(365))
    assert notes.oldest == notes.newest == _at(400).date()
    assert (coaching.what, coaching.rows, coaching.oldest) == ("coaching_notes", 1, _at(400).date())
    assert (audit.what, audit.rows, audit.oldest, audit.newest) == (
        "audit_log",
        2,
        _at(800).date(),
        _at(731).date(),
    )
    engine = make_engine(db_url)
    with Session(engine) as db:
        reviews = {r.call_id: r for r in db.scalars(select(Review))}
        assert reviews["old"].notes == ""
        assert reviews["edge"].notes and reviews["new"].notes
        # The verdicts behind the agreement figures stay.
        assert reviews["old"].corrected_primary_reason == "council_tax"
        assert [t.agree for t in reviews["old"].tags] == [False]
        assert len(db.scalars(select(AuditEntry)).all()) == 2
        coached = {c.agent_id: c for c in db.scalars(select(CoachingEntry))}
        assert (coached["A1"].discussed, coached["A1"].agreed_actions) == ("", "")
        assert coached["A1"].acknowledged and coached["A1"].held_on == _at(400).date()
        assert coached["A2"].discussed
    engine.dispose()
    # Nothing left to purge; 0 days keeps everything.
    again = purge_review_rows(db_url, TODAY, keep_review_notes_days=365, keep_audit_days=730)
    assert [p.rows for p in again] == [0, 0, 0]
    forever = purge_review_rows(
        db_url, date(2099, 1, 1), keep_review_notes_days=0, keep_audit_days=0
    )
    assert [p.rows for p in forever] == [0, 0, 0]


def test_the_nightly_purge_logs_the_review_share(db_url: str, tmp_path: Path) -> None:
    _fill(db_url)
    review = review_purger(tmp_path, db_url, keep_review_notes_days=365, keep_audit_days=730)
    assert review is not None
    purge_expired(
        tmp_path,
        today=TODAY,
        keep_restricted_days=90,
        keep_transcript_cache_days=30,
        run_id="r",
        review=review,
    )
    log = store.read_table(tmp_path, store.PURGES).set_index("what")
    assert log.loc["review_notes", "rows"] == 1 and log.loc["audit_log", "rows"] == 2
    assert "son is ill" not in log.to_json()


def test_holdings_erasure_and_the_rights_audit_row(db_url: str) -> None:
    _fill(db_url)
    held = review_holdings(db_url, ["old", "new", "someone-else"])
    assert (held.reviews, held.reviews_with_notes) == (2, 2)
    assert [a[3] for a in held.audit] == ["new", "new", "new", "old"]
    assert erase_review_notes(db_url, ["old", "new"]) == 2
    assert review_holdings(db_url, ["old", "new"]).reviews_with_notes == 0
    audit_rights_request(db_url, "subject_erasure", "SAR-17", "2 calls; notes emptied on 2 reviews")
    engine = make_engine(db_url)
    with Session(engine) as db:
        row = db.scalars(select(AuditEntry).where(AuditEntry.action == "subject_erasure")).one()
        assert (row.role, row.target) == ("cli", "SAR-17")
    engine.dispose()


def test_no_database_means_nothing_to_purge_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    assert review_db_for(tmp_path, None) is None
    assert review_purger(tmp_path, None, keep_review_notes_days=1, keep_audit_days=1) is None
    empty = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(CallQAError, match="not a review database"):
        purge_review_rows(empty, TODAY, keep_review_notes_days=1, keep_audit_days=1)
