"""pipeline/retention.py on real partitions (store.write_partition) and cache files in tmp_path.

Time is a parameter (`today`); a cache entry's age is its file's modification time, set with
os.utime as the nightly run would have left it on that day.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from pipeline import store
from pipeline.config import Settings
from pipeline.retention import (
    CACHE_DIR,
    Purged,
    purge_expired,
    purge_restricted,
    purge_transcript_cache,
)

TODAY = date(2025, 7, 1)


def _turn(call_id: str, text: str) -> dict[str, object]:
    return {
        "call_id": call_id,
        "turn": 0,
        "speaker": "caller",
        "start_s": 0.0,
        "end_s": 1.0,
        "text": text,
        "confidence": 0.9,
        "words": [],
        "pii": [],
        "speaker_confidence": 1.0,
    }


def _restricted(out: Path, nights: list[date]) -> None:
    for night in nights:
        rows = [_turn(f"{night}-{i}", "my name is Jane Smith") for i in range(3)]
        store.write_partition(out, store.RESTRICTED, night, rows)


def _cache_entry(out: Path, name: str, written: date) -> Path:
    path = out / CACHE_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"file": f"/rec/{name}.wav", "turns": []}))
    stamp = datetime(written.year, written.month, written.day, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_defaults_and_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (
        settings.keep_restricted_days,
        settings.keep_transcript_cache_days,
        settings.keep_review_notes_days,
        settings.keep_audit_days,
    ) == (90, 30, 365, 730)
    monkeypatch.setenv("CALLQA_KEEP_RESTRICTED_DAYS", "0")
    monkeypatch.setenv("CALLQA_KEEP_AUDIT_DAYS", "3650")
    settings = Settings()
    assert settings.keep_restricted_days == 0 and settings.keep_audit_days == 3650
    with pytest.raises(ValueError):
        Settings(keep_transcript_cache_days=-1)


def test_restricted_partitions_past_the_period_go_and_the_rest_stay(tmp_path: Path) -> None:
    cutoff = TODAY - timedelta(days=90)
    nights = [cutoff - timedelta(days=40), cutoff - timedelta(days=1), cutoff, TODAY]
    _restricted(tmp_path, nights)
    purged = purge_restricted(tmp_path, today=TODAY, keep_days=90)
    assert purged == Purged(
        "restricted",
        files=2,
        rows=6,
        kept_days=90,
        cutoff=cutoff,
        oldest=nights[0],
        newest=nights[1],
    )
    assert store.partition_dates(tmp_path, store.RESTRICTED) == [cutoff, TODAY]
    assert set(store.read_table(tmp_path, store.RESTRICTED)["call_date"]) == {cutoff, TODAY}
    # Run again: nothing more to purge.
    assert purge_restricted(tmp_path, today=TODAY, keep_days=90).files == 0


def test_keep_zero_keeps_for_ever(tmp_path: Path) -> None:
    _restricted(tmp_path, [date(2001, 1, 1)])
    _cache_entry(tmp_path, "a", date(2001, 1, 1))
    assert purge_restricted(tmp_path, today=TODAY, keep_days=0) == Purged("restricted", kept_days=0)
    assert purge_transcript_cache(tmp_path, today=TODAY, keep_days=0).files == 0
    assert store.partition_dates(tmp_path, store.RESTRICTED) == [date(2001, 1, 1)]
    assert (tmp_path / CACHE_DIR / "a.json").exists()


def test_cache_entries_go_by_the_day_they_were_written(tmp_path: Path) -> None:
    old = _cache_entry(tmp_path, "old", TODAY - timedelta(days=31))
    edge = _cache_entry(tmp_path, "edge", TODAY - timedelta(days=30))
    new = _cache_entry(tmp_path, "new", TODAY)
    purged = purge_transcript_cache(tmp_path, today=TODAY, keep_days=30)
    assert (purged.files, purged.oldest, purged.cutoff) == (
        1,
        TODAY - timedelta(days=31),
        TODAY - timedelta(days=30),
    )
    assert not old.exists() and edge.exists() and new.exists()


def test_purge_expired_logs_every_place_without_personal_data(tmp_path: Path) -> None:
    _restricted(tmp_path, [date(2025, 1, 2), date(2025, 6, 30)])
    _cache_entry(tmp_path, "old", date(2025, 1, 2))
    seen: list[date] = []

    def review(today: date) -> list[Purged]:
        seen.append(today)
        return [Purged("review_notes", rows=2, kept_days=365), Purged("audit_log", kept_days=730)]

    purged = purge_expired(
        tmp_path,
        today=TODAY,
        keep_restricted_days=90,
        keep_transcript_cache_days=30,
        run_id="run-1",
        review=review,
    )
    assert seen == [TODAY]
    assert [p.what for p in purged] == [
        "restricted",
        "transcript_cache",
        "review_notes",
        "audit_log",
    ]
    log = store.read_table(tmp_path, store.PURGES)
    assert list(log.columns) == store.PURGES.columns
    assert log["what"].tolist() == ["restricted", "transcript_cache", "review_notes", "audit_log"]
    assert log["files"].tolist() == [1, 1, 0, 0] and log["rows"].tolist() == [3, 1, 2, 0]
    assert set(log["call_date"]) == {TODAY} and set(log["kind"]) == {"retention"}
    text = log.to_json()
    assert "Jane" not in text and "/rec/" not in text
    # A second purge the same day adds to the day's log instead of replacing it.
    purge_expired(
        tmp_path,
        today=TODAY,
        keep_restricted_days=90,
        keep_transcript_cache_days=30,
        run_id="run-2",
    )
    again = store.read_table(tmp_path, store.PURGES)
    assert again["run_id"].tolist() == ["run-1"] * 4 + ["run-2"] * 2
    assert again["files"].tolist()[4:] == [0, 0]
    # The log is one of `callqa sql`'s tables.
    got = store.query_output(tmp_path, "SELECT what, sum(rows) AS n FROM purges GROUP BY 1")
    assert dict(zip(got["what"], got["n"], strict=True))["restricted"] == 3
