"""Run health: the record each nightly run leaves in `runs/`, and how the last night went.

A night is `failed` when it stopped with an error (the call log could not be read, the models
are missing, the output could not be written: `error_stage` says at which step) or when it
drew calls and could score none of them (the recordings folder is not mounted, say). A night
where some calls fail (an unreadable recording) is `completed`: those calls are in `failures/`.
IT is emailed about a failed night, and about a completed one whose failed calls are more than
`alert_failed_ratio` of those drawn (pipeline/notify.py, `send_run_alert`).

A re-run of a night adds its own row beside the earlier ones (the partition is rewritten with
both), so a failed attempt stays on record after the night is run again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import store

__all__ = ["RunHealth", "RunRecord", "needs_alert", "read_runs", "record_run", "run_health"]


@dataclass(frozen=True)
class RunRecord:
    """One run of the nightly screening, as `runs/` stores it."""

    call_date: date
    run_id: str
    started_at: datetime
    finished_at: datetime
    state: str  # "completed" or "failed"
    drawn: int
    scored: int
    failed: int
    #: Per-call failures counted by stage, most first: (("recording", 2), ("transcribe", 1)).
    failures: tuple[tuple[str, int], ...] = ()
    error_stage: str | None = None
    error: str | None = None

    @classmethod
    def from_night(
        cls,
        *,
        call_date: date,
        run_id: str,
        started_at: datetime,
        finished_at: datetime,
        drawn: int,
        scored: int,
        failures: Iterable[Mapping[str, object]],
        error_stage: str | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """A run's record from what it did: failed when it stopped with an error, or when it
        drew calls and scored none."""
        stages = Counter(str(f.get("stage") or "unknown") for f in failures)
        failed = sum(stages.values())
        if error is None and drawn > 0 and scored == 0:
            error_stage, error = "screen", f"none of the {drawn} calls drawn could be screened"
        return cls(
            call_date=call_date,
            run_id=run_id,
            started_at=started_at,
            finished_at=finished_at,
            state="failed" if error is not None else "completed",
            drawn=drawn,
            scored=scored,
            failed=failed,
            failures=tuple(sorted(stages.items(), key=lambda kv: (-kv[1], kv[0]))),
            error_stage=error_stage,
            error=error,
        )

    def row(self) -> dict[str, object]:
        row = asdict(self)
        row["failures"] = [{"stage": s, "calls": n} for s, n in self.failures]
        return row


def needs_alert(record: RunRecord, alert_failed_ratio: float) -> bool:
    """Whether IT should hear of this run: it failed, or too many of its calls did."""
    if record.state == "failed":
        return True
    return record.drawn > 0 and record.failed / record.drawn > alert_failed_ratio


def record_run(out: Path, record: RunRecord) -> Path:
    """Add `record` to its night's partition of `runs/` (replacing a row of the same run)."""
    earlier = store.read_table(out, store.RUNS, start=record.call_date, end=record.call_date)
    rows = [
        {**r, "failures": [dict(f) for f in r["failures"]]}
        for r in earlier.to_dict("records")
        if r["run_id"] != record.run_id
    ]
    return store.write_partition(out, store.RUNS, record.call_date, [*rows, record.row()])


def read_runs(out: Path) -> pd.DataFrame:
    """Every recorded run, oldest first."""
    runs = store.read_table(out, store.RUNS)
    return runs.sort_values(["started_at", "run_id"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class RunHealth:
    """How the nightly screening stands on `today`: its latest run and whether last night ran."""

    expected_night: date
    last: RunRecord | None
    #: No run is recorded for the night before `today` (the scheduled run did not happen).
    missing: bool

    @property
    def failed(self) -> bool:
        return self.last is not None and self.last.state == "failed"


def _record(row: dict[str, Any]) -> RunRecord:
    failures = row.get("failures")
    return RunRecord(
        call_date=pd.Timestamp(row["call_date"]).date(),
        run_id=str(row["run_id"]),
        started_at=pd.Timestamp(row["started_at"]).to_pydatetime(),
        finished_at=pd.Timestamp(row["finished_at"]).to_pydatetime(),
        state=str(row["state"]),
        drawn=int(row["drawn"]),
        scored=int(row["scored"]),
        failed=int(row["failed"]),
        failures=tuple(
            (str(f["stage"]), int(f["calls"])) for f in (failures if failures is not None else [])
        ),
        error_stage=None if pd.isna(row.get("error_stage")) else str(row["error_stage"]),
        error=None if pd.isna(row.get("error")) else str(row["error"]),
    )


def run_health(runs: pd.DataFrame, today: date) -> RunHealth:
    """The latest run of the latest night recorded, and whether the night before `today` has
    a run at all (`runs` as `read_runs` gives it)."""
    expected = today - timedelta(days=1)
    if runs.empty:
        return RunHealth(expected_night=expected, last=None, missing=True)
    nights = pd.to_datetime(runs["call_date"]).dt.date
    latest = runs.assign(night=nights).sort_values(["night", "started_at"], kind="stable")
    last = _record(latest.iloc[-1].to_dict())
    return RunHealth(expected_night=expected, last=last, missing=not (nights == expected).any())
