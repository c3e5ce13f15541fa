"""`callqa subject-access` on a real night (conftest `sample_night`: the real nightly flow on
sample_data), a real scrutiny pack (`callqa scrutiny-sample`) and a real, migrated review
database; erasures run on a copy of the night.

The caller is one whose call the night screened; the number is typed in another format than
the call log's, so the test also shows the hashing matches the call-log reader's.
"""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import HASH_KEY, SAMPLE_CALLS, SAMPLE_RECORDINGS
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from callqa.cli import app
from pipeline import store
from pipeline.report import monthly_estimates
from pipeline.retention import CACHE_DIR
from pipeline.rights import ERASED_PAGE
from review.data import OutputStore
from review.db import (
    AuditEntry,
    Pack,
    PackCall,
    Review,
    ReviewTag,
    default_db_url,
    make_engine,
    migrate,
)
from review.export import export_reviews

pytestmark = pytest.mark.timeout(600)
runner = CliRunner()
ENV = {"CALLQA_CALLER_HASH_KEY": HASH_KEY.decode()}
NIGHT = date(2025, 3, 31)


def _other_format(number: str) -> str:
    """The same number written the other way: '0113 496 0145' <-> '+44 (0)113-4960145'."""
    digits = re.sub(r"\D", "", number)
    national = (digits[2:] if digits.startswith("44") else digits).lstrip("0")
    if number.strip().startswith("+"):
        return f"0{national[:4]} {national[4:]}"
    return f"+44 (0){national[:3]}-{national[3:]}"


@pytest.fixture(scope="module")
def caller(sample_night):  # type: ignore[no-untyped-def]
    """(out, number as typed, caller_hash, call_ids of the caller that night, screened call)."""
    out = sample_night[0]
    cards = store.read_table(out, store.SCORECARDS)
    samples = store.read_table(out, store.SAMPLES)
    census = store.read_table(out, store.CENSUS)
    log = pd.read_csv(SAMPLE_CALLS, dtype=str, keep_default_na=False).set_index("call_id")
    screened = samples[samples["call_id"].isin(cards["call_id"]) & samples["caller_hash"].notna()]
    call_id = screened["call_id"].iloc[0]
    hashed = screened["caller_hash"].iloc[0]
    ids = sorted(census.loc[census["caller_hash"] == hashed, "call_id"])
    return out, _other_format(log.loc[call_id, "caller_number"]), hashed, ids, call_id


@pytest.fixture
def copy(caller, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A copy of the night to erase from, with a review database and a scrutiny pack."""
    out = tmp_path / "out"
    shutil.copytree(caller[0], out)
    engine = make_engine(default_db_url(out))
    migrate(engine)
    with Session(engine) as db:
        db.add(
            Review(
                call_id=caller[4],
                reviewer="lena",
                reviewed=True,
                notes="caller mentioned her daughter's school",
                tags=[ReviewTag(tag="avoidable", machine_value="true", agree=True)],
            )
        )
        db.add(
            AuditEntry(user_name="lena", role="quality_lead", action="view_call", target=caller[4])
        )
        db.add(Review(call_id="someone-else", reviewer="lena", reviewed=True, notes="keep me"))
        db.commit()
        export_reviews(db, OutputStore(out, SAMPLE_RECORDINGS))
    engine.dispose()
    pack = tmp_path / "pack"
    result = runner.invoke(
        app,
        [
            "scrutiny-sample", "--out", str(out), "--recordings", str(SAMPLE_RECORDINGS),
            "--from", str(NIGHT), "--to", str(NIGHT), "--size", "50", "--pack", str(pack),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Registered in the review app, as an admin would: erasure finds it without --pack.
    paged = store.read_file(pack / store.PACK_FILE, store.SCRUTINY_PACK)
    engine = make_engine(default_db_url(out))
    with Session(engine) as db:
        db.add(
            Pack(
                name="March panel",
                folder=str(pack),
                created_by="ada",
                calls=[PackCall(call_id=c) for c in paged["call_id"]],
            )
        )
        db.commit()
    engine.dispose()
    return out, pack


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["subject-access", *args], env=ENV)
    return result.exit_code, result.output + (str(result.exception or ""))


def test_the_nightly_run_purged_and_logged_without_touching_its_own_night(caller) -> None:  # type: ignore[no-untyped-def]
    out = caller[0]
    log = store.read_table(out, store.PURGES)
    assert set(log["kind"]) == {"retention"}
    assert set(log["call_date"]) == {NIGHT + timedelta(days=1)}
    assert {"restricted", "transcript_cache"} <= set(log["what"])
    assert log["rows"].sum() == 0
    assert store.partition_dates(out, store.RESTRICTED) == [NIGHT]


def test_lists_every_call_and_output_of_the_caller(caller) -> None:  # type: ignore[no-untyped-def]
    out, number, hashed, ids, screened = caller
    code, text = _run("--out", str(out), "--number", number, "--csv")
    assert code == 0, text
    places = pd.read_csv(pd.io.common.StringIO(text), dtype=str)
    assert set(places.loc[places["place"] == "census", "call_id"]) == set(ids)
    listed = set(places.loc[places["call_id"] == screened, "place"])
    assert {
        "samples",
        "census",
        "scorecards",
        "transcripts",
        "restricted",
        "transcript_cache",
    } <= listed
    assert set(places["call_id"].dropna()) <= set(ids)
    # Neither the number nor its hash is ever printed.
    digits = re.sub(r"\D", "", number)[-10:]
    assert digits not in re.sub(r"\D", "", text.replace(screened, ""))
    assert hashed not in text


def test_erase_removes_personal_data_and_keeps_the_statistics(caller, copy) -> None:  # type: ignore[no-untyped-def]
    _, number, hashed, ids, screened = caller
    out, pack = copy
    before = {t: store.read_table(out, t) for t in (store.SCORECARDS, store.SAMPLES, store.CENSUS)}
    cache_before = sorted((out / CACHE_DIR).glob("*.json"))

    code, text = _run("--out", str(out), "--number", number, "--pack", str(pack), "--csv")
    assert code == 0, text
    assert {"pack", "reviews_export"} <= set(pd.read_csv(pd.io.common.StringIO(text))["place"])
    code, text = _run(
        "--out", str(out), "--number", number, "--erase", "--yes", "--reference", "SAR-2025-17",
    )  # fmt: skip
    assert code == 0, text
    assert "Erased" in text and hashed not in text

    # What the caller said and their voice are gone.
    for table in (store.RESTRICTED, store.TRANSCRIPTS):
        assert not store.read_table(out, table)["call_id"].isin(ids).any()
    cards = store.read_table(out, store.SCORECARDS)
    mine = cards["call_id"].isin(ids)
    assert all(len(e) == 0 for e in cards.loc[mine, "evidence"])
    assert cards.loc[mine, "recording"].isna().all()
    assert len(list((out / CACHE_DIR).glob("*.json"))) == len(cache_before) - 1
    manifest = store.read_file(pack / store.PACK_FILE, store.SCRUTINY_PACK)
    row = manifest[manifest["call_id"] == screened].iloc[0]
    assert pd.isna(row["audio"]) and (pack / row["page"]).read_text() == ERASED_PAGE
    assert not list(pack.glob(str(row["page"]).removesuffix(".html") + ".*[!l]"))
    # The link to the number is cut.
    for table in (store.SAMPLES, store.CENSUS):
        after = store.read_table(out, table)
        assert not (after["caller_hash"] == hashed).any()
        assert after.loc[~after["call_id"].isin(ids), "caller_hash"].equals(
            before[table].loc[~before[table]["call_id"].isin(ids), "caller_hash"]
        )
    # The statistics are untouched: same rows, weights, tags, and the same monthly estimates.
    keep = ["call_id", "weight", "inclusion_prob", "primary_reason", "avoidable", "qa_score"]
    pd.testing.assert_frame_equal(cards[keep], before[store.SCORECARDS][keep])
    estimates = [
        monthly_estimates(
            store.read_table(out, store.SCORECARDS) if after else before[store.SCORECARDS],
            store.read_table(out, store.SAMPLES) if after else before[store.SAMPLES],
            store.read_table(out, store.CENSUS) if after else before[store.CENSUS],
            month="2025-03",
        )
        for after in (False, True)
    ]
    pd.testing.assert_frame_equal(estimates[0], estimates[1])
    # The review notes are emptied; the verdict rows and other callers' notes stay.
    engine = make_engine(default_db_url(out))
    with Session(engine) as db:
        notes = {r.call_id: r.notes for r in db.scalars(select(Review))}
        assert notes == {screened: "", "someone-else": "keep me"}
        rights = db.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(["subject_access", "subject_erasure"]))
        ).all()
        assert {a.action for a in rights} == {"subject_access", "subject_erasure"}
        assert {a.target for a in rights} == {"", "SAR-2025-17"}
        for entry in rights:
            assert hashed not in entry.detail and re.sub(r"\D", "", number)[-6:] not in entry.detail
    engine.dispose()
    # The erasure is logged: counts and dates, the reference, never the number or hash.
    log = store.read_table(out, store.PURGES)
    erased = log[log["kind"] == "erasure"].set_index("what")
    assert set(erased["reference"]) == {"SAR-2025-17"}
    assert erased.loc["restricted", "rows"] > 0 and erased.loc["review_notes", "rows"] == 1
    assert erased.loc["census", "rows"] == len(ids)
    assert hashed not in log.to_json()
    # Asking again finds nothing: the number no longer leads anywhere.
    code, text = _run("--out", str(out), "--number", number, "--csv")
    assert code == 0 and not set(pd.read_csv(pd.io.common.StringIO(text))["place"]) - {"review_db"}


def test_the_number_can_be_typed_at_a_hidden_prompt(caller) -> None:  # type: ignore[no-untyped-def]
    out, number, _, ids, _ = caller
    result = runner.invoke(
        app, ["subject-access", "--out", str(out), "--csv"], input=number + "\n", env=ENV
    )
    assert result.exit_code == 0, result.output
    assert number not in result.output
    assert set(ids) <= set(
        pd.read_csv(pd.io.common.StringIO(result.stdout.split(":", 1)[1]))["call_id"]
    )


def test_refuses_a_non_number_and_a_missing_key_without_echoing(caller, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = caller[0]
    for bad in ("withheld", "0113 49"):
        code, text = _run("--out", str(out), "--number", bad)
        assert code != 0 and "not a phone number" in text
    assert "0113 49" not in text
    result = runner.invoke(
        app, ["subject-access", "--out", str(tmp_path), "--number", "0113 496 0145"]
    )
    assert result.exit_code != 0 and "no caller-hash key" in str(result.exception)
    assert not (tmp_path / ".callqa").exists()
