"""Nights written by an older callqa, before some scorecard columns existed, still read."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
from builder import BuiltOutput

from pipeline import store
from review.data import OutputStore

#: Scorecard columns added after the first release (issue 15: safeguarding and council tags).
ADDED_LATER = ("vulnerability", "safeguarding", "qa_checks", "tags")


def test_a_night_without_later_columns_reads_as_none_of_them(built: BuiltOutput) -> None:
    night = date.fromisoformat(built.dates[0])
    part = store.partition_folder(built.out_dir, store.SCORECARDS, night) / "part-0.parquet"
    older = pq.read_table(part)
    pq.write_table(older.drop_columns(list(ADDED_LATER)), part)
    older_ids = set(older.column("call_id").to_pylist())

    output = OutputStore(built.out_dir, built.recordings_dir, refresh_s=0)
    calls = output.calls()
    rows = calls[calls["call_id"].isin(older_ids)]
    assert len(rows) == len(older_ids) > 0
    assert rows["vulnerability"].map(len).eq(0).all()
    assert not rows["safeguarding"].any()
    assert rows["tags"].map(len).eq(0).all() and rows["qa_checks"].map(len).eq(0).all()
    # The other nights keep their values, and the queue still builds over all of them.
    assert calls.loc[~calls["call_id"].isin(older_ids), "qa_checks"].map(len).gt(0).all()
    queued = set(output.queue_view().calls["call_id"])
    assert queued and queued <= set(calls["call_id"])
    assert output.call(next(iter(older_ids))) is not None
